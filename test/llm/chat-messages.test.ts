// The mapping between stored (Anthropic-shaped) blocks and Chat Completions messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INVALID_ARGUMENTS_KEY, type ApiMessage } from '../../src/llm/content.ts';
import { parseArguments, replyBlocks, stripThinking, ThinkingFilter, toChatMessages, toChatToolCallId, toStopReason } from '../../src/llm/openai/chat-messages.ts';
import { toAnthropicToolId } from '../../src/llm/anthropic/anthropic-provider.ts';

const on = { tools: true, images: true };

test('a tool round trip becomes assistant tool_calls followed by one tool message per result, then the text', () => {
  const messages: ApiMessage[] = [
    { role: 'user', content: [{ type: 'text', text: 'What is in notes.txt?' }] },
    { role: 'assistant', content: [
      { type: 'thinking', thinking: 'hmm', signature: 'sig' },
      { type: 'text', text: 'Let me look.' },
      { type: 'tool_use', id: 'toolu_01A', name: 'read_file', input: { path: 'notes.txt' } },
      { type: 'tool_use', id: 'toolu_01B', name: 'list_dir', input: { path: '.' } },
    ] },
    { role: 'user', content: [
      { type: 'tool_result', tool_use_id: 'toolu_01A', content: 'milk, eggs' },
      { type: 'tool_result', tool_use_id: 'toolu_01B', content: 'no such directory', is_error: true },
      { type: 'text', text: '[note] the owner is away' },
    ] },
  ];
  const chat = toChatMessages({ system: [{ type: 'text', text: 'You are Lares.' }, { type: 'text', text: '<human>Ada</human>' }], messages }, on);
  assert.deepEqual(chat, [
    { role: 'system', content: 'You are Lares.\n\n<human>Ada</human>' },
    { role: 'user', content: 'What is in notes.txt?' },
    { role: 'assistant', content: 'Let me look.', tool_calls: [
      { id: 'toolu_01A', type: 'function', function: { name: 'read_file', arguments: '{"path":"notes.txt"}' } },
      { id: 'toolu_01B', type: 'function', function: { name: 'list_dir', arguments: '{"path":"."}' } },
    ] },
    { role: 'tool', tool_call_id: 'toolu_01A', content: 'milk, eggs' },
    { role: 'tool', tool_call_id: 'toolu_01B', content: 'Error: no such directory' },
    { role: 'user', content: '[note] the owner is away' },
  ]);
});

test('images go as image_url parts; a tool\'s images follow its tool message in a user message', () => {
  const messages: ApiMessage[] = [
    { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'screenshot', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'taken' }, { type: 'image', source: { type: 'url', url: 'https://example.org/a.png' } }] }] },
  ];
  const chat = toChatMessages({ system: [], messages }, on);
  assert.deepEqual(chat[0], { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] });
  assert.deepEqual(chat[2], { role: 'tool', tool_call_id: 'call_1', content: 'taken' });
  assert.deepEqual(chat[3], { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.org/a.png' } }] });
  // a text-only model is told an image was there
  assert.deepEqual(toChatMessages({ system: [], messages: [messages[0]] }, { tools: true, images: false })[0], { role: 'user', content: 'Look\n[image]' });
});

test('a model without tools sees earlier calls and results as text', () => {
  const messages: ApiMessage[] = [
    { role: 'user', content: [{ type: 'text', text: 'hi' }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'memory_insert', input: { label: 'human', content: 'x' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'saved' }] },
  ];
  const chat = toChatMessages({ system: [], messages }, { tools: false, images: true });
  assert.ok(chat.every((m) => m.role !== 'tool' && !('tool_calls' in m)));
  assert.match(String(chat[1].content), /called the tool memory_insert/);
  assert.match(String(chat[2].content), /\[tool result\] saved/);
});

test('ids each side would refuse are mapped, the same way on both sides of a pair', () => {
  const long = `toolu_${'x'.repeat(60)}`;
  assert.equal(toChatToolCallId('call_abc'), 'call_abc');
  assert.equal(toChatToolCallId(long).length <= 40, true);
  assert.equal(toChatToolCallId(long), toChatToolCallId(long));
  assert.notEqual(toChatToolCallId(long), toChatToolCallId(`${long}y`));
  assert.equal(toAnthropicToolId('toolu_01'), 'toolu_01');
  assert.match(toAnthropicToolId('chatcmpl-tool:7.x'), /^toolu_[0-9a-f]{32}$/);
});

