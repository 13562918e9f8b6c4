import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ToolResultBlock } from '../../src/llm/content.ts';
import { startDirectHarness, type DirectHarness } from '../support/direct.ts';

function lastUserText(body: any): string {
  const last = body.messages[body.messages.length - 1];
  const blocks = typeof last.content === 'string' ? [{ type: 'text', text: last.content }] : last.content;
  return blocks.filter((b: any) => b.type === 'text').map((b: any) => b.text).join(' ');
}

describe('orchestrator tool loop', () => {
  let h: DirectHarness;
  before(async () => { h = await startDirectHarness(); });
  after(async () => { await h.close(); });

  test('a plain turn stores the message and the reply, and sends blocks in the system prompt', async () => {
    h.fake.enqueue({ text: 'Hello! Nice to meet you.' });
    const result = await h.runtime.agent.send({ content: 'Hi, I am Ada.', source: 'terminal' });
    assert.equal(result.reply, 'Hello! Nice to meet you.');
    assert.equal(result.stopReason, 'end_turn');
    const request = h.fake.requests.at(-1)!.body;
    const system = request.system.map((b: any) => b.text).join('\n');
    for (const label of ['persona', 'human', 'state', 'ideas']) assert.match(system, new RegExp(`<${label}>`));
    assert.match(system, /chars_current=\d+ chars_limit=5000/);
    const stored = await h.runtime.store.recentMessages(2);
    assert.deepEqual(stored.map((m) => [m.role, m.content]), [['assistant', 'Hello! Nice to meet you.'], ['user', 'Hi, I am Ada.']]);
    const usage = await h.runtime.store.lastUsage();
    assert.ok(usage && usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens > 0);
  });

  test('parallel tool calls are all answered, and a memory edit lands in the block and its history', async () => {
    h.fake.enqueue(
      { toolUses: [
        { name: 'memory_replace', input: { label: 'human', old_string: 'I have not learned much about my person yet.', new_string: 'My person is Ada.' } },
        { name: 'archival_memory_insert', input: { content: 'Ada likes tea', tags: ['prefs'] } },
        { name: 'no_such_tool', input: {} },
      ] },
      { text: 'Noted, Ada.' },
    );
    const result = await h.runtime.agent.send({ content: 'Remember my name.', source: 'terminal' });
    assert.equal(result.reply, 'Noted, Ada.');
    assert.equal(result.toolCalls, 3);
    const second = h.fake.requests.at(-1)!.body;
    const results: ToolResultBlock[] = second.messages.at(-1).content;
    assert.equal(results.length, 3);
    assert.match(String(results[0].content), /My person is Ada\./);
    assert.equal(results[0].is_error, undefined);
    assert.equal(results[2].is_error, true);
    assert.match(String(results[2].content), /Unknown tool "no_such_tool"/);
    const human = await h.runtime.store.getBlock('human');
    assert.match(human!.content, /^My person is Ada\./);
    const history = await h.runtime.store.blockHistory('human');
    assert.equal(history.at(-1)!.actor, 'agent:memory_replace');
    assert.equal((await h.runtime.store.searchPassages('tea'))[0].text, 'Ada likes tea');
    // the edit is folded into the system prompt of the next turn
    h.fake.enqueue({ text: 'Yes.' });
    await h.runtime.agent.send({ content: 'Do you know me?', source: 'terminal' });
    assert.match(h.fake.requests.at(-1)!.body.system.map((b: any) => b.text).join(''), /My person is Ada\./);
  });

  test('bad tool arguments go back to the model naming the field', async () => {
    h.fake.enqueue({ toolUses: [{ name: 'memory_insert', input: { label: 42 } }] }, { text: 'Let me fix that.' });
    await h.runtime.agent.send({ content: 'Note something.', source: 'terminal' });
    const result = h.fake.requests.at(-1)!.body.messages.at(-1).content[0];
    assert.equal(result.is_error, true);
    assert.match(result.content, /Invalid arguments for memory_insert: label: .*new_string/s);
  });

  test('the tool loop stops at LARES_MAX_TOOL_ITERATIONS with a clear reply and a valid history', async () => {
    const limited = await startDirectHarness({ env: { LARES_MAX_TOOL_ITERATIONS: '3' } });
    try {
      limited.fake.setResponder(() => ({ toolUses: [{ name: 'conversation_search', input: { query: 'anything' } }] }));
      const result = await limited.runtime.agent.send({ content: 'Loop forever.', source: 'terminal' });
      assert.equal(result.incomplete, true);
      assert.equal(result.stopReason, 'tool_iteration_limit');
      assert.match(result.reply, /stopped after 3 rounds of tool calls/);
      assert.equal(limited.fake.requests.length, 3);
      // the stored history is accepted by the strict fake on the next turn
      limited.fake.setResponder(() => ({ text: 'ok' }));
      const next = await limited.runtime.agent.send({ content: 'Thanks.', source: 'terminal' });
      assert.equal(next.reply, 'ok');
    } finally {
      await limited.close();
    }
  });
});

