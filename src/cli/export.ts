// lares export [--format json|jsonl] [--out FILE]: the whole store in the documented export format.
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { Option, type Command } from 'commander';
import { openStore } from '../memory/open-store.ts';
import { exportStore, type ExportFileFormat } from '../ops/export.ts';
import { loadCommandConfig } from './context-helpers.ts';
import { action } from './run.ts';

export function registerExportCommand(program: Command): void {
  program.command('export')
    .description('Export memory blocks (with history), messages, summaries, passages, usage and meta (format: docs/export-format.md). Writes to stdout unless --out is given.')
    .addOption(new Option('--format <format>', 'json (one document) or jsonl (one record per line, streams)').choices(['json', 'jsonl']).default('jsonl'))
    .option('--out <file>', 'write to this file instead of stdout')
    .action(action(async (options: { format: ExportFileFormat; out?: string }) => {
      const config = loadCommandConfig({ quiet: true });
      const store = await openStore(config);
      try {
        if (!options.out) {
          const counts = await exportStore(store, process.stdout, { format: options.format });
          process.stderr.write(`exported ${counts.message} messages, ${counts.summary} summaries, ${counts.block} blocks (${counts.block_version} versions), ${counts.passage} passages, ${counts.approval} approvals (${counts.event} events), ${counts.job} jobs\n`);
          return;
        }
        // write a temporary file and rename it, so a failed export never looks complete
        const partial = `${options.out}.partial`;
        const file = createWriteStream(partial);
        try {
          const counts = await exportStore(store, file, { format: options.format });
          file.end();
          await finished(file);
          renameSync(partial, options.out);
          process.stderr.write(`exported ${counts.message} messages, ${counts.summary} summaries, ${counts.block} blocks (${counts.block_version} versions), ${counts.passage} passages, ${counts.approval} approvals (${counts.event} events), ${counts.job} jobs to ${options.out}\n`);
        } catch (error) {
          file.destroy();
          rmSync(partial, { force: true });
          throw error;
        }
      } finally {
        await store.close();
      }
    }));
}
