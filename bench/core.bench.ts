// Core benchmarks (issue: Lares core):
//  1. per-turn overhead without model latency at 1k, 100k and 1M stored messages (p50/p99)
//  2. a scripted 60-turn conversation through the real SDK and the fake API: cache-read ratio
//     and cost with prompt caching on and off
//  3. token estimate error against the tokens the API reports
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.ts';
import { createDirectRuntime } from '../src/app/direct-runtime.ts';
import type { ModelProvider, ModelRequest, ModelResponse } from '../src/llm/provider.ts';
import { createLogger, setLogger } from '../src/log.ts';
import { SqliteStore } from '../src/memory/sqlite/sqlite-store.ts';
import { startFakeAnthropic } from '../test/fakes/anthropic.ts';

setLogger(createLogger({ level: 'silent', pretty: false }));

/** A model with no latency: answers at once, so what is measured is Lares's own work. */
class InstantModel implements ModelProvider {
  readonly name = 'instant';
  async createMessage(request: ModelRequest): Promise<ModelResponse> {
    return { id: 'msg_bench', model: request.model, content: [{ type: 'text', text: 'ok' }], stopReason: 'end_turn', usage: { inputTokens: 100, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 1 } };
  }
  async countTokens(): Promise<number> { return 100; }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Fills a store with `n` messages, all but the newest 40 compacted under one summary (the steady state). */
function fill(store: SqliteStore, n: number): void {
  const db = store.db;
  db.exec('BEGIN');
  const summary = db.prepare("INSERT INTO summaries(conversation_id, summary, start_message_id, end_message_id, token_count, created_at) VALUES ('default', 'Earlier: many conversations about the garden.', 1, ?, 20, ?)")
    .run(Math.max(1, n - 40), new Date().toISOString());
  const insert = db.prepare("INSERT INTO messages(conversation_id, role, content, blocks_json, created_at, compacted_by) VALUES ('default', ?, ?, ?, ?, ?)");
  const base = Date.parse('2024-01-01T00:00:00.000Z');
  for (let i = 1; i <= n; i++) {
    const role = i % 2 === 1 ? 'user' : 'assistant';
    const text = `${role === 'user' ? 'Question' : 'Answer'} ${i} about tomatoes, bees and the weather in spring.`;
    insert.run(role, text, JSON.stringify([{ type: 'text', text }]), new Date(base + i * 1000).toISOString(), i <= n - 40 ? Number(summary.lastInsertRowid) : null);
  }
  db.exec('COMMIT');
}

export async function benchTurnOverhead(sizes = [1_000, 100_000, 1_000_000], turns = 200): Promise<string[]> {
  const rows: string[] = [];
  for (const size of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'lares-bench-'));
    try {
      const dbPath = join(dir, 'lares.db');
      const store = new SqliteStore(dbPath);
      const fillStart = performance.now();
      fill(store, size);
      const fillMs = performance.now() - fillStart;
      const config = loadConfig({ SQLITE_DB_PATH: dbPath, ANTHROPIC_API_KEY: 'bench', CONTEXT_LIMIT: '2000000', COMPACT_THRESHOLD: '0.9' });
      // the recall indexer is measured in recall.bench.ts; here it would be indexing the filled history
      const runtime = await createDirectRuntime(config, { provider: new InstantModel(), store, embedder: null, backgroundIndexing: false });
      const times: number[] = [];
      for (let i = 0; i < turns; i++) {
        const start = performance.now();
        await runtime.agent.send({ content: `Bench turn ${i}: how are the tomatoes?`, source: 'terminal' });
        times.push(performance.now() - start);
        // keep the recent window at a steady size, as compaction would
        if (i % 20 === 19) store.db.prepare('UPDATE messages SET compacted_by = 1 WHERE compacted_by IS NULL AND id < (SELECT MAX(id) - 40 FROM messages)').run();
      }
      await runtime.close();
      await store.close();
      times.sort((a, b) => a - b);
      rows.push(`| ${size.toLocaleString('en-US')} | ${percentile(times, 50).toFixed(2)} | ${percentile(times, 99).toFixed(2)} | ${(fillMs / 1000).toFixed(1)} s |`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

interface CallTotals { calls: number; input: number; cacheRead: number; cacheWrite: number; output: number }
interface ConversationRun extends CallTotals { estimateErrors: number[]; compaction: CallTotals }

export async function benchConversation(caching: boolean, memoryFold: 'turn' | 'compaction' = 'turn', turnCount = 60, memoryFlush = true): Promise<ConversationRun> {
  const fake = await startFakeAnthropic();
  const dir = mkdtempSync(join(tmpdir(), 'lares-bench-'));
  try {
    const config = loadConfig({
      SQLITE_DB_PATH: join(dir, 'lares.db'), ANTHROPIC_API_KEY: fake.apiKey, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6',
      LARES_PROMPT_CACHING: String(caching), LARES_MEMORY_FOLD: memoryFold, LARES_EMBEDDER: 'none',
    });
    const runtime = await createDirectRuntime(config, { memoryFlush });
    let turn = 0;
    fake.setResponder((request) => {
      const last = request.body.messages.at(-1);
      const answeringTool = Array.isArray(last.content) && last.content[0]?.type === 'tool_result';
      if (JSON.stringify(last).includes('[compaction]') || JSON.stringify(request.body.system ?? '').includes('long-term conversation summary')) {
        // the summary, and with the memory flush two saved facts, as a model would write them
        const summary = { text: `Summary: the person asked about tomatoes, bees and the garden in spring over ${turn} turns; answers given; ideas saved. `.repeat(4) };
        return memoryFlush ? { ...summary, toolUses: [
          { name: 'core_memory_append', input: { label: 'human', content: `Keeps bees and grows tomatoes (noted at turn ${turn}).` } },
          { name: 'archival_memory_insert', input: { content: `Turn ${turn}: the person plans to plant basil next to the tomatoes in spring.` } },
        ] } : summary;
      }
      if (!answeringTool && turn % 10 === 0) {
        return { toolUses: [{ name: 'memory_insert', input: { label: 'ideas', new_string: `Idea from turn ${turn}: plant more basil.` } }] };
      }
      if (!answeringTool && turn % 3 === 0) return { toolUses: [{ name: 'conversation_search', input: { query: 'tomatoes' } }] };
      return { text: `Here is my answer for turn ${turn}. `.repeat(8) };
    });
    // estimate error: the calibrated estimate made before each call vs the tokens the API reported
    const estimateErrors: number[] = [];
    const orchestrator = runtime.orchestrator;
    const provider = runtime.provider;
    const original = provider.createMessage.bind(provider);
    provider.createMessage = async (request, options) => {
      const { estimateRequestTokens } = await import('../src/agent/tokens.ts');
      const calibration = (orchestrator as unknown as { deps: { calibration: { tokens(n: number): number } } }).deps.calibration;
      const predicted = calibration.tokens(estimateRequestTokens(request).total);
      const response = await original(request, options);
      const actual = response.usage.inputTokens + response.usage.cacheReadTokens + response.usage.cacheWriteTokens;
      estimateErrors.push(Math.abs(predicted - actual) / actual);
      return response;
    };
    for (turn = 0; turn < turnCount; turn++) {
      await runtime.agent.send({ content: `Turn ${turn}: tell me something about tomatoes, bees and the garden in spring.`, source: 'terminal' });
    }
    const totals = await runtime.store.usageTotals();
    const compaction = (runtime.store as SqliteStore).db.prepare(`SELECT COUNT(*) AS calls, COALESCE(SUM(input_tokens), 0) AS input, COALESCE(SUM(cache_read_tokens), 0) AS cacheRead,
      COALESCE(SUM(cache_write_tokens), 0) AS cacheWrite, COALESCE(SUM(output_tokens), 0) AS output FROM llm_usage WHERE kind = 'compaction'`).get() as Record<string, number>;
    await runtime.close();
    return {
      calls: totals.calls, input: totals.inputTokens, cacheRead: totals.cacheReadTokens, cacheWrite: totals.cacheWriteTokens, output: totals.outputTokens, estimateErrors,
      compaction: { calls: Number(compaction.calls), input: Number(compaction.input), cacheRead: Number(compaction.cacheRead), cacheWrite: Number(compaction.cacheWrite), output: Number(compaction.output) },
    };
  } finally {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runCoreBench(options: { sizes?: number[] } = {}): Promise<{ markdown: string }> {
  const overhead = await benchTurnOverhead(options.sizes);
  const cached = await benchConversation(true);
  const uncached = await benchConversation(false);
  const folded = await benchConversation(true, 'compaction');
  const noFlush = await benchConversation(true, 'turn', 60, false);
  const cost = (r: ConversationRun) => r.input + r.cacheWrite * 1.25 + r.cacheRead * 0.1;
  const ratio = (r: ConversationRun) => r.cacheRead / (r.input + r.cacheRead + r.cacheWrite);
  const sent = (r: ConversationRun) => r.input + r.cacheRead + r.cacheWrite;
  const errors = cached.estimateErrors.slice(1).sort((a, b) => a - b);
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  const markdown = [
    '## Core: per-turn overhead (no model latency)',
    '',
    'A turn = store the message, build the context (tools, system with memory blocks, summary, recent history), call an instant in-process model, store the reply. 200 turns per size; the stored history is mostly compacted, as in steady state.',
    '',
    '| stored messages | p50 ms | p99 ms | time to fill |',
    '|---:|---:|---:|---:|',
    ...overhead,
    '',
    '## Core: prompt caching over a scripted 60-turn conversation',
    '',
    'Real SDK against the fake Messages API (which simulates prefix caching as documented: breakpoints, 20-block lookback, 1,024-token minimum). A tool loop every 3rd turn, a memory edit every 10th. Cost in input-token units: input ×1, cache write ×1.25, cache read ×0.1.',
    '',
    '| run | calls | input | cache write | cache read | cache-read ratio | input-side cost |',
    '|---|---:|---:|---:|---:|---:|---:|',
    `| caching on | ${cached.calls} | ${cached.input} | ${cached.cacheWrite} | ${cached.cacheRead} | ${ratio(cached).toFixed(3)} | ${Math.round(cost(cached))} |`,
    `| caching on, LARES_MEMORY_FOLD=compaction | ${folded.calls} | ${folded.input} | ${folded.cacheWrite} | ${folded.cacheRead} | ${ratio(folded).toFixed(3)} | ${Math.round(cost(folded))} |`,
    `| caching off | ${uncached.calls} | ${uncached.input} | ${uncached.cacheWrite} | ${uncached.cacheRead} | ${ratio(uncached).toFixed(3)} | ${Math.round(cost(uncached))} |`,
    '',
    `Cost with caching is ${((100 * cost(cached)) / cost(uncached)).toFixed(1)}% of the cost without (${((100 * cost(folded)) / cost(uncached)).toFixed(1)}% with LARES_MEMORY_FOLD=compaction); goal: cache-read ratio ≥ 0.9. Tokens sent (input side): ${sent(cached)} with caching, ${sent(uncached)} without.`,
    'With the default LARES_MEMORY_FOLD=turn every memory edit changes the system prompt at the next turn, so the whole history after it is written to the cache again; LARES_MEMORY_FOLD=compaction keeps the prompt\'s memory snapshot until the next compaction (the model sees each edit in its tool result meanwhile).',
    '',
    '## Core: memory flush before compaction',
    '',
    'The same 60-turn run: its compaction calls (usage kind `compaction`), where the model also saves two facts (a memory block edit and an archival passage) in the request that writes the summary, against the same run without the flush.',
    '',
    '| run | compaction calls | input | cache write | cache read | output | cache-read ratio of those calls | whole run input-side cost |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...[['with the memory flush (default)', cached], ['without', noFlush]].map(([name, r]) => {
      const c = (r as ConversationRun).compaction;
      return `| ${name as string} | ${c.calls} | ${c.input} | ${c.cacheWrite} | ${c.cacheRead} | ${c.output} | ${(c.cacheRead / Math.max(1, c.input + c.cacheRead + c.cacheWrite)).toFixed(3)} | ${Math.round(cost(r as ConversationRun))} |`;
    }),
    '',
    '## Core: token estimate error',
    '',
    `The calibrated estimate made before each call, against the input tokens the API reported for it, over ${errors.length} calls after the first: mean ${(mean * 100).toFixed(2)}%, p95 ${(percentile(errors, 95) * 100).toFixed(2)}%, max ${(errors[errors.length - 1] * 100).toFixed(2)}% (goal: within 5%).`,
    '',
  ].join('\n');
  return { markdown };
}

if (import.meta.main) {
  const sizes = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : undefined;
  const { markdown } = await runCoreBench({ sizes });
  process.stdout.write(markdown);
}
