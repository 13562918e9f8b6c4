// Recall at scale (issue: hybrid recall): a SQLite history of 100k and 1M messages with a vector for
// every message, indexed by the real RecallIndexer (keyword context, sessions, vectors, clusters),
// then hybrid search latency (keywords + dense + sessions + each hit's neighbours) p50/p99 and the
// index size per message. Vectors come from a hashing embedder (384 dimensions, like the default
// model) so that a million of them can be made in minutes; the default model's own cost per query
// and per message is measured on real text in recall.bench.ts.
// Run alone: node bench/recall-scale.bench.ts [sizes, e.g. 100000,1000000]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalize, type EmbedKind, type Embedder } from '../src/embeddings/embedder.ts';
import { createLogger, setLogger } from '../src/log.ts';
import { SqliteStore } from '../src/memory/sqlite/sqlite-store.ts';
import { openTableWriter, type TableRow } from '../src/ops/store-tables.ts';
import { random } from '../src/recall/clustering.ts';
import { RecallIndexer } from '../src/recall/indexer.ts';
import { Recall } from '../src/recall/recall.ts';

setLogger(createLogger({ level: 'silent', pretty: false }));

const DIMENSIONS = 384;
const TOPICS = ['garden', 'tomatoes', 'weather', 'coffee', 'music', 'family', 'work', 'sleep', 'train', 'book'];

/** Feature hashing: words land in fixed dimensions, so texts that share words have close vectors. */
export class HashingEmbedder implements Embedder {
  readonly model = 'bench:hashing-384';
  readonly batchSize = 2_000;
  async embed(texts: string[], _kind: EmbedKind): Promise<Float32Array[]> {
    return texts.map((text) => {
      const v = new Float32Array(DIMENSIONS);
      for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
        let h = 2166136261;
        for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619);
        v[(h >>> 0) % DIMENSIONS] += (h & 1) ? 1 : -1;
      }
      return normalize(v);
    });
  }
}


/** Chat-like text: a topic word or two, a long tail of rarer words; sessions of 20 turns a day. */
function messageRow(i: number, next: () => number): TableRow {
  const words: string[] = [];
  const length = 10 + Math.floor(next() * 14);
  for (let w = 0; w < length; w++) words.push(next() < 0.12 ? TOPICS[Math.floor(next() * TOPICS.length)] : `w${Math.floor(next() * 30_000)}`);
  const text = `${words.join(' ')}.`;
  const day = Math.floor(i / 20);
  return {
    id: i, conversation_id: 'default', role: i % 2 ? 'assistant' : 'user', content: text, blocks_json: JSON.stringify([{ type: 'text', text }]),
    created_at: new Date(Date.parse('2020-01-01T00:00:00.000Z') + day * 86_400_000 + (i % 20) * 60_000).toISOString(), token_count: null,
    compacted_by: null, source_ref: null, metadata_json: null,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(n: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lares-recall-scale-'));
  const path = join(dir, 'lares.db');
  try {
    const { store, embedder, report, fillSeconds, indexSeconds, indexBytes } = await buildScaleStore(n, path);
    const recall = new Recall(store, embedder);
    const queries = scaleQueries();
    for (const query of queries.slice(0, 5)) await recall.searchMessages(query, { limit: 10 });
    const times: number[] = [];
    for (const query of queries) {
      const t = performance.now();
      await recall.searchMessages(query, { limit: 10 });
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const clusters = (await store.recallCentroids('message', embedder.model)).length;
    await store.close();
    return `| ${n.toLocaleString('en-US')} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 99).toFixed(1)} | ${clusters || 'none (full scan)'} | `
      + `${Math.round(indexBytes / n)} B | ${fillSeconds.toFixed(0)} s | ${indexSeconds.toFixed(0)} s (${report.clustered ? 'clustering included' : 'no clustering'}) |`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function scaleQueries(): string[] {
  const q = random(7);
  return Array.from({ length: 60 }, () => `what about ${TOPICS[Math.floor(q() * TOPICS.length)]} and w${Math.floor(q() * 30_000)} w${Math.floor(q() * 30_000)}?`);
}

/** A filled and fully indexed store of n messages at path. */
export async function buildScaleStore(n: number, path: string) {
  {
    const store = new SqliteStore(path);
    const next = random(n);
    let started = performance.now();
    const writer = await openTableWriter(store);
    for (let start = 1; start <= n; start += 10_000) {
      const rows: TableRow[] = [];
      for (let i = start; i < Math.min(start + 10_000, n + 1); i++) rows.push(messageRow(i, next));
      await writer.insert('messages', rows);
    }
    await writer.commit();
    const fillSeconds = (performance.now() - started) / 1000;
    store.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const sizeBefore = statSync(path).size;
    const embedder = new HashingEmbedder();
    started = performance.now();
    const report = await new RecallIndexer(store, embedder).run({ onProgress: (p) => process.stderr.write(`\r  ${n}: indexing ${p.phase} ${p.done}/${p.total}      `) });
    process.stderr.write('\n');
    const indexSeconds = (performance.now() - started) / 1000;
    store.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return { store, embedder, report, fillSeconds, indexSeconds, indexBytes: statSync(path).size - sizeBefore };
  }
}

export async function runRecallScaleBench(options: { sizes?: number[] } = {}): Promise<{ markdown: string }> {
  const rows: string[] = [];
  for (const n of options.sizes ?? [100_000, 1_000_000]) rows.push(await measure(n));
  return {
    markdown: [
      '## Recall at scale: hybrid search latency and index size',
      '',
      'SQLite, a vector for every message (384 dimensions, int8), keyword context and sessions indexed by the real indexer; one `searchMessages` = keyword BM25 + session BM25 + dense (clusters nearest the query, or a full scan below 20,000 vectors) + fusion + each hit\'s neighbours, limit 10; 60 three-word queries (a topic word and two rarer words). The query\'s own embedding is not included: the default model takes about 25–30 ms per query (recall.bench.ts), an Ollama server typically 5–20 ms.',
      '',
      '| messages | p50 ms | p99 ms | clusters | index size per message (vectors, keyword context, sessions) | time to fill | time to index |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      ...rows,
      '',
    ].join('\n'),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv[2] ? process.argv[2].split(',').map(Number) : undefined;
  const { markdown } = await runRecallScaleBench({ sizes });
  process.stdout.write(`${markdown}\n`);
}