describe('stop reasons', () => {
  let h: DirectHarness;
  before(async () => { h = await startDirectHarness(); });
  after(async () => { await h.close(); });

  test('max_tokens: the text is kept and the person is told it was cut off', async () => {
    h.fake.enqueue({ text: 'The first half of a long', stopReason: 'max_tokens' });
    const result = await h.runtime.agent.send({ content: 'Tell me a long story.', source: 'terminal' });
    assert.equal(result.incomplete, true);
    assert.match(result.reply, /^The first half of a long\n\n\[My reply was cut off/);
  });

  test('max_tokens in the middle of a tool call: the call is not run and is answered with an error', async () => {
    h.fake.enqueue({ toolUses: [{ name: 'memory_rethink', input: { label: 'ideas' } }], stopReason: 'max_tokens' }, { text: 'Retrying later.' });
    const before = (await h.runtime.store.getBlock('ideas'))!.content;
    await h.runtime.agent.send({ content: 'Rewrite ideas.', source: 'terminal' });
    assert.equal((await h.runtime.store.getBlock('ideas'))!.content, before);
    const result = h.fake.requests.at(-1)!.body.messages.at(-1).content[0];
    assert.equal(result.is_error, true);
    assert.match(result.content, /cut off/);
  });

  test('pause_turn: the turn is continued with the paused content', async () => {
    h.fake.enqueue({ text: 'Working on it…', stopReason: 'pause_turn' }, { text: 'Done.' });
    const result = await h.runtime.agent.send({ content: 'Research this.', source: 'terminal' });
    assert.equal(result.reply, 'Working on it…\n\nDone.');
    assert.equal(h.fake.requests.at(-1)!.body.messages.at(-1).role, 'assistant');
  });

  test('refusal: a clear reply, and the next turn still works', async () => {
    h.fake.enqueue({ stopReason: 'refusal' });
    const result = await h.runtime.agent.send({ content: 'Something bad.', source: 'terminal' });
    assert.equal(result.incomplete, true);
    assert.match(result.reply, /declined/);
    h.fake.enqueue({ text: 'Hi again.' });
    assert.equal((await h.runtime.agent.send({ content: 'Hello?', source: 'terminal' })).reply, 'Hi again.');
    // the refused turn is stored, but left out of what the model sees (or it would keep refusing)
    const sent = JSON.stringify(h.fake.requests.at(-1)!.body.messages);
    assert.doesNotMatch(sent, /Something bad\./);
    assert.match(sent, /Hello\?/);
    assert.equal((await h.runtime.store.searchMessages('Something bad'))[0]?.content, 'Something bad.');
  });

  test('model_context_window_exceeded: reported as cut off', async () => {
    h.fake.enqueue({ text: 'Partial', stopReason: 'model_context_window_exceeded' });
    const result = await h.runtime.agent.send({ content: 'Go on.', source: 'terminal' });
    assert.match(result.reply, /context window/);
  });

  test('stop_sequence and end_turn end the turn normally', async () => {
    h.fake.enqueue({ text: 'Stopped here', stopReason: 'stop_sequence' });
    const result = await h.runtime.agent.send({ content: 'Say something.', source: 'terminal' });
    assert.equal(result.incomplete, false);
    assert.equal(result.reply, 'Stopped here');
  });
});

describe('retries and failures', () => {
  test('529 and 429 (with retry-after) are retried; the turn succeeds', async () => {
    const h = await startDirectHarness();
    try {
      h.fake.enqueue(
        { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } },
        { error: { status: 429, type: 'rate_limit_error', message: 'Rate limited', headers: { 'retry-after': '0' } } },
        { text: 'Made it.' },
      );
      const result = await h.runtime.agent.send({ content: 'Hello', source: 'terminal' });
      assert.equal(result.reply, 'Made it.');
      assert.equal(h.fake.requests.length, 3);
    } finally {
      await h.close();
    }
  });

  test('a spend-limit 429 is not retried; the error is clear and the history stays valid', async () => {
    const h = await startDirectHarness();
    try {
      h.fake.enqueue({ error: { status: 429, type: 'rate_limit_error', message: 'You have reached your specified workspace API spend limit' } });
      await assert.rejects(h.runtime.agent.send({ content: 'Hello', source: 'terminal' }), /spend limit/);
      assert.equal(h.fake.requests.length, 1);
      h.fake.enqueue({ text: 'Back.' });
      assert.equal((await h.runtime.agent.send({ content: 'Again', source: 'terminal' })).reply, 'Back.');
    } finally {
      await h.close();
    }
  });

  test('a wrong key gives a message that names ANTHROPIC_API_KEY', async () => {
    const h = await startDirectHarness({ env: { ANTHROPIC_API_KEY: 'wrong' } });
    try {
      await assert.rejects(h.runtime.agent.send({ content: 'Hello', source: 'terminal' }), /ANTHROPIC_API_KEY/);
    } finally {
      await h.close();
    }
  });
});

