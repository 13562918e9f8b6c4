import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import type { RecordedRequest } from '../fakes/anthropic.ts';
import { startDirectHarness } from '../support/direct.ts';

// a summary is asked for either at the end of the turn's own request (in context, read from cache) or,
// when that cannot be sent, over a transcript with its own system prompt
const isInContextSummary = (r: RecordedRequest) => JSON.stringify(r.body.messages.at(-1)).includes('[compaction]');
const isSummaryCall = (r: RecordedRequest) => isInContextSummary(r) || JSON.stringify(r.body.system ?? '').includes('long-term conversation summary');

function filler(i: number): string {
  return `Message ${i} about the garden project: tomatoes, basil and the blue watering can number ${i}. `.repeat(6);
}

test('compaction summarises old messages, deletes nothing, keeps pairs and stays under the limit', async () => {
  const h = await startDirectHarness({ env: { CONTEXT_LIMIT: '9000', COMPACT_THRESHOLD: '0.7', TARGET_AFTER_COMPACT: '0.4' }, fake: { contextWindow: 9000 } });
  try {
    const summaryPrompts: string[] = [];
    h.fake.setResponder((request, index) => {
      if (isSummaryCall(request)) {
        summaryPrompts.push(JSON.stringify(request.body));
        return { text: `Summary v${summaryPrompts.length}: the person talks about the garden project (tomatoes, basil).` };
      }
      // every third turn uses a tool, so there are tool_use/tool_result pairs to keep together
      const last = request.body.messages.at(-1);
      const answeringTool = Array.isArray(last.content) && last.content[0]?.type === 'tool_result';
      if (index % 3 === 0 && !answeringTool) return { toolUses: [{ name: 'conversation_search', input: { query: 'garden' } }] };
      return { text: `Reply ${index}: ${'noted. '.repeat(20)}` };
    });
    for (let i = 0; i < 40; i++) await h.runtime.agent.send({ content: filler(i), source: 'terminal' });

    const store = h.runtime.store;
    const counts = await store.counts();
    assert.ok(counts.summaries >= 2, `recursive summaries were written (${counts.summaries})`);
    assert.ok(counts.compactedMessages > 0);
    // nothing deleted: every person's message is still stored and searchable
    const db = new DatabaseSync(h.dbPath);
    const userMessages = db.prepare("SELECT COUNT(*) AS n FROM messages WHERE role = 'user' AND content LIKE 'Message %'").get() as { n: number };
    const compactionCalls = db.prepare("SELECT COUNT(*) AS n FROM llm_usage WHERE kind = 'compaction'").get() as { n: number };
    assert.equal(Number(compactionCalls.n), summaryPrompts.length, 'summary calls are counted in the usage, as compaction');
    db.close();
    assert.equal(Number(userMessages.n), 40);
    const hits = await store.searchMessages('watering can number 0');
    assert.ok(hits.some((hit) => hit.compacted && hit.content.startsWith('Message 0 ')), 'compacted messages stay searchable');
    // the uncompacted history never starts in the middle of a tool_use/tool_result pair
    const [first] = await store.uncompactedMessages();
    assert.ok(!first.blocks.some((b) => b.type === 'tool_result'));
    // recursive: a later summary prompt carries the previous summary
    assert.match(summaryPrompts[1], /Summary v1/);
    const summaries = await store.listSummaries();
    assert.ok(summaries.every((s) => s.startMessageId !== null && s.endMessageId! >= s.startMessageId!));
    // every request stayed within the context limit (the fake rejects bigger ones) and the latest
    // request carries the latest summary
    const turnRequests = h.fake.requests.filter((r) => !isSummaryCall(r) && r.usage);
    assert.equal(turnRequests.length, h.fake.requests.filter((r) => !isSummaryCall(r)).length);
    assert.match(turnRequests.at(-1)!.body.system[0].text, new RegExp(`Summary v${summaryPrompts.length}`));
    for (const r of turnRequests) assert.ok(h.fake.countTokens(r.body) <= 9000);
    // the summary is asked for at the end of the turn's own request: its input is read from the cache
    const inContext = h.fake.requests.filter(isInContextSummary);
    assert.ok(inContext.length >= 1, 'summaries were asked for in context');
    for (const r of inContext) {
      const u = r.usage!;
      assert.ok(u.cache_read_input_tokens / (u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens) > 0.5, `mostly read from cache: ${JSON.stringify(u)}`);
    }
  } finally {
    await h.close();
  }
});

