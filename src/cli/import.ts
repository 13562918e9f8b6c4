// lares import FILE: reads a `lares export` file into an empty store (ids kept, one transaction).
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { LaresError } from '../errors.ts';
import { openStore } from '../memory/open-store.ts';
import { importStore, readExportFile } from '../ops/import.ts';
import { loadCommandConfig } from './context-helpers.ts';
import { action, printJson } from './run.ts';

export function registerImportCommand(program: Command): void {
  program.command('import')
    .description('Import a `lares export` file (json or jsonl) into an EMPTY store; refuses a store that holds anything.')
    .argument('<file>', 'the export file, or - to read standard input (lares export | lares import -)')
    .option('--json', 'print the imported record counts as JSON')
    .action(action(async (file: string, options: { json?: boolean }) => {
      if (file !== '-' && !existsSync(file)) throw new LaresError('USAGE', `there is no file ${file}`);
      const config = loadCommandConfig({ quiet: true });
      const store = await openStore(config);
      try {
        const counts = await importStore(store, readExportFile(file), {
          onProgress: (kind, done) => { if (kind === 'message' && done % 50_000 < 2000) process.stderr.write(`imported ${done} messages\n`); },
        });
        if (options.json) return printJson(counts);
        process.stdout.write(`imported ${counts.message} messages, ${counts.summary} summaries, ${counts.block} blocks (${counts.block_version} versions), ${counts.passage} passages, ${counts.usage} usage records, ${counts.meta} meta values, ${counts.approval} approvals (${counts.event} events), ${counts.job} jobs, ${counts.allowlist} allowlist entries\n`);
      } finally {
        await store.close();
      }
    }));
}
