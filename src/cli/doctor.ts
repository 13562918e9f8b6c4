// lares doctor: checks the installation and says how to fix what is wrong.
import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { errorMessage } from '../errors.ts';
import { createLogger, setLogger } from '../log.ts';
import { formatDoctorReport, runDoctor, type DoctorReport } from '../ops/doctor.ts';
import { action, printJson } from './run.ts';

export function registerDoctorCommand(program: Command): void {
  program.command('doctor')
    .description('Check the installation: configuration, data directory, database, the model providers (Anthropic key; OpenAI-compatible server; Ollama: model pulled, context size, tool support), Letta, MCP server, approval queue and Discord. Exits 0 only when every required check passes.')
    .option('--live', 'also make one cheap real request to each paid provider (Anthropic: a free count_tokens; OpenAI-compatible: a 5-token completion)')
    .option('--json', 'print {ok, mode, memory, checks: [{id, status, required, message, fix}]}')
    .option('--timeout <ms>', 'per network check', (v) => Number(v), 5000)
    .action(action(async (options: { live?: boolean; json?: boolean; timeout: number }) => {
      setLogger(createLogger({ level: 'silent' }));
      let report: DoctorReport;
      try {
        const config = loadConfig();
        report = await runDoctor(config, { live: options.live, timeoutMs: Number.isFinite(options.timeout) && options.timeout > 0 ? options.timeout : 5000 });
      } catch (error) {
        // a bad configuration is itself the finding: report it like any other check
        report = { ok: false, mode: 'direct', memory: 'sqlite', checks: [{ id: 'config', status: 'fail', required: true, message: errorMessage(error), fix: 'fix the variables named above in .env or the EnvironmentFile' }] };
      }
      if (options.json) printJson(report);
      else process.stdout.write(formatDoctorReport(report));
      process.exitCode = report.ok ? 0 : 1;
    }));
}