describe('crash safety', () => {
  test('a crash between tool_use and tool_result leaves a history the API accepts', async () => {
    const h = await startDirectHarness();
    try {
      // simulate the crash: the assistant tool_use is stored, the process dies before results
      await h.runtime.store.appendMessages([
        { role: 'user', blocks: [{ type: 'text', text: 'Write a note.' }] },
        { role: 'assistant', blocks: [{ type: 'tool_use', id: 'toolu_crash1', name: 'archival_memory_insert', input: { content: 'x' } }] },
      ]);
      await h.restart();
      h.fake.enqueue({ text: 'I was interrupted; let me check.' });
      const result = await h.runtime.agent.send({ content: 'Did it work?', source: 'terminal' });
      assert.equal(result.reply, 'I was interrupted; let me check.');
      const sent = h.fake.requests.at(-1)!.body.messages;
      const repair = sent.find((m: any) => m.role === 'user' && Array.isArray(m.content) && m.content.some((b: any) => b.tool_use_id === 'toolu_crash1'));
      assert.ok(repair, 'the dangling tool_use is answered');
      assert.match(repair.content[0].content, /interrupted/);
      const stored = await h.runtime.store.uncompactedMessages();
      assert.ok(stored.some((m) => m.metadata?.source === 'repair'), 'the repair is stored, not only sent');
    } finally {
      await h.close();
    }
  });

  test('turns of one conversation run one at a time, in order', async () => {
    const h = await startDirectHarness();
    try {
      let active = 0;
      let maxActive = 0;
      h.fake.setResponder(async (request) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setImmediate(r));
        active--;
        return { text: `re: ${lastUserText(request.body)}` };
      });
      const replies = await Promise.all(['one', 'two', 'three'].map((m) => h.runtime.agent.send({ content: m, source: 'terminal' })));
      assert.deepEqual(replies.map((r) => r.reply), ['re: one', 're: two', 're: three']);
      assert.equal(maxActive, 1);
    } finally {
      await h.close();
    }
  });

  test('a message with a known sourceRef is not answered twice', async () => {
    const h = await startDirectHarness();
    try {
      h.fake.enqueue({ text: 'first' });
      await h.runtime.agent.send({ content: 'hi', source: 'discord', sourceRef: 'discord:1' });
      const again = await h.runtime.agent.send({ content: 'hi', source: 'discord', sourceRef: 'discord:1' });
      assert.equal(again.stopReason, 'duplicate');
      assert.equal(h.fake.requests.length, 1);
    } finally {
      await h.close();
    }
  });
});
