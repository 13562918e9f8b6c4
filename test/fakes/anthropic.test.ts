// The fake Anthropic API, driven by the real @anthropic-ai/sdk: replies, streaming, tool use,
// strict validation, errors and retries, prompt caching, and token counting.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic, { AuthenticationError, BadRequestError, OverloadedError, RateLimitError } from '@anthropic-ai/sdk';
import { echoResponder, startFakeAnthropic, tokenize } from './anthropic.ts';
import type { FakeAnthropic } from './anthropic.ts';

const MODEL = 'claude-sonnet-4-6';
let fake: FakeAnthropic;
let client: Anthropic;

before(async () => {
  fake = await startFakeAnthropic();
  client = new Anthropic({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 0 });
});
after(async () => {
  await fake.close();
});

/** A long, stable system prompt: comfortably over the 1024-token minimum cacheable length. */
const LONG_SYSTEM = Array.from({ length: 300 }, (_, i) => `Rule ${i}: keep the owner's memory blocks accurate and brief.`).join('\n');

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the request to be rejected');
}

test('a non-streaming request gets the default echo reply with real message fields', async () => {
  const body = { model: MODEL, max_tokens: 256, messages: [{ role: 'user' as const, content: 'hello there' }] };
  const message = await client.messages.create(body);
  assert.equal(message.type, 'message');
  assert.equal(message.role, 'assistant');
  assert.equal(message.model, MODEL);
  assert.match(message.id, /^msg_/);
  assert.deepEqual(message.content, [{ type: 'text', text: 'echo: hello there' }]);
  assert.equal(message.stop_reason, 'end_turn');
  assert.equal(message.usage.input_tokens, fake.countTokens(body));
  assert.equal(message.usage.cache_read_input_tokens, 0);
  assert.equal(message.usage.cache_creation_input_tokens, 0);
  assert.equal(message.usage.output_tokens, tokenize('echo: hello there'));
  assert.match((message as any)._request_id, /^req_/);
  const recorded = fake.requests.at(-1)!;
  assert.equal(recorded.path, '/v1/messages');
  assert.deepEqual(recorded.body.messages, body.messages);
  assert.deepEqual(recorded.usage, message.usage);
});

test('streaming delivers text events and a final message through the SDK', async () => {
  const reply = 'The quick brown fox jumps over the lazy dog, then naps in the afternoon sun.';
  fake.enqueue({ text: reply });
  const stream = client.messages.stream({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'tell me a story' }] });
  const deltas: string[] = [];
  stream.on('text', (delta) => deltas.push(delta));
  const message = await stream.finalMessage();
  assert.ok(deltas.length > 1, 'text arrives in several deltas');
  assert.equal(deltas.join(''), reply);
  assert.deepEqual(message.content, [{ type: 'text', text: reply }]);
  assert.equal(message.stop_reason, 'end_turn');
  assert.equal(message.usage.output_tokens, tokenize(reply));
  assert.ok(message.usage.input_tokens > 0);
});

