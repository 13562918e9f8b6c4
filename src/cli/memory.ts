// lares memory [label]: show the memory blocks (and their edit history).
import type { Command } from 'commander';
import { LaresError } from '../errors.ts';
import { ensureDefaultBlocks } from '../memory/default-blocks.ts';
import { openStore } from '../memory/open-store.ts';
import { action, printJson } from './run.ts';
import { loadCommandConfig } from './context-helpers.ts';

export function registerMemoryCommand(program: Command): void {
  program.command('memory')
    .description('Show Lares\'s memory blocks (persona, human, state, ideas...), or one block with --history.')
    .argument('[label]', 'only this block')
    .option('--history', 'also show every past version of the block(s), oldest first')
    .option('--json', 'print JSON')
    .action(action(async (label: string | undefined, options: { history?: boolean; json?: boolean }) => {
      const config = loadCommandConfig({ quiet: true });
      const store = await openStore(config);
      try {
        await ensureDefaultBlocks(store);
        const blocks = (await store.listBlocks()).filter((b) => !label || b.label === label);
        if (label && blocks.length === 0) {
          const labels = (await store.listBlocks()).map((b) => b.label).join(', ');
          throw new LaresError('USAGE', `there is no memory block "${label}" (blocks: ${labels})`, { exitCode: 1 });
        }
        const withHistory = await Promise.all(blocks.map(async (b) => ({ ...b, history: options.history ? await store.blockHistory(b.label) : undefined })));
        if (options.json) return printJson(withHistory);
        for (const b of withHistory) {
          process.stdout.write(`── ${b.label}  ${b.content.length}/${b.charLimit} chars${b.readOnly ? '  read-only' : ''}  updated ${b.updatedAt}\n`);
          process.stdout.write(`   ${b.description}\n${b.content}\n\n`);
          for (const v of b.history ?? []) process.stdout.write(`   · ${v.createdAt} by ${v.actor}: ${v.content.length} chars\n`);
        }
      } finally {
        await store.close();
      }
    }));
}
