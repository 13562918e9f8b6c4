// Bounded memory (issue: one store for everything, part 4): the long commands run as the real
// CLI in child processes with the JS heap capped at 64 MB, on a history whose few Letta summary
// alerts each cover most of it (the case that used to load the whole range):
//   lares migrate (from the fake Letta server), lares reindex --full, lares export, lares db copy
// Each row says whether it finished, its time, rate, peak RSS and peak JS heap (sampled).
// Run alone: node bench/heap.bench.ts [messages,…]   (default 100000)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeLettaServer } from '../test/fakes/letta.ts';
import { makeLettaDataset } from '../test/fakes/letta-dataset.ts';

const HEAP_CAP_MB = 64;
const PASSWORD = 'bench-password';
const root = fileURLToPath(new URL('..', import.meta.url));

/** Loaded into each child with --import: prints its peak RSS and sampled peak heap on exit. */
const PEAK_REPORTER = `
import { writeSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
let peak = 0;
const sample = () => { peak = Math.max(peak, getHeapStatistics().used_heap_size); };
setInterval(sample, 20).unref();
process.on('exit', () => { sample(); writeSync(2, '\\n@@peak ' + JSON.stringify({ rssMb: process.resourceUsage().maxRSS / 1024, heapMb: peak / 2 ** 20 }) + '\\n'); });
`;

interface Run { ok: boolean; seconds: number; rssMb: number; heapMb: number; stdout: string; stderr: string }

function runCapped(args: string[], env: Record<string, string>, reporter: string): Promise<Run> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_CAP_MB}`, '--import', reporter, join(root, 'bin/lares.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LARES_ENV_FILE: '/nonexistent/lares.env', LOG_LEVEL: 'warn', LARES_EMBEDDER: 'none', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => {
      const peak = /@@peak (\{.*\})/.exec(stderr)?.[1];
      const measured = peak ? JSON.parse(peak) as { rssMb: number; heapMb: number } : { rssMb: NaN, heapMb: NaN };
      resolve({ ok: code === 0, seconds: (performance.now() - started) / 1000, ...measured, stdout, stderr });
    });
  });
}

export async function runHeapBench(options: { sizes?: number[] } = {}): Promise<{ markdown: string }> {
  const sizes = options.sizes ?? [100_000];
  const dir = mkdtempSync(join(tmpdir(), 'lares-bench-heap-'));
  const reporter = join(dir, 'peak.mjs');
  writeFileSync(reporter, PEAK_REPORTER);
  const rows: string[] = [];
  try {
    for (const n of sizes) {
      const data = makeLettaDataset({ messages: n, seed: 4, summaryRate: 0.00008 });
      const fake = new FakeLettaServer({ password: PASSWORD, agents: [data] });
      const url = await fake.start();
      const db = join(dir, `heap-${n}.db`);
      const env = { SQLITE_DB_PATH: db };
      const steps: Array<[string, string[], Record<string, string>]> = [
        ['lares migrate', ['migrate', '--messages', '--page-size', '500', '--json'], { LETTA_BASE_URL: url, LETTA_AGENT_ID: data.agent.id, LETTA_API_KEY: PASSWORD }],
        ['lares reindex --full', ['reindex', '--full', '--json'], {}],
        ['lares export', ['export', '--out', join(dir, `export-${n}.jsonl`)], {}],
        ['lares db copy', ['db', 'copy', '--to', join(dir, `copy-${n}.db`), '--json'], {}],
      ];
      try {
        for (const [label, args, extra] of steps) {
          process.stderr.write(`bench: ${label} at ${n.toLocaleString('en-US')} rows, heap capped at ${HEAP_CAP_MB} MB…\n`);
          const run = await runCapped(args, { ...env, ...extra }, reporter);
          const messages = label === 'lares migrate' && run.ok ? (JSON.parse(run.stdout) as { messages?: { added?: number } }).messages?.added : undefined;
          const size = label === 'lares export' && run.ok ? ` (${(statSync(join(dir, `export-${n}.jsonl`)).size / 2 ** 20).toFixed(0)} MB file)` : '';
          const failure = run.ok ? '' : ` — failed: ${(/(FATAL ERROR[^\n]*|heap out of memory|Error: [^\n]*)/.exec(run.stderr)?.[1] ?? run.stderr.trim().split('\n').slice(-3).join(' ')).slice(0, 160)}`;
          rows.push(`| ${label} | ${n.toLocaleString('en-US')} Letta rows${messages ? ` → ${messages.toLocaleString('en-US')} messages` : ''} | ${run.ok ? 'yes' : 'no'}${failure}${size} | ${run.seconds.toFixed(1)} s | ${run.rssMb.toFixed(0)} MB | ${run.heapMb.toFixed(0)} MB |`);
          process.stderr.write(`bench: ${rows[rows.length - 1]}\n`); // a partial run still says what it measured
          if (!run.ok) break;
        }
      } finally {
        await fake.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const markdown = [
    '## Bounded memory: the long commands with the JS heap capped',
    '',
    `Each command is the real CLI in a child process run with \`--max-old-space-size=${HEAP_CAP_MB}\`, one after the other on the same SQLite store: \`lares migrate\` of a generated Letta history (every message type, and only a handful of summary alerts, so each covers tens of thousands of messages), then \`lares reindex --full\` (keyword context and sessions; LARES_EMBEDDER=none), \`lares export\` (jsonl) and \`lares db copy\` to a new SQLite file. Peak heap is sampled every 20 ms; peak RSS includes SQLite's and the HTTP client's native memory.`,
    '',
    '| command | history | finished | time | peak RSS | peak JS heap |',
    '|---|---|---|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
  return { markdown };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = process.argv[2] ? process.argv[2].split(',').map(Number) : undefined;
  const { markdown } = await runHeapBench({ sizes });
  process.stdout.write(`${markdown}\n`);
}
