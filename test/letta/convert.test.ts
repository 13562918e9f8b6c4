import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LettaHistoryConverter, NO_RESULT_TEXT, type ConvertedMessage } from '../../src/letta/convert.ts';
import { checkToolPairing } from '../../src/letta/history-check.ts';
import { expandRows } from '../../src/letta/message-rows.ts';
import { stripMemorySection } from '../../src/letta/system-prompt.ts';
import type { LettaMessage } from '../../src/letta/types.ts';
import { makeLettaDataset } from '../fakes/letta-dataset.ts';

const date = '2025-03-01T10:00:00+00:00';

function convert(...pages: LettaMessage[][]): ConvertedMessage[] {
  const c = new LettaHistoryConverter();
  const out = pages.flatMap((p) => c.push(p).messages);
  return [...out, ...c.finish().messages];
}

describe('Letta → Lares conversion', () => {
  it('unwraps legacy JSON user messages and keeps heartbeats as system events', () => {
    const out = convert([
      { id: 'message-1', date, message_type: 'user_message', content: JSON.stringify({ type: 'user_message', message: 'hi there', time: 'x' }) },
      { id: 'message-2', date, message_type: 'user_message', content: JSON.stringify({ type: 'heartbeat', reason: 'timer' }) },
    ]);
    assert.deepEqual(out.map((m) => [m.role, m.blocks]), [
      ['user', [{ type: 'text', text: 'hi there' }]],
      ['system', [{ type: 'text', text: JSON.stringify({ type: 'heartbeat', reason: 'timer' }) }]],
    ]);
    assert.equal(out[0].sourceRef, 'letta:message-1:user_message:0');
    assert.equal(out[0].createdAt, '2025-03-01T10:00:00.000Z');
    assert.equal(out[1].metadata.event, 'heartbeat');
  });

  it('turns send_message into assistant text, keeps reasoning as metadata, drops the send_message return', () => {
    const out = convert([
      { id: 'message-a', date, message_type: 'reasoning_message', reasoning: 'User greeted me.' },
      { id: 'message-a', date, message_type: 'tool_call_message', tool_call: { name: 'send_message', arguments: '{"message": "Hello!"}', tool_call_id: 'call_1' }, tool_calls: [{ name: 'send_message', arguments: '{"message": "Hello!"}', tool_call_id: 'call_1' }] },
      { id: 'message-b', date, message_type: 'tool_return_message', tool_return: 'None', status: 'success', tool_call_id: 'call_1', name: 'send_message' },
    ]);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0].blocks, [{ type: 'text', text: 'Hello!' }]);
    assert.deepEqual(out[0].metadata.reasoning, [{ text: 'User greeted me.', signature: null, source: undefined }]);
  });

  it('pairs tool calls with results across a page boundary exactly as within one page', () => {
    const items: LettaMessage[] = [
      { id: 'message-u', date, message_type: 'user_message', content: 'search please' },
      { id: 'message-c', date, message_type: 'tool_call_message', tool_calls: [
        { name: 'web_search', arguments: '{"q": "x"}', tool_call_id: 'call_a' },
        { name: 'web_search', arguments: 'not json', tool_call_id: 'bad id!' },
      ] },
      { id: 'message-r1', date, message_type: 'tool_return_message', tool_returns: [{ tool_call_id: 'call_a', status: 'error', tool_return: 'boom' }] },
      { id: 'message-r2', date, message_type: 'tool_return_message', tool_return: 'ok', status: 'success', tool_call_id: 'bad id!' },
      { id: 'message-n', date, message_type: 'user_message', content: 'thanks' },
    ];
    const whole = convert(items);
    const split = convert(items.slice(0, 2), items.slice(2, 3), items.slice(3));
    assert.deepEqual(split, whole);
    const [, call, results] = whole;
    assert.equal(call.role, 'assistant');
    const uses = call.blocks.filter((b) => b.type === 'tool_use');
    assert.equal(uses.length, 2);
    assert.match((uses[1] as { id: string }).id, /^toolu_letta_[0-9a-f]{24}$/);
    assert.deepEqual((uses[1] as { input: unknown }).input, { arguments: 'not json' });
    assert.deepEqual(results.blocks, [
      { type: 'tool_result', tool_use_id: 'call_a', content: 'boom', is_error: true },
      { type: 'tool_result', tool_use_id: (uses[1] as { id: string }).id, content: 'ok' },
    ]);
    assert.deepEqual(checkToolPairing(whole), []);
  });

  it('answers a call that never got a result, and keeps a result without a call as an event', () => {
    const out = convert([
      { id: 'message-c', date, message_type: 'tool_call_message', tool_calls: [{ name: 'run_shell', arguments: '{}', tool_call_id: 'call_x' }] },
      { id: 'message-u', date, message_type: 'user_message', content: 'are you there?' },
      { id: 'message-r', date, message_type: 'tool_return_message', tool_return: 'late', status: 'success', tool_call_id: 'call_x', name: 'run_shell' },
    ]);
    assert.deepEqual(out.map((m) => m.role), ['assistant', 'user', 'user', 'system']);
    assert.deepEqual(out[1].blocks, [{ type: 'tool_result', tool_use_id: 'call_x', content: NO_RESULT_TEXT, is_error: true }]);
    assert.equal(out[3].metadata.event, 'orphan_tool_result');
    assert.deepEqual(checkToolPairing(out), []);
  });

  it('imports summary alerts as summaries', () => {
    const c = new LettaHistoryConverter();
    const alert = JSON.stringify({ type: 'system_alert', message: 'Note: prior messages have been hidden from view due to conversation memory constraints.\nThe following is a summary of the previous messages:\n We discussed tea.' });
    const out = c.push([{ id: 'message-s', date, message_type: 'user_message', content: alert }]);
    assert.equal(out.messages[0].role, 'system');
    assert.deepEqual(out.summaries, [{ messageRef: 'letta:message-s:user_message:0', summaryRef: 'letta:message-s:user_message:0:summary', summary: 'We discussed tea.', createdAt: '2025-03-01T10:00:00.000Z' }]);
  });

  it('drops an item repeated in the next page (same id, type and position)', () => {
    const item: LettaMessage = { id: 'message-1', date, message_type: 'user_message', content: 'once' };
    const c = new LettaHistoryConverter();
    const out = [...c.push([item]).messages, ...c.push([item]).messages, ...c.finish().messages];
    assert.equal(out.length, 1);
    assert.equal(c.stats.skipped['duplicate item (same id, type and position) already read'], 1);
  });

  it('unwraps the JSON-wrapped text parts of a multi-part user message (text + image), as Letta stores them', () => {
    const wrapped = JSON.stringify({ type: 'user_message', message: 'Look at this 📷', time: '2025-03-01 10:00:00 AM UTC+0000' });
    const out = convert([
      { id: 'message-i', date, message_type: 'user_message', content: [
        { type: 'text', text: wrapped },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        { type: 'text', text: '{"type": "my_json"}' },
      ] },
    ]);
    assert.deepEqual(out.map((m) => [m.role, m.blocks]), [['user', [
      { type: 'text', text: 'Look at this 📷' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'text', text: '{"type": "my_json"}' },
    ]]]);
  });

  it('keeps only images in a format the model accepts (image/jpg normalized), so no stored image fails later requests', () => {
    const image = (media_type: string | undefined) => ({ type: 'image', source: { type: 'base64', data: 'AAAA', ...(media_type ? { media_type } : {}) } });
    const out = convert([
      { id: 'message-p', date, message_type: 'user_message', content: [{ type: 'text', text: 'photos' }, image('image/jpg'), image('image/heic'), image(undefined), image('image/webp')] },
    ]);
    assert.deepEqual(out[0].blocks, [
      { type: 'text', text: 'photos' },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' } },
      { type: 'text', text: '[image not kept: image/heic is not a format the model accepts (JPEG, PNG, GIF, WebP)]' },
      { type: 'text', text: '[image not kept: Letta recorded no media type for it]' },
      { type: 'image', source: { type: 'base64', media_type: 'image/webp', data: 'AAAA' } },
    ]);
  });

  it('a server that sends send_message as assistant_message: its return on the next page is dropped, not kept as an orphan', () => {
    const c = new LettaHistoryConverter();
    const out = [
      ...c.push([{ id: 'message-r', date, message_type: 'assistant_message', content: 'Hello there!' }]).messages,
      ...c.push([{ id: 'message-t', date, message_type: 'tool_return_message', name: 'send_message', tool_return: 'None', status: 'success', tool_call_id: 'call_unseen' }]).messages,
      ...c.finish().messages,
    ];
    assert.deepEqual(out.map((m) => [m.role, m.blocks]), [['assistant', [{ type: 'text', text: 'Hello there!' }]]]);
    assert.equal(c.stats.skipped['send_message return (the message itself is kept as assistant text)'], 1);
  });

  it('a whole generated history passes the strict pairing check', () => {
    const data = makeLettaDataset({ messages: 2000, seed: 99 });
    const items = expandRows(data.rows, { useAssistantMessage: false });
    assert.deepEqual(checkToolPairing(convert(items)), []);
  });
});

