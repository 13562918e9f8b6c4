// Model providers and cost (issue: any model, bounded cost):
//  1. per-turn overhead of the OpenAI-compatible path next to the Anthropic path: the same
//     scripted conversation (text turns and tool rounds) through the real SDKs against fakes
//     that answer at once, so what is measured is Lares plus SDK and HTTP
//  2. a 24-hour idle day with perch every 30 minutes (48 ticks, three conversations during the
//     day): model calls, tokens sent and cost, before and after "no model call when nothing is new"
// Run alone: node bench/providers.bench.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/config.ts';
import { createDirectRuntime, type DirectRuntime } from '../src/app/direct-runtime.ts';
import { costOf, loadPrices } from '../src/llm/pricing.ts';
import { createLogger, setLogger } from '../src/log.ts';
import { startFakeAnthropic } from '../test/fakes/anthropic.ts';
import { startFakeOpenAiChat } from '../test/fakes/openai-chat.ts';

setLogger(createLogger({ level: 'silent', pretty: false }));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Every third turn is a tool round (archival insert, then a reply): two model calls. */
async function scriptedTurns(runtime: DirectRuntime, turns: number, enqueueTool: (i: number) => void, enqueueText: (i: number) => void): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < turns; i++) {
    if (i % 3 === 2) enqueueTool(i); else enqueueText(i);
    const started = performance.now();
    await runtime.agent.send({ content: `Turn ${i}: the tomatoes, the beans and the bees had a good week in the garden.`, source: 'terminal' });
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

export async function benchProviderOverhead(turns = 120): Promise<string[]> {
  const rows: string[] = [];
  const reply = (i: number) => `Reply ${i}: glad to hear it, the garden sounds lovely this week.`;
  {
    const fake = await startFakeAnthropic();
    const dir = mkdtempSync(join(tmpdir(), 'lares-bench-anthropic-'));
    const runtime = await createDirectRuntime(loadConfig({ ANTHROPIC_API_KEY: fake.apiKey, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6', SQLITE_DB_PATH: join(dir, 'a.db'), LARES_EMBEDDER: 'none' }), { backgroundIndexing: false });
    try {
      const times = await scriptedTurns(runtime, turns,
        (i) => fake.enqueue({ toolUses: [{ name: 'archival_memory_insert', input: { content: `garden fact ${i}` } }] }, { text: reply(i) }),
        (i) => fake.enqueue({ text: reply(i) }));
      rows.push(row('Anthropic Messages (streamed SSE)', times, await runtime.store.usageTotals()));
    } finally {
      await runtime.close(); await fake.close(); rmSync(dir, { recursive: true, force: true });
    }
  }
  {
    const fake = await startFakeOpenAiChat();
    const dir = mkdtempSync(join(tmpdir(), 'lares-bench-openai-'));
    const runtime = await createDirectRuntime(loadConfig({ LARES_PROVIDER: 'openai', OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: `${fake.url}/v1`, OPENAI_MODEL: 'gpt-4.1-mini', SQLITE_DB_PATH: join(dir, 'o.db'), LARES_EMBEDDER: 'none' }), { backgroundIndexing: false });
    try {
      const times = await scriptedTurns(runtime, turns,
        (i) => fake.enqueue({ toolCalls: [{ name: 'archival_memory_insert', arguments: { content: `garden fact ${i}` } }] }, { text: reply(i) }),
        (i) => fake.enqueue({ text: reply(i) }));
      rows.push(row('OpenAI Chat Completions (streamed SSE)', times, await runtime.store.usageTotals()));
    } finally {
      await runtime.close(); await fake.close(); rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

function row(label: string, sorted: number[], totals: { calls: number; inputTokens: number; cacheReadTokens: number; cacheWriteTokens: number }): string {
  const sent = totals.inputTokens + totals.cacheReadTokens + totals.cacheWriteTokens;
  return `| ${label} | ${sorted.length} | ${totals.calls} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ${Math.round(sent / totals.calls)} | ${(totals.cacheReadTokens / sent).toFixed(3)} |`;
}

/** 48 perch ticks over a day; the person writes before ticks 16, 26 and 40 (morning, afternoon, evening). */
export async function benchIdleDay(skipIfIdle: boolean): Promise<{ calls: number; sent: number; cacheRead: number; output: number; usd: number }> {
  // the fake's prompt cache runs on the simulated day's clock: 30 minutes apart, a 5-minute cache has expired
  let clock = Date.parse('2026-11-30T20:00:00.000Z');
  const fake = await startFakeAnthropic({ now: () => clock });
  const dir = mkdtempSync(join(tmpdir(), 'lares-bench-idle-'));
  const runtime = await createDirectRuntime(loadConfig({ ANTHROPIC_API_KEY: fake.apiKey, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6', SQLITE_DB_PATH: join(dir, 'idle.db'), LARES_EMBEDDER: 'none' }), { backgroundIndexing: false });
  fake.setResponder((request) => (JSON.stringify(request.body.messages.at(-1)).includes('[perch time') ? { text: '(silent)' } : { text: 'Good morning! Noted.' }));
  try {
    // a history of a few days, so the prompt is a realistic size
    for (let i = 0; i < 30; i++) {
      clock += 60_000;
      await runtime.agent.send({ content: `Earlier talk ${i}: plans for the garden, the bees and a trip to the coast next month.`, source: 'terminal' });
    }
    const before = await runtime.store.usageTotals();
    const start = Date.parse('2026-12-01T00:00:00.000Z');
    for (let tick = 0; tick < 48; tick++) {
      clock = start + tick * 30 * 60_000;
      if (tick === 16 || tick === 26 || tick === 40) await runtime.agent.send({ content: `Message at tick ${tick}: how are the bees?`, source: 'terminal' });
      clock += 60_000;
      const at = new Date(clock).toISOString();
      await runtime.agent.send({ source: 'perch', content: `[perch time ${at}] A quiet moment of your own. Reply (silent) if there is nothing to say.`, skipIfIdle });
    }
    const after = await runtime.store.usageTotals();
    const delta = {
      model: 'claude-sonnet-4-6', calls: after.calls - before.calls, inputTokens: after.inputTokens - before.inputTokens, cacheReadTokens: after.cacheReadTokens - before.cacheReadTokens,
      cacheWriteTokens: after.cacheWriteTokens - before.cacheWriteTokens, outputTokens: after.outputTokens - before.outputTokens,
    };
    return { calls: delta.calls, sent: delta.inputTokens + delta.cacheReadTokens + delta.cacheWriteTokens, cacheRead: delta.cacheReadTokens, output: delta.outputTokens, usd: costOf(delta, loadPrices()) ?? NaN };
  } finally {
    await runtime.close(); await fake.close(); rmSync(dir, { recursive: true, force: true });
  }
}

export async function runProvidersBench(options: { turns?: number } = {}): Promise<{ markdown: string }> {
  const overhead = await benchProviderOverhead(options.turns ?? 120);
  const before = await benchIdleDay(false);
  const after = await benchIdleDay(true);
  const day = (label: string, r: typeof before) => `| ${label} | ${r.calls} | ${r.sent} | ${r.cacheRead} | ${r.output} | $${r.usd.toFixed(4)} |`;
  const markdown = [
    '## Providers: per-turn overhead of the OpenAI-compatible path',
    '',
    `The same scripted conversation (${options.turns ?? 120} turns, every third a tool round of two model calls) through the real SDKs against fakes with no model latency, SQLite store: time per turn is Lares + SDK + local HTTP. Tokens are each fake's own count (the OpenAI fake simulates automatic prompt caching in 128-token steps above 1,024; the Anthropic fake caches at Lares's breakpoints).`,
    '',
    '| path | turns | model calls | p50 ms/turn | p99 ms/turn | tokens sent per call | cache-read ratio |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...overhead,
    '',
    '## Cost of an idle day: perch every 30 minutes',
    '',
    '48 perch ticks over 24 hours on Claude Sonnet (fake API with prompt caching on the simulated clock, so the 5-minute cache has expired between ticks; priced with the built-in table), a history of 30 earlier turns, and three messages from the person during the day (each followed by the next tick). "Before": every tick calls the model, which answers (silent). "After" (the default for scheduled ticks): a tick with no new message and no memory edit since the last perch turn makes no call.',
    '',
    '| perch | model calls | tokens sent | of which cache reads | output tokens | cost |',
    '|---|---:|---:|---:|---:|---:|',
    day('every tick calls the model (before)', before),
    day('no call when nothing is new (after)', after),
    '',
  ].join('\n');
  return { markdown };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { markdown } = await runProvidersBench();
  process.stdout.write(`${markdown}\n`);
}
