// Store benchmarks (issue: operations): at 1M messages (BENCH_MESSAGES or options.messages for
// quicker runs), for SQLite and for a real PostgreSQL started like in the tests:
//   - bulk load (how long building the history takes; bulk inserts, not the agent's path)
//   - append: one message per call (a chat turn) and 100 per call (an import), through the store
//   - context window load: uncompactedMessages() when all but the newest 40 are compacted
//   - full-text search latency p50/p99 for a rare word, a common word and two words
//   - `lares db copy` throughput (SQLite → PostgreSQL, the real copyStore)
// Run: npm run bench (all benchmarks) or
//   node -e "import('./bench/store.bench.ts').then(m => m.runStoreBench({messages: 10000})).then(r => console.log(r.markdown))"
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, setLogger } from '../src/log.ts';
import { openPostgresStore, PostgresStore } from '../src/memory/postgres/postgres-store.ts';
import { SqliteStore } from '../src/memory/sqlite/sqlite-store.ts';
import type { MemoryStore } from '../src/memory/store.ts';
import { copyStore } from '../src/ops/db-copy.ts';
import { openTableWriter, type TableRow } from '../src/ops/store-tables.ts';
import { startTestPostgres } from '../test/support/postgres.ts';

setLogger(createLogger({ level: 'silent', pretty: false }));

export interface StoreBenchOptions {
  /** stored messages; default BENCH_MESSAGES or 1,000,000 */
  messages?: number;
  /** timed repetitions per latency measurement */
  repeats?: number;
}

const UNCOMPACTED = 40;
const FILL_BATCH = 10_000;
const COMMON = ['garden', 'tomatoes', 'weather', 'coffee', 'music', 'family', 'work', 'sleep', 'train', 'book'];

/** Deterministic text: common topic words, a long tail of rarer words, and a rare marker every 50k messages. */
function messageText(i: number): string {
  // mulberry32: cheap, and its low bits are random (an LCG's are not)
  let x = (i * 2654435761) >>> 0;
  const next = () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = Math.imul(x ^ (x >>> 15), 1 | x);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const words: string[] = [];
  const length = 12 + (next() % 12);
  for (let w = 0; w < length; w++) {
    const r = next() % 100;
    words.push(r < 15 ? COMMON[next() % COMMON.length] : `w${next() % 20_000}`);
  }
  if (i % 50_000 === 7) words.push('zeppelin');
  return `${i % 2 ? 'Answer' : 'Question'} ${i}: ${words.join(' ')}.`;
}

function messageRow(i: number, n: number, summaryOf: (i: number) => number | null): TableRow {
  const text = messageText(i);
  return {
    id: i, conversation_id: 'default', role: i % 2 ? 'assistant' : 'user', content: text, blocks_json: JSON.stringify([{ type: 'text', text }]),
    created_at: new Date(Date.parse('2020-01-01T00:00:00.000Z') + i * 60_000).toISOString(), token_count: null,
    compacted_by: i <= n - UNCOMPACTED ? summaryOf(i) : null, source_ref: null, metadata_json: null,
  };
}

/** Builds the history with bulk inserts in one transaction: one summary per 1,000 compacted messages. */
async function fill(store: MemoryStore, n: number): Promise<number> {
  const started = performance.now();
  const perSummary = 1000;
  const compacted = Math.max(0, n - UNCOMPACTED);
  const summaries = Math.ceil(compacted / perSummary);
  const writer = await openTableWriter(store);
  const summaryRows: TableRow[] = [];
  for (let s = 1; s <= summaries; s++) {
    summaryRows.push({
      id: s, conversation_id: 'default', summary: `Summary ${s}: talk about ${COMMON[s % COMMON.length]}.`, start_message_id: (s - 1) * perSummary + 1,
      end_message_id: Math.min(s * perSummary, compacted), token_count: 20, created_at: new Date().toISOString(), source_ref: null,
    });
  }
  for (let s = 0; s < summaryRows.length; s += FILL_BATCH) await writer.insert('summaries', summaryRows.slice(s, s + FILL_BATCH));
  for (let start = 1; start <= n; start += FILL_BATCH) {
    const rows: TableRow[] = [];
    for (let i = start; i < Math.min(start + FILL_BATCH, n + 1); i++) rows.push(messageRow(i, n, (m) => Math.ceil(m / perSummary)));
    await writer.insert('messages', rows);
  }
  await writer.commit();
  if (store instanceof PostgresStore) await store.pool.query('ANALYZE');
  return (performance.now() - started) / 1000;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function latencies(repeats: number, fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(5, repeats); i++) await fn(i); // warm caches and statement plans
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    await fn(i);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(0));
const rate = (count: number, seconds: number) => `${Math.round(count / seconds).toLocaleString('en-US')}/s`;

interface BackendResult {
  fillSeconds: number;
  appendOne: { p50: number; p99: number; perSecond: number };
  appendBatch: number;
  context: { p50: number; p99: number; count: number };
  search: Record<string, { p50: number; p99: number; hits: number }>;
  size?: string;
}