test('streamed tool_use input arrives as input_json deltas the SDK reassembles, thinking keeps its signature', async () => {
  const tools = [{
    name: 'get_weather',
    description: 'Weather forecast for a city',
    input_schema: { type: 'object' as const, properties: { city: { type: 'string' }, days: { type: 'array', items: { type: 'integer' } } }, required: ['city'] },
  }];
  const input = { city: 'Paris', days: [1, 2, 3], note: 'a longer string so the JSON spans several chunks' };
  fake.enqueue({ thinking: 'The user wants the weather, so I call the tool.', toolUses: [{ name: 'get_weather', input }] });
  const stream = client.messages.stream({
    model: MODEL,
    max_tokens: 4096,
    thinking: { type: 'enabled', budget_tokens: 2048 },
    tools,
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  });
  const jsonDeltas: string[] = [];
  stream.on('inputJson', (partial) => jsonDeltas.push(partial));
  const message = await stream.finalMessage();
  assert.ok(jsonDeltas.length > 2, 'tool input arrives in several chunks');
  assert.equal(message.stop_reason, 'tool_use');
  const [thinking, toolUse] = message.content;
  assert.equal(thinking.type, 'thinking');
  assert.ok(thinking.type === 'thinking' && thinking.signature.length > 0);
  assert.equal(toolUse.type, 'tool_use');
  assert.ok(toolUse.type === 'tool_use');
  assert.match(toolUse.id, /^toolu_/);
  assert.equal(toolUse.name, 'get_weather');
  assert.deepEqual(toolUse.input, input);

  // The turn, replayed with its tool_result, is accepted.
  const next = await client.messages.create({
    model: MODEL,
    max_tokens: 4096,
    thinking: { type: 'enabled', budget_tokens: 2048 },
    tools,
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: message.content.map((b: any) => (b.type === 'thinking' ? { type: 'thinking', thinking: b.thinking, signature: b.signature } : { type: b.type, id: b.id, name: b.name, input: b.input })) },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: 'Sunny, 21°C' }] },
    ],
  });
  assert.deepEqual(next.content, [{ type: 'text', text: 'echo: Sunny, 21°C' }]);
});

test('a wrong API key is rejected with 401 authentication_error', async () => {
  const wrong = new Anthropic({ apiKey: 'not-the-key', baseURL: fake.url, maxRetries: 0 });
  const error = await rejection(wrong.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }));
  assert.ok(error instanceof AuthenticationError);
  assert.equal(error.status, 401);
  assert.equal(error.type, 'authentication_error');
  assert.equal(error.apiMessage, 'invalid x-api-key');
  assert.match(String(error.requestID), /^req_/);
  const recorded = fake.requests.at(-1)!;
  assert.equal(recorded.usage, undefined);
  assert.equal(recorded.body.messages[0].content, 'hi', 'rejected requests are recorded with their body');
});

test('requests without anthropic-version or with an unknown path are rejected like the real API', async () => {
  const noVersion = await fetch(`${fake.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': fake.apiKey },
    body: JSON.stringify({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(noVersion.status, 400);
  const payload: any = await noVersion.json();
  assert.equal(payload.type, 'error');
  assert.deepEqual(payload.error, { type: 'invalid_request_error', message: 'anthropic-version: header is required' });
  assert.match(payload.request_id, /^req_/);

  const notJson = await fetch(`${fake.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': fake.apiKey, 'anthropic-version': '2023-06-01' },
    body: '{"model": ',
  });
  assert.equal(notJson.status, 400);
  assert.match(((await notJson.json()) as any).error.message, /not valid JSON/);

  const unknown = await fetch(`${fake.url}/v1/nothing`, { method: 'POST', headers: { 'x-api-key': fake.apiKey, 'anthropic-version': '2023-06-01' }, body: '{}' });
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as any).error.type, 'not_found_error');
});

test('a tool_use without a tool_result in the next message is rejected with the real message', async () => {
  const error = await rejection(client.messages.create({
    model: MODEL,
    max_tokens: 100,
    messages: [
      { role: 'user', content: 'list files' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01abc', name: 'ls', input: {} }] },
      { role: 'user', content: 'never mind' },
    ],
  }));
  assert.ok(error instanceof BadRequestError);
  assert.equal(error.apiMessage, 'messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01abc. Each `tool_use` block must have a corresponding `tool_result` block in the next message.');
});

test('tool_result pairing, order and tool_use id uniqueness are enforced', async () => {
  const orphan = await rejection(client.messages.create({
    model: MODEL,
    max_tokens: 100,
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_ghost', content: 'x' }] },
    ],
  }));
  assert.equal(orphan.apiMessage, 'messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_ghost. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.');

  const late = await rejection(client.messages.create({
    model: MODEL,
    max_tokens: 100,
    messages: [
      { role: 'user', content: 'list files' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'ls', input: {} }] },
      { role: 'user', content: [{ type: 'text', text: 'here you go' }, { type: 'tool_result', tool_use_id: 'toolu_1', content: 'a.txt' }] },
    ],
  }));
  assert.match(late.apiMessage, /^messages\.2: Did not find 1 `tool_result` block\(s\) at the beginning of this message/);

  const duplicate = await rejection(client.messages.create({
    model: MODEL,
    max_tokens: 100,
    messages: [
      { role: 'user', content: 'list files' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'ls', input: {} }, { type: 'tool_use', id: 'toolu_1', name: 'ls', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'a.txt' }] },
    ],
  }));
  assert.equal(duplicate.apiMessage, 'messages.1.content.1: `tool_use` ids must be unique');
});

