// Benchmark: `lares migrate` of a large Letta history from the fake Letta server.
// The fake server runs here; the migration runs in a child process (the same code path as
// `lares migrate`: official client, manual paging, converter, one transaction per page) so its
// peak RSS is the migration's own. Two sizes show whether memory stays bounded (pages are
// streamed, the history is never held in memory).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeLettaServer } from '../test/fakes/letta.ts';
import { makeLettaDataset } from '../test/fakes/letta-dataset.ts';

const PASSWORD = 'bench-password';
const HEAP_CAP_MB = 40;

interface ChildResult { seconds: number; maxRssMb: number; baselineRssMb: number; rows: number; items: number; added: number; passages: number; summaries: number; toolCalls: number }

async function child(url: string, agentId: string, db: string, pageSize: number): Promise<void> {
  const baselineRssMb = process.resourceUsage().maxRSS / 1024;
  const { runMigration } = await import('../src/letta/migrate.ts');
  const { ApiSource } = await import('../src/letta/source.ts');
  const { openSqliteStore } = await import('../src/memory/open-store.ts');
  const started = performance.now();
  let store: Awaited<ReturnType<typeof openSqliteStore>> | undefined;
  const report = await runMigration({
    source: new ApiSource({ baseUrl: url, agentId, apiKey: PASSWORD }),
    openStore: async () => (store = await openSqliteStore(db)),
    messages: true,
    pageSize,
  });
  const seconds = (performance.now() - started) / 1000;
  await store?.close();
  const result: ChildResult = {
    seconds, maxRssMb: process.resourceUsage().maxRSS / 1024, baselineRssMb,
    rows: report.messages.lettaRows, items: report.messages.lettaItems, added: report.messages.added,
    passages: report.passages.added, summaries: report.messages.summariesAdded, toolCalls: report.messages.toolCalls,
  };
  process.stdout.write(JSON.stringify(result));
}

function runChild(url: string, agentId: string, db: string, pageSize: number, nodeArgs: string[] = []): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...nodeArgs, fileURLToPath(import.meta.url), '--child', url, agentId, db, String(pageSize)], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`migration child failed: ${stderr || error.message}`));
      else resolve(JSON.parse(stdout) as ChildResult);
    });
  });
}

export async function runMigrateBench(options: { messages?: number; pageSize?: number } = {}): Promise<{ markdown: string }> {
  const big = options.messages ?? 100_000;
  const pageSize = options.pageSize ?? 100;
  const sizes = [Math.max(1_000, Math.round(big / 10)), big];
  const dir = mkdtempSync(join(tmpdir(), 'lares-bench-migrate-'));
  const rows: string[] = [];
  let cappedNote = '';
  try {
    for (const n of sizes) {
      const data = makeLettaDataset({ messages: n, seed: 2026 });
      const fake = new FakeLettaServer({ password: PASSWORD, agents: [data] });
      const url = await fake.start();
      try {
        const db = join(dir, `migrate-${n}.db`);
        const r = await runChild(url, data.agent.id, db, pageSize);
        const again = await runChild(url, data.agent.id, db, pageSize);
        if (again.added !== 0) throw new Error(`re-run added ${again.added} messages`);
        if (n === big) {
          // proof that the history is streamed: the same migration with the JS heap capped
          const capped = await runChild(url, data.agent.id, join(dir, `capped-${n}.db`), pageSize, [`--max-old-space-size=${HEAP_CAP_MB}`]);
          if (capped.added !== r.added) throw new Error(`the heap-capped run added ${capped.added}, not ${r.added}`);
          cappedNote = `With the JS heap capped at ${HEAP_CAP_MB} MB (\`--max-old-space-size=${HEAP_CAP_MB}\`) the ${n.toLocaleString('en-US')}-row migration still completes (${capped.seconds.toFixed(1)} s, all ${capped.added.toLocaleString('en-US')} messages): the history is never held in memory; the rest of the RSS is native memory (SQLite, HTTP buffers) and the V8 baseline.`;
        }
        if (fake.writes().length > 0) throw new Error('the migration wrote to Letta');
        const size = statSync(db).size + (statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0);
        rows.push(`| ${r.rows.toLocaleString('en-US')} rows (${r.items.toLocaleString('en-US')} items) | ${r.added.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} s | ${Math.round(r.rows / r.seconds).toLocaleString('en-US')} rows/s | ${r.maxRssMb.toFixed(0)} MB (${r.baselineRssMb.toFixed(0)} MB at start) | ${again.seconds.toFixed(1)} s, 0 added | ${(size / 2 ** 20).toFixed(0)} MB |`);
        process.stderr.write(`bench: migrate ${n}: ${r.seconds.toFixed(1)} s, peak RSS ${r.maxRssMb.toFixed(0)} MB\n`);
      } finally {
        await fake.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const markdown = [
    '## Migration from Letta (`lares migrate`)',
    '',
    `A generated Letta history (every message type; about 1 % of user messages 50,000 characters; tool calls, approvals, summaries) served by the fake Letta server over HTTP; the migration pages it with the official @letta-ai/letta-client (order=asc, ${pageSize} rows per page), converts it and writes one SQLite transaction per page, in a child process whose peak RSS is reported. The re-run reads everything again and adds nothing.`,
    '',
    '| Letta history | Lares messages | time | rate | peak RSS | re-run | database |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    cappedNote,
    '',
  ].join('\n');
  return { markdown };
}

if (import.meta.main) {
  if (process.argv[2] === '--child') {
    await child(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6]));
  } else {
    const messages = process.env.BENCH_MESSAGES ? Number(process.env.BENCH_MESSAGES) : undefined;
    const { markdown } = await runMigrateBench({ messages });
    process.stdout.write(markdown);
  }
}