async function measure(store: MemoryStore, n: number, repeats: number): Promise<BackendResult> {
  process.stderr.write(`store bench: ${store.kind}: loading ${n.toLocaleString('en-US')} messages…\n`);
  const fillSeconds = await fill(store, n);
  process.stderr.write(`store bench: ${store.kind}: loaded in ${fillSeconds.toFixed(1)} s; measuring…\n`);

  const context = await latencies(repeats, () => store.uncompactedMessages());
  const contextCount = (await store.uncompactedMessages()).length;

  const search: BackendResult['search'] = {};
  for (const [name, query] of [['rare word', 'zeppelin'], ['common word', 'garden'], ['two words', 'coffee music']] as const) {
    const hits = (await store.searchMessages(query, { limit: 10 })).length;
    // searches for common words rank a large share of the history: fewer repetitions
    search[name] = { ...(await latencies(Math.min(repeats, 50), () => store.searchMessages(query, { limit: 10 }))), hits };
  }

  const oneStarted = performance.now();
  const one = await latencies(repeats, (i) => store.appendMessages([{ role: i % 2 ? 'assistant' : 'user', blocks: [{ type: 'text', text: messageText(n + i + 1) }] }]));
  const oneSeconds = (performance.now() - oneStarted) / 1000;
  const batches = 20;
  const batchStarted = performance.now();
  for (let b = 0; b < batches; b++) {
    await store.appendMessages(Array.from({ length: 100 }, (_, i) => ({ role: 'user' as const, blocks: [{ type: 'text' as const, text: messageText(n + 10_000 + b * 100 + i) }] })));
  }
  const batchSeconds = (performance.now() - batchStarted) / 1000;
  return {
    fillSeconds,
    appendOne: { ...one, perSecond: (repeats + Math.min(5, repeats)) / oneSeconds },
    appendBatch: (batches * 100) / batchSeconds,
    context: { ...context, count: contextCount },
    search,
  };
}

export async function runStoreBench(options: StoreBenchOptions = {}): Promise<{ markdown: string }> {
  const n = options.messages ?? (Number(process.env.BENCH_MESSAGES) || 1_000_000);
  const repeats = options.repeats ?? 200;
  const dir = mkdtempSync(join(tmpdir(), 'lares-store-bench-'));
  const server = await startTestPostgres();
  try {
    const sqlitePath = join(dir, 'bench.db');
    const sqlite = new SqliteStore(sqlitePath);
    const sqliteResult = await measure(sqlite, n, repeats);
    sqliteResult.size = `${(statSync(sqlitePath).size / 2 ** 20).toFixed(0)} MiB`;

    const postgres = await openPostgresStore(await server.createDatabase('bench_store'));
    const postgresResult = await measure(postgres, n, repeats);
    const size = await postgres.pool.query("SELECT pg_database_size(current_database()) AS bytes, current_setting('server_version') AS version");
    const pgVersion = String(size.rows[0].version).split(' ')[0];
    postgresResult.size = `${(Number(size.rows[0].bytes) / 2 ** 20).toFixed(0)} MiB`;
    await postgres.close();

    process.stderr.write('store bench: lares db copy SQLite → PostgreSQL…\n');
    const target = await openPostgresStore(await server.createDatabase('bench_copy'));
    const copy = await copyStore(sqlite, target, { batchSize: 5000 });
    const copiedRows = Object.values(copy.rows).reduce((a, b) => a + b, 0);
    await target.close();
    await sqlite.close();

    const r = [sqliteResult, postgresResult];
    const both = (f: (b: BackendResult) => string) => `${f(r[0])} | ${f(r[1])}`;
    const lines = [
      `## Store operations at ${n.toLocaleString('en-US')} messages`,
      '',
      `All but the newest ${UNCOMPACTED} messages compacted (one summary per 1,000), 12–24 words each. PostgreSQL ${pgVersion} runs locally`,
      'with fsync off (as in the tests: this measures Lares and the database engine, not the disk). Latencies over',
      `${repeats} calls after 5 warm-up calls (searches: ${Math.min(repeats, 50)} calls).`,
      '',
      '| operation | SQLite | PostgreSQL |',
      '|---|---|---|',
      `| bulk load of the history (one transaction, ${FILL_BATCH.toLocaleString('en-US')} rows per insert) | ${both((b) => `${b.fillSeconds.toFixed(1)} s (${rate(n, b.fillSeconds)})`)} |`,
      `| database size | ${both((b) => b.size ?? '')} |`,
      `| append 1 message per call, p50 / p99 | ${both((b) => `${ms(b.appendOne.p50)} / ${ms(b.appendOne.p99)} ms`)} |`,
      `| append 1 message per call, throughput | ${both((b) => rate(1, 1 / b.appendOne.perSecond))} |`,
      `| append 100 messages per call, throughput | ${both((b) => rate(1, 1 / b.appendBatch))} |`,
      `| context window load (${r[0].context.count} uncompacted of ${n.toLocaleString('en-US')}), p50 / p99 | ${both((b) => `${ms(b.context.p50)} / ${ms(b.context.p99)} ms`)} |`,
      ...Object.keys(r[0].search).map((name) => `| search, ${name} (limit 10; ${both((b) => `${b.search[name].hits} hits`).replace(' | ', ' / ')}), p50 / p99 | ${both((b) => `${ms(b.search[name].p50)} / ${ms(b.search[name].p99)} ms`)} |`),
      '',
      `**\`lares db copy\` SQLite → PostgreSQL:** ${copiedRows.toLocaleString('en-US')} rows (${copy.rows.messages.toLocaleString('en-US')} messages) in ${copy.seconds.toFixed(1)} s = ${rate(copiedRows, copy.seconds)} (batches of 5,000, one transaction, GIN index maintained during the copy).`,
      '',
      'Search ranks every match (bm25 in SQLite FTS5, ts_rank in PostgreSQL) before taking the best 10, so a word in 15 % of a',
      'million messages costs far more than a rare one; the agent\'s conversation_search mostly asks for specific words.',
    ];
    return { markdown: lines.join('\n') };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
