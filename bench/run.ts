// npm run bench: runs every benchmark and writes bench/results.md.
// BENCH_QUICK=1 runs smaller sizes (for a quick look; results.md says so).
import { writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { arch, cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.env.BENCH_QUICK === '1';
const sections: string[] = [];

async function section(file: string, exportName: string, options: Record<string, unknown>): Promise<void> {
  if (!existsSync(join(here, file))) return;
  process.stderr.write(`bench: ${file}…\n`);
  const started = performance.now();
  const mod = await import(join(here, file));
  const { markdown } = await mod[exportName](options);
  sections.push(markdown.trim(), `_(${file}: ${((performance.now() - started) / 1000).toFixed(0)} s)_`, '');
}

await section('core.bench.ts', 'runCoreBench', quick ? { sizes: [1_000, 10_000] } : {});
await section('store.bench.ts', 'runStoreBench', quick ? { messages: 10_000 } : {});
await section('migrate.bench.ts', 'runMigrateBench', quick ? { messages: 5_000 } : {});
await section('heap.bench.ts', 'runHeapBench', quick ? { sizes: [20_000] } : {});
await section('recall.bench.ts', 'runRecallBench', {});
await section('providers.bench.ts', 'runProvidersBench', quick ? { turns: 30 } : {});
await section('failover.bench.ts', 'runFailoverBench', quick ? { rounds: 2 } : {});
await section('recall-scale.bench.ts', 'runRecallScaleBench', quick ? { sizes: [20_000, 100_000] } : {});

const header = [
  '# Benchmark results',
  '',
  `Made by \`npm run bench\` on ${new Date().toISOString()}: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} (${arch()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB.${quick ? ' QUICK RUN (BENCH_QUICK=1): reduced sizes.' : ''}`,
  '',
];
writeFileSync(join(here, 'results.md'), `${[...header, ...sections].join('\n')}\n`);
process.stderr.write('bench: wrote bench/results.md\n');
