// lares search <query>: full-text search over the whole history, compacted messages included.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { openStore } from '../memory/open-store.ts';
import type { MessageRole } from '../memory/store.ts';
import { action, printJson } from './run.ts';
import { loadCommandConfig } from './context-helpers.ts';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

export function registerSearchCommand(program: Command): void {
  program.command('search')
    .description('Search the whole conversation history (including compacted messages), best matches first.')
    .argument('<query...>', 'words to look for')
    .option('--limit <n>', 'how many results', positiveInt, 10)
    .option('--role <role...>', 'only these roles: user, assistant, system')
    .option('--json', 'print [{id, role, content, created_at, score}]')
    .action(action(async (words: string[], options: { limit: number; role?: string[]; json?: boolean }) => {
      const config = loadCommandConfig({ quiet: true });
      const store = await openStore(config);
      try {
        const hits = await store.searchMessages(words.join(' '), { limit: options.limit, roles: options.role as MessageRole[] | undefined });
        if (options.json) {
          return printJson(hits.map((h) => ({ id: h.id, role: h.role, content: h.content, created_at: h.createdAt, score: h.score, compacted: h.compacted })));
        }
        if (hits.length === 0) process.stderr.write(`no messages match "${words.join(' ')}"\n`);
        for (const h of hits) {
          const preview = h.content.length > 300 ? `${h.content.slice(0, 300)}…` : h.content;
          process.stdout.write(`#${h.id}  ${h.createdAt}  ${h.role}${h.compacted ? '  (compacted)' : ''}\n  ${preview.replace(/\n/g, '\n  ')}\n\n`);
        }
      } finally {
        await store.close();
      }
    }));
}