test('malformed requests get 400 invalid_request_error naming the field', async () => {
  const cases: Array<[any, string]> = [
    [{ model: MODEL, max_tokens: 10, messages: [] }, 'messages: at least one message is required'],
    [{ model: MODEL, max_tokens: 0, messages: [{ role: 'user', content: 'hi' }] }, 'max_tokens: Input should be greater than or equal to 1'],
    [{ model: MODEL, max_tokens: 10, messages: [{ role: 'assistant', content: 'hi' }, { role: 'user', content: 'x' }] }, 'messages: first message must use the "user" role'],
    [{ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }, 'messages: text content blocks must be non-empty'],
    [{ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], bogus: 1 }, 'bogus: Extra inputs are not permitted'],
    [{ model: MODEL, max_tokens: 10, system: [{ type: 'image' }], messages: [{ role: 'user', content: 'hi' }] }, "system.0.type: Input should be 'text'"],
    [{ model: MODEL, max_tokens: 10, tools: [{ name: 'bad.name', input_schema: { type: 'object' } }], messages: [{ role: 'user', content: 'hi' }] }, "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'"],
    [{ model: MODEL, max_tokens: 10, tools: [{ name: 'a', input_schema: { type: 'object' } }, { name: 'a', input_schema: { type: 'object' } }], messages: [{ role: 'user', content: 'hi' }] }, 'tools: Tool names must be unique.'],
    [{ model: MODEL, max_tokens: 10, tools: [{ name: 'a', input_schema: { type: 'string' } }], messages: [{ role: 'user', content: 'hi' }] }, "tools.0.custom.input_schema.type: Input should be 'object'"],
    [{ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm' }] }] }, 'messages.1.content.0.thinking.signature: Field required'],
  ];
  for (const [body, message] of cases) {
    const error = await rejection(client.messages.create(body));
    assert.ok(error instanceof BadRequestError, `expected 400 for ${message}`);
    assert.equal(error.apiMessage, message);
  }
});

test('more than 4 cache_control breakpoints are rejected', async () => {
  const cc = { type: 'ephemeral' as const };
  const error = await rejection(client.messages.create({
    model: MODEL,
    max_tokens: 10,
    system: [{ type: 'text', text: 'one', cache_control: cc }, { type: 'text', text: 'two', cache_control: cc }],
    messages: [{
      role: 'user',
      content: [{ type: 'text', text: 'a', cache_control: cc }, { type: 'text', text: 'b', cache_control: cc }, { type: 'text', text: 'c', cache_control: cc }],
    }],
  }));
  assert.ok(error instanceof BadRequestError);
  assert.equal(error.apiMessage, 'A maximum of 4 blocks with cache_control may be provided. Found 5.');
});

test('prompt caching: a repeated prefix is read from cache, and a growing conversation reads the earlier prefix', async () => {
  const local = await startFakeAnthropic();
  try {
    const sdk = new Anthropic({ apiKey: local.apiKey, baseURL: local.url, maxRetries: 0 });
    const cc = { type: 'ephemeral' as const };
    const system = [{ type: 'text' as const, text: LONG_SYSTEM, cache_control: cc }];
    const first = { model: MODEL, max_tokens: 100, system, messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'What is on my list today?', cache_control: cc }] }] };

    const cold = await sdk.messages.create(first);
    const total = local.countTokens(first);
    assert.equal(cold.usage.cache_read_input_tokens, 0);
    assert.equal(cold.usage.cache_creation_input_tokens, total, 'everything up to the last breakpoint is written');
    assert.equal(cold.usage.input_tokens, 0);

    const warm = await sdk.messages.create(first);
    assert.equal(warm.usage.cache_read_input_tokens, total);
    assert.equal(warm.usage.cache_creation_input_tokens, 0);
    assert.equal(warm.usage.input_tokens, 0);

    // The next turn moves the breakpoint to the new last message; the earlier prefix is found
    // by the lookback and only the new part is written.
    const second = {
      ...first,
      messages: [
        { role: 'user' as const, content: [{ type: 'text' as const, text: 'What is on my list today?' }] },
        { role: 'assistant' as const, content: cold.content.map((b: any) => ({ type: 'text' as const, text: b.text })) },
        { role: 'user' as const, content: [{ type: 'text' as const, text: 'Add buying milk.', cache_control: cc }] },
      ],
    };
    const grown = await sdk.messages.create(second);
    const grownTotal = local.countTokens(second);
    assert.equal(grown.usage.cache_read_input_tokens, total);
    assert.equal(grown.usage.cache_creation_input_tokens, grownTotal - total);
    assert.equal(grown.usage.input_tokens + grown.usage.cache_read_input_tokens + grown.usage.cache_creation_input_tokens!, grownTotal);

    // A changed system prompt shares no prefix: nothing is read.
    const changed = await sdk.messages.create({ ...first, system: [{ type: 'text', text: `${LONG_SYSTEM}\nRule extra.`, cache_control: cc }] });
    assert.equal(changed.usage.cache_read_input_tokens, 0);
    assert.ok(changed.usage.cache_creation_input_tokens! > 0);

    // Streaming reports the same cache usage.
    const streamed = await sdk.messages.stream(first).finalMessage();
    assert.equal(streamed.usage.cache_read_input_tokens, total);
  } finally {
    await local.close();
  }
});

