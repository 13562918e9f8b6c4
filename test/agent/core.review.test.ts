// Review findings on the direct-mode core: each test pins a bug that was fixed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordedRequest } from '../fakes/anthropic.ts';
import { startDirectHarness } from '../support/direct.ts';
import { AnthropicProvider } from '../../src/llm/anthropic/anthropic-provider.ts';
import type { ToolProvider } from '../../src/tools/types.ts';

const isSummaryCall = (r: RecordedRequest) => JSON.stringify(r.body.system ?? '').includes('long-term conversation summary');
const words = (n: number) => Array.from({ length: n }, () => 'garden').join(' ');

test('compaction chunks never split a tool_use from its tool_result, even when a later summary call fails', async () => {
  // CONTEXT_LIMIT 2000 → summary chunks of about 1,000 tokens: [user 500, tool_use 400] fit one
  // chunk, the tool_result would start the next one
  const h = await startDirectHarness({ env: { CONTEXT_LIMIT: '2000', LARES_LLM_MAX_RETRIES: '0' } });
  try {
    let summaries = 0;
    h.fake.setResponder((request) => {
      if (!isSummaryCall(request)) return { text: 'ok' };
      summaries++;
      return summaries === 1 ? { text: 'Summary: garden talk.' } : { error: { status: 400, type: 'invalid_request_error', message: 'summary refused' } };
    });
    await h.runtime.store.appendMessages([
      { role: 'user', blocks: [{ type: 'text', text: words(500) }] },
      { role: 'assistant', blocks: [{ type: 'tool_use', id: 'toolu_pair', name: 'archival_memory_insert', input: { content: words(400) } }] },
      { role: 'user', blocks: [{ type: 'tool_result', tool_use_id: 'toolu_pair', content: words(100) }] },
      { role: 'assistant', blocks: [{ type: 'text', text: 'Saved.' }] },
      { role: 'user', blocks: [{ type: 'text', text: words(50) }] },
      { role: 'assistant', blocks: [{ type: 'text', text: 'Noted.' }] },
    ]);
    await assert.rejects(h.runtime.orchestrator.compactNow());
    assert.equal(summaries, 2, 'two summary chunks were attempted');
    const [first] = await h.runtime.store.uncompactedMessages();
    assert.ok(first, 'something is left uncompacted after the failed chunk');
    assert.ok(!first.blocks.some((b) => b.type === 'tool_result'), 'the uncompacted history does not start with an orphan tool_result');
  } finally {
    await h.close();
  }
});

test('lares compact does not compact a dangling tool_use away from the result it gets later', async () => {
  const h = await startDirectHarness();
  try {
    h.fake.setResponder((request) => (isSummaryCall(request) ? { text: 'Summary: earlier talk.' } : { text: 'Back again.' }));
    const stored = await h.runtime.store.appendMessages([
      { role: 'user', blocks: [{ type: 'text', text: 'Please search for the garden notes.' }] },
      { role: 'assistant', blocks: [{ type: 'text', text: 'Sure.' }] },
      { role: 'user', blocks: [{ type: 'text', text: 'And save a note.' }] },
      // a crash (or a turn still running in the chat process) left this call unanswered
      // (big, so that reaching TARGET_AFTER_COMPACT means compacting it too)
      { role: 'assistant', blocks: [{ type: 'tool_use', id: 'toolu_dangling', name: 'archival_memory_insert', input: { content: words(14_000) } }] },
    ]);
    await h.runtime.orchestrator.compactNow();
    assert.equal((await h.runtime.store.getMessage(stored[3].id))!.compactedBy, null, 'the unanswered tool_use stays uncompacted');
    const result = await h.runtime.agent.send({ content: 'Hello?', source: 'terminal' });
    assert.equal(result.reply, 'Back again.');
    const [first] = await h.runtime.store.uncompactedMessages();
    assert.ok(!first.blocks.some((b) => b.type === 'tool_result'), 'the repair result sits next to its tool_use');
    const sent = JSON.stringify(h.fake.requests.filter((r) => !isSummaryCall(r)).at(-1)!.body.messages);
    assert.match(sent, /"tool_use_id":"toolu_dangling"/, 'the call is answered by a real tool_result, not flattened to text');
  } finally {
    await h.close();
  }
});

