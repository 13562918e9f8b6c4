import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDirectHarness } from '../support/direct.ts';

test('every request after the first reads the previous prefix from cache, in turns and in tool loops', async () => {
  const h = await startDirectHarness();
  try {
    h.fake.setResponder((request, index) => {
      const last = request.body.messages.at(-1);
      const answeringTool = Array.isArray(last.content) && last.content[0]?.type === 'tool_result';
      if (index % 2 === 1 && !answeringTool) return { toolUses: [{ name: 'conversation_search', input: { query: 'garden' } }] };
      return { text: `reply ${index}` };
    });
    for (let i = 0; i < 6; i++) await h.runtime.agent.send({ content: `Turn ${i}: let us talk about the garden, the roses and the apple tree.`, source: 'terminal' });
    const requests = h.fake.requests;
    assert.ok(requests.length > 6);
    for (const r of requests) {
      const marks = JSON.stringify(r.body).match(/"cache_control"/g)?.length ?? 0;
      assert.ok(marks <= 4, 'at most 4 breakpoints');
      assert.doesNotMatch(JSON.stringify(r.body.system), /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/, 'no clock time in the cached system prompt');
    }
    for (const r of requests.slice(1)) assert.ok(r.usage!.cache_read_input_tokens > 0, 'reads the prefix from cache');
    const totals = await h.runtime.store.usageTotals();
    const ratio = totals.cacheReadTokens / (totals.inputTokens + totals.cacheReadTokens + totals.cacheWriteTokens);
    assert.ok(ratio > 0.6, `cache-read ratio ${ratio}`);
  } finally {
    await h.close();
  }
});

test('LARES_PROMPT_CACHING=false sends no breakpoints', async () => {
  const h = await startDirectHarness({ env: { LARES_PROMPT_CACHING: 'false' } });
  try {
    h.fake.enqueue({ text: 'a' }, { text: 'b' });
    await h.runtime.agent.send({ content: 'one', source: 'terminal' });
    await h.runtime.agent.send({ content: 'two', source: 'terminal' });
    assert.doesNotMatch(JSON.stringify(h.fake.requests.at(-1)!.body), /cache_control/);
    assert.equal(h.fake.requests.at(-1)!.usage!.cache_read_input_tokens, 0);
  } finally {
    await h.close();
  }
});
