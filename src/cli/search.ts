// lares search <query>: hybrid recall over the whole history (compacted messages included):
// stemmed keywords fused with the embedder's vectors, best first, each hit with its neighbours.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { openEmbedder } from '../embeddings/open-embedder.ts';
import { openStore } from '../memory/open-store.ts';
import type { MessageRole } from '../memory/store.ts';
import { Recall, type MessageHit } from '../recall/recall.ts';
import { isoDate } from '../time.ts';
import { action, printJson } from './run.ts';
import { loadCommandConfig } from './context-helpers.ts';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

const ROLES = ['user', 'assistant', 'system'];

function role(value: string, previous: string[] = []): string[] {
  if (!ROLES.includes(value)) throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')}`);
  return [...previous, value];
}

function date(endOfDay: boolean) {
  return (value: string) => {
    try { return isoDate(value, endOfDay); } catch (error) { throw new InvalidArgumentError((error as Error).message); }
  };
}

interface SearchFlags { limit: number; role?: string[]; since?: string; until?: string; keywords?: boolean; json?: boolean }

export function registerSearchCommand(program: Command): void {
  program.command('search')
    .description('Search the whole conversation history (including compacted messages): keywords and meaning (LARES_EMBEDDER), best matches first, each with the turns around it.')
    .argument('<query...>', 'what to look for: a question or keywords')
    .option('--limit <n>', 'how many results', positiveInt, 10)
    .option('--role <role>', 'only this role: user, assistant or system (repeatable)', role)
    .option('--since <date>', 'only messages at or after this date (2026-01-31 or ISO 8601)', date(false))
    .option('--until <date>', 'only messages at or before this date', date(true))
    .option('--keywords', 'keywords only (no embeddings)')
    .option('--json', 'print [{id, role, content, created_at, score, compacted, source_ref, context}]')
    .addHelpText('after', '\nExamples:\n  lares search "when did I start the garden"\n  lares search tomatoes --role user --since 2026-05-01 --json')
    .action(action(async (words: string[], options: SearchFlags) => {
      const config = loadCommandConfig({ quiet: true });
      const store = await openStore(config);
      const embedder = options.keywords ? undefined : await openEmbedder(config);
      try {
        const recall = new Recall(store, embedder);
        const query = words.join(' ');
        const hits = await recall.searchMessages(query, { limit: options.limit, roles: options.role as MessageRole[] | undefined, startDate: options.since, endDate: options.until });
        if (options.json) return printJson(hits.map(toJson));
        if (hits.length === 0) process.stderr.write(`no messages match "${query}"\n`);
        for (const h of hits) process.stdout.write(formatHit(h));
      } finally {
        await embedder?.close?.();
        await store.close();
      }
    }));
}

function toJson(h: MessageHit) {
  return {
    id: h.id, role: h.role, content: h.content, created_at: h.createdAt, score: h.score, compacted: h.compacted, source_ref: h.sourceRef,
    context: { before: h.before.map(turnJson), after: h.after.map(turnJson) },
  };
}

function turnJson(t: MessageHit['before'][number]) {
  return { id: t.id, role: t.role, content: t.content, created_at: t.createdAt };
}

function formatHit(h: MessageHit): string {
  const preview = h.content.length > 300 ? `${h.content.slice(0, 300)}…` : h.content;
  const around = (turns: MessageHit['before']) => turns.map((t) => `    ${t.role}: ${t.content}\n`).join('');
  return `#${h.id}  ${h.createdAt}  ${h.role}${h.compacted ? '  (compacted)' : ''}\n${around(h.before)}  > ${preview.replace(/\n/g, '\n    ')}\n${around(h.after)}\n`;
}