test('prompt caching: prefixes below the minimum are not cached, entries expire after 5 minutes unused', async () => {
  let clock = 1_000_000;
  const local = await startFakeAnthropic({ now: () => clock });
  try {
    const sdk = new Anthropic({ apiKey: local.apiKey, baseURL: local.url, maxRetries: 0 });
    const cc = { type: 'ephemeral' as const };
    const small = { model: MODEL, max_tokens: 50, system: [{ type: 'text' as const, text: 'Short system prompt.', cache_control: cc }], messages: [{ role: 'user' as const, content: 'hi' }] };
    await sdk.messages.create(small);
    const again = await sdk.messages.create(small);
    assert.equal(again.usage.cache_creation_input_tokens, 0);
    assert.equal(again.usage.cache_read_input_tokens, 0);
    assert.equal(again.usage.input_tokens, local.countTokens(small));

    const big = { ...small, system: [{ type: 'text' as const, text: LONG_SYSTEM, cache_control: cc }] };
    const written = await sdk.messages.create(big);
    assert.ok(written.usage.cache_creation_input_tokens! >= 1024);
    assert.ok(written.usage.input_tokens > 0, 'the message after the breakpoint is plain input');
    clock += 4 * 60_000;
    const hit = await sdk.messages.create(big);
    assert.equal(hit.usage.cache_read_input_tokens, written.usage.cache_creation_input_tokens, 'hit within 5 minutes');
    clock += 4 * 60_000;
    const refreshed = await sdk.messages.create(big);
    assert.equal(refreshed.usage.cache_read_input_tokens, written.usage.cache_creation_input_tokens, 'the hit refreshed the TTL');
    clock += 6 * 60_000;
    const expired = await sdk.messages.create(big);
    assert.equal(expired.usage.cache_read_input_tokens, 0);
    assert.equal(expired.usage.cache_creation_input_tokens, written.usage.cache_creation_input_tokens);

    // Another model does not share the cache.
    const otherModel = await sdk.messages.create({ ...big, model: 'claude-haiku-5-5' });
    assert.equal(otherModel.usage.cache_read_input_tokens, 0);
  } finally {
    await local.close();
  }
});