test('a tool result with an empty text block next to an image does not poison the stored history', async () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
  const screenshot: ToolProvider = {
    name: 'screens',
    async listTools() { return [{ name: 'screenshot', description: 'Takes a screenshot.', inputSchema: { type: 'object', properties: {} } }]; },
    async callTool() {
      return { content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }, { type: 'text', text: '' }], isError: false };
    },
  };
  const h = await startDirectHarness({ runtime: { toolProviders: [screenshot] } });
  try {
    h.fake.enqueue({ toolUses: [{ id: 'toolu_shot', name: 'screenshot', input: {} }] }, { text: 'Here is your screen.' });
    const first = await h.runtime.agent.send({ content: 'Show me my screen.', source: 'terminal' });
    assert.equal(first.reply, 'Here is your screen.');
    h.fake.enqueue({ text: 'Still here.' });
    const second = await h.runtime.agent.send({ content: 'Thanks.', source: 'terminal' });
    assert.equal(second.reply, 'Still here.');
  } finally {
    await h.close();
  }
});

/** The SSE events of one complete streamed reply (what the real API sends). */
function sseReply(text: string): string {
  const events: Array<[string, unknown]> = [
    ['message_start', { type: 'message_start', message: { id: 'msg_review', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }],
    ['message_stop', { type: 'message_stop' }],
  ];
  return events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join('');
}

test('an overloaded_error sent mid-stream (after HTTP 200) is retried like a 529', async () => {
  let calls = 0;
  // the real API reports overload during a stream as an SSE `error` event on a 200 response
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': `req_${calls}` });
      if (calls === 1) {
        const start = sseReply('').split('\n\n')[0];
        res.end(`${start}\n\nevent: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`);
      } else {
        res.end(sseReply('hello after retry'));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const provider = new AnthropicProvider({ apiKey: 'test-key', baseUrl: `http://127.0.0.1:${port}`, retry: { maxRetries: 2, baseDelayMs: 1 } });
    const response = await provider.createMessage({ model: 'claude-sonnet-4-6', maxTokens: 100, system: [{ type: 'text', text: 'sys' }], tools: [], messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] });
    assert.equal(calls, 2);
    assert.deepEqual(response.content, [{ type: 'text', text: 'hello after retry' }]);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('the restart note is not lost when the first message after a restart is a duplicate', async () => {
  const h = await startDirectHarness({ runtime: { announceRestart: true } });
  try {
    h.fake.setResponder(() => ({ text: 'ok' }));
    await h.runtime.agent.send({ content: 'First message.', source: 'discord', sourceRef: 'discord:1' });
    await h.restart();
    // a channel catching up after the restart hands over a message that was already answered
    const duplicate = await h.runtime.agent.send({ content: 'First message.', source: 'discord', sourceRef: 'discord:1' });
    assert.equal(duplicate.stopReason, 'duplicate');
    await h.runtime.agent.send({ content: 'Second message.', source: 'discord', sourceRef: 'discord:2' });
    const stored = await h.runtime.store.findMessageBySourceRef('discord:2');
    assert.match(stored!.content, /Lares restarted/);
  } finally {
    await h.close();
  }
});

test('a blank message is refused with a clear error before anything is stored or sent', async () => {
  const h = await startDirectHarness();
  try {
    h.fake.setResponder(() => ({ text: 'Hello.' }));
    await h.runtime.agent.send({ content: 'Hi.', source: 'terminal' });
    const before = (await h.runtime.store.counts()).messages;
    const requests = h.fake.requests.length;
    await assert.rejects(h.runtime.agent.send({ content: '  \n ', source: 'terminal' }), /empty/);
    await assert.rejects(h.runtime.agent.send({ content: [], source: 'terminal' }), /empty/);
    assert.equal((await h.runtime.store.counts()).messages, before);
    assert.equal(h.fake.requests.length, requests, 'no request ending in the assistant\'s own reply (a prefill) was sent');
  } finally {
    await h.close();
  }
});

test('"input length and max_tokens exceed context limit" from the API triggers compaction and one retry', async () => {
  const h = await startDirectHarness();
  try {
    for (let i = 0; i < 6; i++) {
      await h.runtime.store.appendMessages([
        { role: 'user', blocks: [{ type: 'text', text: `Old message ${i} about the garden.` }] },
        { role: 'assistant', blocks: [{ type: 'text', text: `Old reply ${i}.` }] },
      ]);
    }
    let refused = false;
    h.fake.setResponder((request) => {
      if (isSummaryCall(request)) return { text: 'Summary: garden talk.' };
      if (!refused) {
        refused = true;
        // the wording the API uses when input + max_tokens do not fit the model's window
        return { error: { status: 400, type: 'invalid_request_error', message: 'input length and `max_tokens` exceed context limit: 198000 + 4096 > 200000, decrease input length or `max_tokens` and try again' } };
      }
      return { text: 'Fits now.' };
    });
    const result = await h.runtime.agent.send({ content: 'Hello again.', source: 'terminal' });
    assert.equal(result.reply, 'Fits now.');
    assert.ok(h.fake.requests.some(isSummaryCall), 'the refusal led to a compaction');
  } finally {
    await h.close();
  }
});
