// The memory flush: the compaction request (read from the prompt cache) also lets the model save
// what must outlive the messages it summarises: memory block edits and archival passages, stored
// with their history before the messages are marked compacted; other tools are not run then.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import type { RecordedRequest } from '../fakes/anthropic.ts';
import { startDirectHarness } from '../support/direct.ts';

const isCompaction = (r: RecordedRequest) => JSON.stringify(r.body.messages.at(-1)).includes('[compaction]')
  || JSON.stringify(r.body.system ?? '').includes('long-term conversation summary');

test('a compaction saves durable facts to memory and archival in the same request, then summarises', async () => {
  const h = await startDirectHarness({ env: { CONTEXT_LIMIT: '6000', COMPACT_THRESHOLD: '0.7', TARGET_AFTER_COMPACT: '0.3' }, fake: { contextWindow: 6000 } });
  try {
    let flushes = 0;
    h.fake.setResponder((request) => {
      if (!isCompaction(request)) return { text: `Noted. ${'ok '.repeat(30)}` };
      flushes++;
      return {
        text: `Summary ${flushes}: we talked about the garden.`,
        toolUses: [
          { name: 'core_memory_append', input: { label: 'human', content: `Allergic to bees (flush ${flushes}).` } },
          { name: 'archival_memory_insert', input: { content: `Planted 12 tomato plants on 2026-04-03 (flush ${flushes}).`, tags: ['garden'] } },
          { name: 'conversation_search', input: { query: 'not during compaction' } },
        ],
      };
    });
    for (let i = 0; i < 16; i++) await h.runtime.agent.send({ content: `Turn ${i}: ${'the garden, the bees and the tomatoes. '.repeat(12)}`, source: 'terminal' });
    assert.ok(flushes >= 1, 'a compaction happened');
    const compactionRequests = h.fake.requests.filter(isCompaction);
    assert.match(JSON.stringify(compactionRequests[0].body.messages.at(-1)), /archival_memory_insert/, 'the request asks for the flush');
    // stored: block edit with its history, passages; the summary written as usual
    const human = await h.runtime.store.getBlock('human');
    assert.match(human!.content, /Allergic to bees \(flush 1\)/);
    const history = await h.runtime.store.blockHistory('human');
    assert.ok(history.some((v) => v.actor === 'agent:core_memory_append'));
    const passages = await h.runtime.store.listPassages();
    assert.equal(passages.filter((p) => p.text.startsWith('Planted 12 tomato plants')).length, flushes);
    assert.match((await h.runtime.store.latestSummary())!.summary, /Summary \d+/);
    // no extra model call: one usage row per compaction request, and conversation_search was not run
    const db = new DatabaseSync(h.dbPath);
    const calls = Number((db.prepare("SELECT COUNT(*) AS n FROM llm_usage WHERE kind = 'compaction'").get() as { n: number }).n);
    db.close();
    assert.equal(calls, compactionRequests.length);
    const turnRequests = h.fake.requests.filter((r) => !isCompaction(r));
    assert.ok(!JSON.stringify(turnRequests.map((r) => r.body.messages)).includes('not during compaction'), 'the refused tool never ran into the history');
  } finally {
    await h.close();
  }
});
