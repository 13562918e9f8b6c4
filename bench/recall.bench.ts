// Recall on LoCoMo (issue: hybrid recall): the development split's five conversations as one
// history, each question searched with limit 10, recall@5 and @10 by the README's hit rule, for
// today's search (before this work: all words AND-ed, no stemming, then any word), keywords only,
// embeddings only, and hybrid, with the default embedder. Also the indexing rate.
// Run alone: node bench/recall.bench.ts   (LARES_EMBEDDER picks another embedder, as in Lares)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Embedder } from '../src/embeddings/embedder.ts';
import { createLogger, setLogger } from '../src/log.ts';
import { SqliteStore } from '../src/memory/sqlite/sqlite-store.ts';
import { RecallIndexer } from '../src/recall/indexer.ts';
import { Recall, type RecallMode } from '../src/recall/recall.ts';
import { CATEGORIES, isHit, loadLocomo, type LocomoQuestion } from './locomo.ts';

setLogger(createLogger({ level: 'silent', pretty: false }));

export interface RecallBenchOptions { embedder?: Embedder; path?: string }

type Tally = Record<string, { n: number; at5: number; at10: number }>;

function tally(questions: LocomoQuestion[], results: string[][]): Tally {
  const t: Tally = {};
  questions.forEach((q, i) => {
    const rank = results[i].findIndex((content) => q.evidence.some((e) => isHit(content, e)));
    for (const key of ['all', CATEGORIES[q.category]]) {
      t[key] ??= { n: 0, at5: 0, at10: 0 };
      t[key].n++;
      if (rank >= 0 && rank < 5) t[key].at5++;
      if (rank >= 0 && rank < 10) t[key].at10++;
    }
  });
  return t;
}

/** The search Lares had before hybrid recall: unicode61 full-text, all words AND-ed, else any word. */
function todaysSearch(store: SqliteStore, query: string): string[] {
  const words = [...new Set((query.match(/[\p{L}\p{N}_]+/gu) ?? []).map((w) => w.toLowerCase()))].map((w) => `"${w}"`);
  if (words.length === 0) return [];
  const run = (match: string) => (store.db.prepare(`SELECT m.content FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
    WHERE messages_fts MATCH ? ORDER BY bm25(messages_fts) LIMIT 10`).all(match) as Array<{ content: string }>).map((r) => r.content);
  const all = run(words.join(' AND '));
  return all.length > 0 ? all : run(words.join(' OR '));
}

export async function runRecallBench(options: RecallBenchOptions = {}): Promise<{ markdown: string; results: Record<string, Tally> }> {
  const set = loadLocomo(options.path);
  if (!set) return { markdown: '## Recall (LoCoMo)\n\nSkipped: ../shared/bench/locomo-dev/locomo-dev.json is not here.\n', results: {} };
  const embedder = options.embedder ?? (await defaultEmbedder());
  const dir = mkdtempSync(join(tmpdir(), 'lares-recall-bench-'));
  const store = new SqliteStore(join(dir, 'lares.db'));
  try {
    for (let i = 0; i < set.messages.length; i += 1000) await store.appendMessages(set.messages.slice(i, i + 1000));
    const indexer = new RecallIndexer(store, embedder);
    const report = await indexer.run({ onProgress: (p) => process.stderr.write(`\r  indexing ${p.phase} ${p.done}/${p.total}   `) });
    process.stderr.write('\n');
    const recall = new Recall(store, embedder);
    const results: Record<string, Tally> = {};
    const timings: Record<string, number> = {};
    const search = async (name: string, fn: (q: string) => Promise<string[]> | string[]) => {
      const started = performance.now();
      const found: string[][] = [];
      for (const q of set.questions) found.push(await fn(q.question));
      timings[name] = (performance.now() - started) / set.questions.length;
      results[name] = tally(set.questions, found);
    };
    const mode = (m: RecallMode) => async (q: string) => (await recall.searchMessages(q, { limit: 10, mode: m, withContext: false })).map((h) => h.content);
    await search("today's search", (q) => todaysSearch(store, q));
    await search('keywords only', mode('keyword'));
    if (embedder) {
      await search('embeddings only', mode('dense'));
      await search('hybrid', mode('hybrid'));
    }
    const categories = ['all', ...Object.values(CATEGORIES)];
    const counts = tally(set.questions, set.questions.map(() => []));
    const lines = [
      '## Recall on LoCoMo (development split)',
      '',
      `${set.conversations} conversations merged into one history of ${set.messages.length} messages; ${set.questions.length} questions (categories 1–4); `
        + `a question is recalled when one of the first 5 (10) results is an evidence turn (the split's README rule). Embedder: ${embedder?.model ?? 'none'}. `
        + `Indexing: ${report.seconds.toFixed(1)} s (${(set.messages.length / report.seconds).toFixed(0)} messages/s, context and vectors).`,
      '',
      `| search | ${categories.map((c) => `${c} (${counts[c].n}) @5 / @10`).join(' | ')} | ms/query |`,
      `|---|${categories.map(() => '---').join('|')}|---|`,
      ...Object.entries(results).map(([name, t]) => `| ${name} | ${categories.map((c) => `${(t[c].at5 / t[c].n).toFixed(3)} / ${(t[c].at10 / t[c].n).toFixed(3)}`).join(' | ')} | ${timings[name].toFixed(1)} |`),
      '',
    ];
    return { markdown: lines.join('\n'), results };
  } finally {
    await store.close();
    await embedder?.close?.();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function defaultEmbedder(): Promise<Embedder | undefined> {
  const { loadConfig, readEnvironment } = await import('../src/config/config.ts');
  const { openEmbedder } = await import('../src/embeddings/open-embedder.ts');
  return openEmbedder(loadConfig(readEnvironment()));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { markdown } = await runRecallBench();
  process.stdout.write(`${markdown}\n`);
}