test('if the summary call fails the history is untouched and the turn still goes out within the limit', async () => {
  const h = await startDirectHarness({ env: { CONTEXT_LIMIT: '6000', LARES_LLM_MAX_RETRIES: '0' }, fake: { contextWindow: 6000 } });
  try {
    h.fake.setResponder((request) => (isSummaryCall(request)
      ? { error: { status: 500, type: 'api_error', message: 'Internal server error' } }
      : { text: 'ok' }));
    for (let i = 0; i < 20; i++) await h.runtime.agent.send({ content: filler(i), source: 'terminal' });
    const counts = await h.runtime.store.counts();
    assert.equal(counts.summaries, 0);
    assert.equal(counts.compactedMessages, 0);
    assert.equal(counts.messages, 40);
    assert.ok(h.fake.requests.some(isSummaryCall), 'compaction was attempted');
    for (const r of h.fake.requests.filter((x) => !isSummaryCall(x))) assert.ok(r.usage, 'every turn request was accepted');
  } finally {
    await h.close();
  }
});

test('a context-exceeded error from the API triggers compaction and one retry', async () => {
  // our limit is generous, the model's real window is small: only the API notices
  const h = await startDirectHarness({ env: { CONTEXT_LIMIT: '200000' }, fake: { contextWindow: 7000 } });
  try {
    h.fake.setResponder((request) => (isSummaryCall(request) ? { text: 'Summary: garden talk.' } : { text: 'ok' }));
    for (let i = 0; i < 40; i++) await h.runtime.agent.send({ content: filler(i), source: 'terminal' });
    const counts = await h.runtime.store.counts();
    assert.ok(counts.summaries >= 1);
    assert.equal(counts.messages, 80);
    const rejected = h.fake.requests.filter((r) => !r.usage && !isSummaryCall(r));
    assert.ok(rejected.length >= 1, 'the API rejected a too-large request at least once');
  } finally {
    await h.close();
  }
});

test('lares compact by hand compacts down to the target, and does nothing below it', async () => {
  const below = await startDirectHarness({ env: { CONTEXT_LIMIT: '50000' } });
  try {
    below.fake.setResponder(() => ({ text: 'ok' }));
    for (let i = 0; i < 3; i++) await below.runtime.agent.send({ content: filler(i), source: 'terminal' });
    assert.equal(await below.runtime.orchestrator.compactNow(), undefined, 'already below TARGET_AFTER_COMPACT: nothing to do');
    assert.equal((await below.runtime.store.counts()).compactedMessages, 0);
  } finally {
    await below.close();
  }
  const h = await startDirectHarness({ env: { CONTEXT_LIMIT: '12000' } });
  try {
    h.fake.setResponder((request) => (isSummaryCall(request) ? { text: 'Summary: many garden messages.' } : { text: 'ok' }));
    for (let i = 0; i < 10; i++) await h.runtime.agent.send({ content: filler(i), source: 'terminal' });
    const result = await h.runtime.orchestrator.compactNow();
    assert.ok(result && result.messagesCompacted > 0);
    assert.equal((await h.runtime.store.counts()).messages, 20);
  } finally {
    await h.close();
  }
});

test('a huge backlog (an imported history) is compacted with a bounded number of model calls', async () => {
  const h = await startDirectHarness({ env: { CONTEXT_LIMIT: '4000' }, fake: { contextWindow: 4000 } });
  try {
    // 3,000 imported messages, none compacted: far more than fits
    await h.runtime.store.importBatch({ messages: Array.from({ length: 3000 }, (_, i) => ({
      role: i % 2 === 0 ? 'user' as const : 'assistant' as const, blocks: [{ type: 'text' as const, text: `Imported ${i}: ${filler(i).slice(0, 200)}` }],
      createdAt: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(), sourceRef: `import:${i}`,
    })) });
    h.fake.setResponder((request) => (isSummaryCall(request) ? { text: 'Summary: the garden.' } : { text: 'Hello again.' }));
    const result = await h.runtime.agent.send({ content: 'Hi, it is me.', source: 'terminal' });
    assert.equal(result.reply, 'Hello again.');
    const summaryCalls = h.fake.requests.filter(isSummaryCall).length;
    assert.ok(summaryCalls >= 1 && summaryCalls <= 4, `summary calls: ${summaryCalls}`);
    const counts = await h.runtime.store.counts();
    assert.equal(counts.messages, 3002);
    assert.ok(counts.compactedMessages >= 2900);
    const latest = await h.runtime.store.latestSummary();
    assert.match(latest!.summary, /Summary: the garden\./);
    assert.equal(latest!.startMessageId, 1, 'the summary chain covers the history from the first message');
    const turn = h.fake.requests.filter((r) => !isSummaryCall(r)).at(-1)!;
    assert.ok(turn.usage, 'the turn request was accepted within the window');
  } finally {
    await h.close();
  }
});
