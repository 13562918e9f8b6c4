// lares compact: summarise the oldest messages now (nothing is deleted).
import type { Command } from 'commander';
import { createDirectRuntime } from '../app/direct-runtime.ts';
import { action, printJson } from './run.ts';
import { loadCommandConfig } from './context-helpers.ts';

export function registerCompactCommand(program: Command): void {
  program.command('compact')
    .description('Summarise the oldest messages now, down to TARGET_AFTER_COMPACT × CONTEXT_LIMIT. Messages are kept (marked compacted) and stay searchable.')
    .option('--json', 'print JSON')
    .action(action(async (options: { json?: boolean }) => {
      const config = loadCommandConfig({ quiet: false });
      const runtime = await createDirectRuntime(config);
      try {
        const result = await runtime.orchestrator.compactNow();
        const answer = result
          ? { compacted: result.messagesCompacted, summaries: result.summaries.map((s) => s.id), tokensBefore: result.tokensBefore, tokensAfter: result.tokensAfter }
          : { compacted: 0, summaries: [], reason: 'the history is already at or below the target, or only the newest exchange remains' };
        if (options.json) return printJson(answer);
        process.stdout.write(result
          ? `Compacted ${result.messagesCompacted} messages into ${result.summaries.length} summary step(s): about ${result.tokensBefore} → ${result.tokensAfter} tokens.\n`
          : `Nothing to compact: ${answer.reason}.\n`);
      } finally {
        await runtime.close();
      }
    }));
}