test('prompt caching: the lookback reaches 20 blocks back from a breakpoint, no further', async () => {
  const local = await startFakeAnthropic();
  try {
    const sdk = new Anthropic({ apiKey: local.apiKey, baseURL: local.url, maxRetries: 0 });
    const cc = { type: 'ephemeral' as const };
    const turns = (count: number): Anthropic.MessageParam[] => Array.from({ length: count }, (_, i) => ({
      role: i % 2 === 0 ? 'user' as const : 'assistant' as const,
      content: `turn ${i}: ${i % 2 === 0 ? 'a question' : 'an answer'}`,
    }));
    const withBreakpointAtEnd = (messages: Anthropic.MessageParam[]): Anthropic.MessageCreateParamsNonStreaming => ({
      model: MODEL,
      max_tokens: 50,
      system: LONG_SYSTEM,
      messages: messages.map((m, i) => (i === messages.length - 1 ? { ...m, content: [{ type: 'text' as const, text: m.content as string, cache_control: cc }] } : m)),
    });
    // Writes the prefix ending at message 0 (position 1: system is position 0).
    await sdk.messages.create(withBreakpointAtEnd(turns(1)));
    // With the breakpoint 20 blocks further on, the earlier prefix is inside the window…
    const near = await sdk.messages.create(withBreakpointAtEnd(turns(21)));
    assert.equal(near.usage.cache_read_input_tokens, local.countTokens(withBreakpointAtEnd(turns(1))));
    // …22 blocks further on (in a fresh cache), it is out of reach.
    const far = await startFakeAnthropic();
    try {
      const farSdk = new Anthropic({ apiKey: far.apiKey, baseURL: far.url, maxRetries: 0 });
      await farSdk.messages.create(withBreakpointAtEnd(turns(1)));
      const missed = await farSdk.messages.create(withBreakpointAtEnd(turns(23)));
      assert.equal(missed.usage.cache_read_input_tokens, 0);
      assert.equal(missed.usage.cache_creation_input_tokens, far.countTokens(withBreakpointAtEnd(turns(23))));
    } finally {
      await far.close();
    }

    // A 1-hour breakpoint is reported in the 1h bucket.
    const hour = await sdk.messages.create({
      model: MODEL,
      max_tokens: 50,
      system: [{ type: 'text', text: `${LONG_SYSTEM}\nHourly.`, cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(hour.usage.cache_creation?.ephemeral_1h_input_tokens, hour.usage.cache_creation_input_tokens);
    assert.equal(hour.usage.cache_creation?.ephemeral_5m_input_tokens, 0);
  } finally {
    await local.close();
  }
});

test('a scripted 529 surfaces as OverloadedError, and a 429 carries retry-after', async () => {
  fake.enqueue({ error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } });
  const overloaded = await rejection(client.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }));
  assert.ok(overloaded instanceof OverloadedError);
  assert.equal(overloaded.status, 529);
  assert.equal(overloaded.type, 'overloaded_error');

  fake.enqueue({ error: { status: 429, type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit', headers: { 'retry-after': '30' } } });
  const limited = await rejection(client.messages.stream({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).finalMessage());
  assert.ok(limited instanceof RateLimitError);
  assert.equal(limited.headers.get('retry-after'), '30');
});

test('the SDK retries a 429 after the retry-after delay and then succeeds', async () => {
  const retrying = new Anthropic({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 1 });
  const before = fake.requests.length;
  fake.enqueue({ error: { status: 429, type: 'rate_limit_error', message: 'rate limited', headers: { 'retry-after': '0.01' } } }, { text: 'after the wait' });
  const message = await retrying.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
  assert.deepEqual(message.content, [{ type: 'text', text: 'after the wait' }]);
  assert.equal(fake.requests.length - before, 2);
});

test('count_tokens agrees with countTokens() and with the usage of a real call', async () => {
  const body = {
    model: MODEL,
    system: 'You are Lares.',
    tools: [{ name: 'remember', description: 'Store a fact', input_schema: { type: 'object' as const, properties: { fact: { type: 'string' } } } }],
    messages: [{ role: 'user' as const, content: 'Remember that my sister is called Ada.' }],
  };
  const counted = await client.messages.countTokens(body);
  assert.equal(counted.input_tokens, fake.countTokens(body));
  assert.deepEqual(fake.countRequests.at(-1)!.body, body);
  const message = await client.messages.create({ ...body, max_tokens: 50 });
  assert.equal(message.usage.input_tokens, counted.input_tokens);
});

test('a prompt over the context window is rejected as too long', async () => {
  const small = await startFakeAnthropic({ contextWindow: 50 });
  try {
    const sdk = new Anthropic({ apiKey: small.apiKey, baseURL: small.url, maxRetries: 0 });
    const body = { model: MODEL, max_tokens: 10, messages: [{ role: 'user' as const, content: LONG_SYSTEM }] };
    const error = await rejection(sdk.messages.create(body));
    assert.ok(error instanceof BadRequestError);
    assert.equal(error.apiMessage, `prompt is too long: ${small.countTokens(body)} tokens > 50 maximum`);
  } finally {
    await small.close();
  }
});

test('a reply longer than max_tokens is cut off with stop_reason max_tokens; responders see the request', async () => {
  fake.setResponder((request, index) => ({ text: `reply number ${index} to a request with ${request.body.messages.length} message(s), going on and on for a while` }));
  try {
    const message = await client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(message.stop_reason, 'max_tokens');
    assert.equal(message.usage.output_tokens, 5);
    const text = message.content[0].type === 'text' ? message.content[0].text : '';
    assert.ok(text.startsWith('reply number '));
    assert.ok(tokenize(text) <= 5);
  } finally {
    fake.setResponder(echoResponder);
  }
});

test('a throwing responder answers 500 api_error that the SDK does not retry', async () => {
  const retrying = new Anthropic({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 2 });
  const count = fake.requests.length;
  fake.setResponder(() => {
    throw new Error('boom');
  });
  try {
    const error = await rejection(retrying.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(error.status, 500);
    assert.equal(error.type, 'api_error');
    assert.match(error.apiMessage, /boom/);
    assert.equal(fake.requests.length - count, 1);
  } finally {
    fake.setResponder(echoResponder);
  }
});

test('tokenize behaves like a BPE tokenizer in aggregate', () => {
  const english = 'Prompt caching lets the API resume from a stored prefix of your prompt, which cuts the time and cost of repetitive requests. '
    + 'When a request arrives, the system checks whether the prefix up to a breakpoint was cached recently; if so it reuses it.';
  const perToken = english.length / tokenize(english);
  assert.ok(perToken >= 3.5 && perToken <= 4.5, `English: ${perToken.toFixed(2)} chars per token`);
  const code = 'if (x.length > 0) { return JSON.stringify({ "a": [1, 2, 3] }); }';
  assert.ok(code.length / tokenize(code) < 3.5, 'code costs more tokens per character');
  assert.ok(tokenize('internationalization') > 1, 'long words split');
  assert.ok(tokenize('東京へ行きましょう') >= 8, 'CJK is about a token per character');
  assert.equal(tokenize(english), tokenize(english), 'deterministic');
  assert.equal(tokenize(''), 0);
});