describe('the strict pairing check', () => {
  it('finds orphan tool_use, unknown tool_result, bad ids and empty text', () => {
    const problems = checkToolPairing([
      { role: 'user', blocks: [{ type: 'text', text: '  ' }] },
      { role: 'assistant', blocks: [{ type: 'tool_use', id: 'a.b', name: 'x', input: {} }] },
      { role: 'user', blocks: [{ type: 'tool_result', tool_use_id: 'zzz', content: 'r' }] },
    ]);
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('non-whitespace')));
    assert.ok(problems.some((p) => p.includes('without tool_result')));
    assert.ok(problems.some((p) => p.includes('unexpected tool_use_id')));
    assert.ok(problems.some((p) => p.includes('does not match')));
  });
});

describe('base instructions from a Letta system prompt', () => {
  it('removes the rendered memory section and the {CORE_MEMORY} placeholder', () => {
    assert.equal(stripMemorySection('You are Lares.\n\n{CORE_MEMORY}'), 'You are Lares.');
    assert.equal(stripMemorySection('Be kind.\n\n<memory_blocks>\n<persona>\nx\n</persona>\n</memory_blocks>\n\n<memory_metadata>\n- AGENT_ID: a\n</memory_metadata>\nAfter.'), 'Be kind.\n\nAfter.');
  });
});