test('replies: missing and repeated ids get fresh ones, broken JSON is kept for the tool to refuse, <think> is dropped', () => {
  const blocks = replyBlocks('<think>the user wants a file</think>\nSure.', [
    { name: 'read_file', arguments: '{"path":"a"}' },
    { id: 'call_same', name: 'read_file', arguments: '{"path":"b"}' },
    { id: 'call_same', name: 'read_file', arguments: '{"path": "c"' },
  ]);
  assert.deepEqual(blocks[0], { type: 'text', text: 'Sure.' });
  const uses = blocks.slice(1) as Array<{ id: string; input: Record<string, unknown> }>;
  assert.equal(new Set(uses.map((u) => u.id)).size, 3);
  assert.equal(uses[1].id, 'call_same');
  assert.deepEqual(uses[2].input, { [INVALID_ARGUMENTS_KEY]: '{"path": "c"' });
  assert.deepEqual(parseArguments(''), {});
  assert.deepEqual(parseArguments('[1]'), { [INVALID_ARGUMENTS_KEY]: '[1]' });
  assert.equal(stripThinking('<think>unfinished'), '');
});

test('finish reasons map onto the stop reasons the orchestrator handles', () => {
  assert.equal(toStopReason('stop', false), 'end_turn');
  assert.equal(toStopReason('stop', true), 'tool_use'); // some servers say stop with tool calls
  assert.equal(toStopReason('tool_calls', true), 'tool_use');
  assert.equal(toStopReason('length', true), 'max_tokens');
  assert.equal(toStopReason('content_filter', false), 'refusal');
  assert.equal(toStopReason(null, false), 'end_turn');
});

test('streamed text: a leading <think> section is held back, split across chunks', () => {
  const seen: string[] = [];
  const filter = new ThinkingFilter((t) => seen.push(t));
  for (const piece of ['<th', 'ink>I should', ' greet</th', 'ink>\n', 'Hello', ' there']) filter.push(piece);
  assert.equal(seen.join(''), 'Hello there');
  const plain: string[] = [];
  const passthrough = new ThinkingFilter((t) => plain.push(t));
  for (const piece of ['<', 'b>bold</b>', ' ok']) passthrough.push(piece);
  assert.equal(plain.join(''), '<b>bold</b> ok');
});

test('streamed tool calls: OpenAI\'s indices, every call at index 0 with its own id (Ollama, LiteLLM), and no index at all', async () => {
  const { ToolCallCollector } = await import('../../src/llm/openai/chat-messages.ts');
  const openai = new ToolCallCollector();
  for (const part of [
    { index: 0, id: 'call_a', function: { name: 'read_file', arguments: '' } }, { index: 1, id: 'call_b', function: { name: 'list_dir', arguments: '{"pa' } },
    { index: 0, function: { arguments: '{"path":"a"}' } }, { index: 1, function: { arguments: 'th":"."}' } },
  ]) openai.push(part);
  assert.deepEqual(openai.complete(), [{ id: 'call_a', name: 'read_file', arguments: '{"path":"a"}' }, { id: 'call_b', name: 'list_dir', arguments: '{"path":"."}' }]);
  const sameIndex = new ToolCallCollector();
  for (const part of [
    { index: 0, id: 'call_1', function: { name: 'a', arguments: '{"a":' } }, { index: 0, function: { arguments: '1}' } },
    { index: 0, id: 'call_2', function: { name: 'b', arguments: '{"b":2}' } },
  ]) sameIndex.push(part);
  assert.deepEqual(sameIndex.complete(), [{ id: 'call_1', name: 'a', arguments: '{"a":1}' }, { id: 'call_2', name: 'b', arguments: '{"b":2}' }]);
  const noIndex = new ToolCallCollector();
  for (const part of [{ id: 'x1', function: { name: 'a', arguments: '{}' } }, { id: 'x2', function: { name: 'b', arguments: '{}' } }]) noIndex.push(part);
  assert.equal(noIndex.complete().length, 2);
});

test('a call whose arguments were broken is replayed as a JSON object (Ollama refuses anything else)', () => {
  const chat = toChatMessages({ system: [], messages: [
    { role: 'user', content: [{ type: 'text', text: 'go' }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'read_file', input: { [INVALID_ARGUMENTS_KEY]: '{"path": "a' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'not valid JSON', is_error: true }] },
  ] }, on);
  const args = (chat[1] as { tool_calls: Array<{ function: { arguments: string } }> }).tool_calls[0].function.arguments;
  assert.deepEqual(JSON.parse(args), { [INVALID_ARGUMENTS_KEY]: '{"path": "a' });
});

test('Mistral\'s API gets 9-character alphanumeric ids, the same on both sides of a pair', () => {
  const chat = toChatMessages({ system: [], messages: [
    { role: 'user', content: [{ type: 'text', text: 'go' }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01ABCDEF', name: 'x', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01ABCDEF', content: 'ok' }] },
  ] }, { ...on, idStyle: 'mistral' });
  const id = (chat[1] as { tool_calls: Array<{ id: string }> }).tool_calls[0].id;
  assert.match(id, /^[A-Za-z0-9]{9}$/);
  assert.equal((chat[2] as { tool_call_id: string }).tool_call_id, id);
});