describe('a step with allowed calls and calls needing approval', () => {
  it('joins the approval row to the waiting assistant message so every call is answered in the next message', () => {
    const out = convert([
      { id: 'message-a', date, message_type: 'tool_call_message', tool_calls: [{ name: 'read_file', arguments: '{"path":"a"}', tool_call_id: 'call_r' }] },
      { id: 'message-b', date, message_type: 'approval_request_message', tool_calls: [{ name: 'write_file', arguments: '{"path":"b"}', tool_call_id: 'call_w' }] },
      { id: 'message-c', date, message_type: 'tool_return_message', tool_return: 'contents', status: 'success', tool_call_id: 'call_r' },
      { id: 'message-d', date, message_type: 'approval_response_message', approvals: [{ type: 'approval', tool_call_id: 'call_w', approve: true }] },
      { id: 'message-e', date, message_type: 'tool_return_message', tool_return: 'written', status: 'success', tool_call_id: 'call_w' },
    ]);
    assert.deepEqual(out.map((m) => m.role), ['assistant', 'system', 'user']);
    assert.deepEqual(out[0].blocks.map((b) => (b as { id: string }).id), ['call_r', 'call_w']);
    assert.deepEqual(out[2].blocks.map((b) => [(b as { tool_use_id: string }).tool_use_id, (b as { content: string }).content]), [['call_r', 'contents'], ['call_w', 'written']]);
    assert.deepEqual(checkToolPairing(out), []);
  });
});

describe('tool call ids', () => {
  it('renames ids the API would refuse or that repeat, and still pairs each result with its call', () => {
    const call = (id: string, tool: string): LettaMessage => ({ id, date, message_type: 'tool_call_message', tool_calls: [{ name: tool, arguments: '{}', tool_call_id: 'dup' }, { name: tool, arguments: '{}', tool_call_id: 'has space' }] });
    const ret = (id: string, callId: string, text: string): LettaMessage => ({ id, date, message_type: 'tool_return_message', tool_return: text, status: 'success', tool_call_id: callId });
    const out = convert([
      call('message-1', 'a'), ret('message-2', 'dup', 'first a'), ret('message-3', 'has space', 'second a'),
      call('message-4', 'b'), ret('message-5', 'dup', 'first b'), ret('message-6', 'has space', 'second b'),
    ]);
    const ids = out.flatMap((m) => m.blocks.filter((b) => b.type === 'tool_use').map((b) => (b as { id: string }).id));
    assert.equal(new Set(ids).size, 4);
    assert.equal(ids[0], 'dup');
    assert.deepEqual(out[3].blocks.map((b) => (b as { content: string }).content), ['first b', 'second b']);
    assert.deepEqual(checkToolPairing(out), []);
  });
});
