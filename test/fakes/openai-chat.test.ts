// The fake OpenAI Chat Completions API, driven by the real `openai` SDK (and the `ollama` client in
// ollama mode): replies, streaming with and without usage, tool calls split across chunks, strict
// validation, errors, prompt caching, and Ollama's silent truncation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { AuthenticationError, BadRequestError, InternalServerError, NotFoundError, RateLimitError } from 'openai';
import { Ollama } from 'ollama';
import { countTokens, echoResponder, messageTokens, startFakeOpenAiChat } from './openai-chat.ts';
import type { FakeOpenAiChat } from './openai-chat.ts';

const MODEL = 'gpt-4.1-mini';
let fake: FakeOpenAiChat;
let client: OpenAI;

before(async () => {
  fake = await startFakeOpenAiChat();
  client = new OpenAI({ apiKey: fake.apiKey, baseURL: `${fake.url}/v1`, maxRetries: 0 });
});
after(async () => {
  await fake.close();
});

/** The `error` object of an API error's body (the SDK types it loosely). */
function apiError(error: unknown): any {
  return (error as { error?: unknown }).error;
}

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the request to be rejected');
}

const WEATHER_TOOLS: OpenAI.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
  { type: 'function', function: { name: 'get_time', description: 'Local time in a city', parameters: { type: 'object', properties: { city: { type: 'string' }, format: { type: 'string' } } } } },
];

/** A long, stable system prompt: well over the 1024-token caching minimum. */
const LONG_SYSTEM = Array.from({ length: 300 }, (_, i) => `Rule ${i}: keep the owner's memory blocks accurate and brief.`).join('\n');

test('a non-streaming request gets the echo reply with the real chat.completion fields', async () => {
  const body = { model: MODEL, messages: [{ role: 'system' as const, content: 'You are Lares.' }, { role: 'user' as const, content: 'hello there' }] };
  const completion = await client.chat.completions.create(body);
  assert.match(completion.id, /^chatcmpl-[A-Za-z0-9]{29}$/);
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.model, MODEL);
  assert.match(completion.system_fingerprint ?? '', /^fp_/);
  assert.equal(completion.choices.length, 1);
  const [choice] = completion.choices;
  assert.equal(choice.finish_reason, 'stop');
  assert.equal(choice.logprobs, null);
  assert.deepEqual(choice.message, { role: 'assistant', content: 'echo: hello there', refusal: null, annotations: [] });
  assert.equal(completion.usage!.prompt_tokens, countTokens(body));
  assert.equal(completion.usage!.total_tokens, completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
  assert.equal(completion.usage!.prompt_tokens_details!.cached_tokens, 0);
  assert.equal(completion.usage!.completion_tokens_details!.reasoning_tokens, 0);
  assert.match((completion as any)._request_id, /^req_/);
  const recorded = fake.requests.at(-1)!;
  assert.equal(recorded.path, '/v1/chat/completions');
  assert.equal(recorded.status, 200);
  assert.equal(recorded.headers.authorization, `Bearer ${fake.apiKey}`);
  assert.deepEqual(recorded.body.messages, body.messages);
  assert.deepEqual(recorded.usage, completion.usage);
  assert.equal(countTokens(body), 3 + messageTokens(body.messages[0]) + messageTokens(body.messages[1]));
});

test('streaming with include_usage: role first, text in several deltas, usage null until a final choices-less chunk', async () => {
  const reply = 'The quick brown fox jumps over the lazy dog, then naps in the afternoon sun.';
  fake.enqueue({ text: reply });
  const stream = await client.chat.completions.create({
    model: MODEL, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'tell me a story' }],
  });
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.equal(chunks[0].choices[0].delta.content, '');
  const deltas = chunks.flatMap((c) => (c.choices[0]?.delta.content ? [c.choices[0].delta.content] : []));
  assert.ok(deltas.length > 3, 'text arrives in several deltas');
  assert.equal(deltas.join(''), reply);
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  assert.ok(last.usage);
  assert.equal(last.usage.completion_tokens, fake.requests.at(-1)!.usage!.completion_tokens);
  for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.usage, null, 'earlier chunks carry usage: null');
  const finishing = chunks.at(-2)!;
  assert.equal(finishing.choices[0].finish_reason, 'stop');
  assert.deepEqual(finishing.choices[0].delta, {});
  assert.ok(chunks.every((c) => c.id === chunks[0].id && c.object === 'chat.completion.chunk'));
});

test('streaming without include_usage carries no usage at all', async () => {
  const stream = await client.chat.completions.create({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'one two three four five' }] });
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.every((c) => !('usage' in c)));
  assert.equal(chunks.at(-1)!.choices[0].finish_reason, 'stop');
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), 'echo: one two three four five');
});

test('streamed parallel tool calls: a start delta per call, then arguments in several fragments the SDK reassembles', async () => {
  const weatherArgs = { city: 'Paris', note: 'a longer string so the JSON spans several chunks' };
  const timeArgs = { city: 'Tokyo', format: '24h' };
  fake.enqueue({ toolCalls: [{ name: 'get_weather', arguments: weatherArgs }, { id: 'call_fixed_2', name: 'get_time', arguments: timeArgs }] });
  const stream = client.chat.completions.stream({ model: MODEL, tools: WEATHER_TOOLS, messages: [{ role: 'user', content: 'Weather in Paris and time in Tokyo?' }] });
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  stream.on('chunk', (chunk) => chunks.push(chunk));
  const completion = await stream.finalChatCompletion();

  const message = completion.choices[0].message;
  assert.equal(completion.choices[0].finish_reason, 'tool_calls');
  assert.equal(message.content, null);
  assert.equal(message.tool_calls!.length, 2);
  const [weather, time] = message.tool_calls! as OpenAI.ChatCompletionMessageFunctionToolCall[];
  assert.match(weather.id, /^call_/);
  assert.equal(weather.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(weather.function.arguments), weatherArgs);
  assert.equal(time.id, 'call_fixed_2');
  assert.deepEqual(JSON.parse(time.function.arguments), timeArgs);
  assert.deepEqual(fake.toolCallIdsIssued.slice(-2), [weather.id, 'call_fixed_2']);

  // The wire format: the first delta of each call has index, id, type, name and arguments '';
  // later ones only index and an arguments fragment; OpenAI sends one call after the other.
  const toolDeltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
  assert.deepEqual(toolDeltas[0], { index: 0, id: weather.id, type: 'function', function: { name: 'get_weather', arguments: '' } });
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.deepEqual(chunks[0].choices[0].delta.tool_calls, [toolDeltas[0]], 'with no text the first call starts in the role chunk');
  const fragments = toolDeltas.filter((d) => d.index === 0).slice(1);
  assert.ok(fragments.length > 2, 'arguments are split across several chunks');
  for (const fragment of fragments) assert.deepEqual(Object.keys(fragment).sort(), ['function', 'index']);
  assert.equal(fragments.map((f) => f.function!.arguments).join(''), JSON.stringify(weatherArgs));
  const indices = toolDeltas.map((d) => d.index);
  assert.deepEqual(indices, [...indices].sort(), 'sequential by default');
});

test('interleaved parallel tool calls (other servers): accumulating by index still yields whole arguments', async () => {
  const args = [{ city: 'Lisbon', detail: 'hourly forecast please' }, { city: 'Oslo', format: '12h with seconds' }];
  fake.enqueue({ text: 'Checking both.', toolCalls: [{ name: 'get_weather', arguments: args[0] }, { name: 'get_time', arguments: args[1] }], interleaveToolCalls: true });
  const stream = await client.chat.completions.create({ model: MODEL, stream: true, tools: WEATHER_TOOLS, messages: [{ role: 'user', content: 'Lisbon weather, Oslo time' }] });
  const calls: Array<{ id?: string; name?: string; arguments: string }> = [];
  const order: number[] = [];
  let text = '';
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta;
    text += delta?.content ?? '';
    for (const call of delta?.tool_calls ?? []) {
      order.push(call.index);
      calls[call.index] ??= { arguments: '' };
      if (call.id) calls[call.index].id = call.id;
      if (call.function?.name) calls[call.index].name = call.function.name;
      calls[call.index].arguments += call.function?.arguments ?? '';
    }
  }
  assert.equal(text, 'Checking both.');
  assert.deepEqual(calls.map((c) => c.name), ['get_weather', 'get_time']);
  assert.deepEqual(calls.map((c) => JSON.parse(c.arguments)), args);
  assert.deepEqual(order.slice(0, 4), [0, 1, 0, 1], 'chunks of the two calls interleave');
});

test('a tool round trip: the tool result is echoed and the ids are recorded', async () => {
  fake.enqueue({ toolCalls: [{ id: 'call_abc', name: 'get_weather', arguments: { city: 'Rome' } }] });
  const first = await client.chat.completions.create({ model: MODEL, tools: WEATHER_TOOLS, messages: [{ role: 'user', content: 'Rome?' }] });
  const call = first.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
  assert.deepEqual(call, { id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } });
  assert.equal(first.choices[0].finish_reason, 'tool_calls');
  const second = await client.chat.completions.create({
    model: MODEL,
    tools: WEATHER_TOOLS,
    messages: [{ role: 'user', content: 'Rome?' }, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: 'Sunny, 24°C' }],
  });
  assert.equal(second.choices[0].message.content, 'echo: Sunny, 24°C');
  assert.ok(fake.toolCallIdsSeen.has('call_abc'));
});

test('tool-message strictness: the real 400s, params and codes', async () => {
  const assistantCall = (id: string) => ({ role: 'assistant' as const, content: null, tool_calls: [{ id, type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] });
  const longId = `call_${'x'.repeat(40)}`;
  const cases: Array<[any, string, string | null, string | null]> = [
    [[{ role: 'user', content: 'hi' }, { role: 'tool', tool_call_id: 'call_1', content: 'x' }],
      "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", 'messages.[1].role', null],
    [[{ role: 'user', content: 'hi' }, assistantCall('call_1'), { role: 'tool', tool_call_id: 'call_2', content: 'x' }],
      "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", 'messages.[2].role', null],
    [[{ role: 'user', content: 'hi' }, assistantCall('call_x'), { role: 'user', content: 'and?' }],
      "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_x", 'messages.[1].role', null],
    [[{ role: 'user', content: 'hi' }, assistantCall(longId), { role: 'tool', tool_call_id: longId, content: 'x' }],
      `Invalid 'messages[1].tool_calls[0].id': string too long. Expected a string with maximum length 40, but got a string with length ${longId.length} instead.`, 'messages[1].tool_calls[0].id', 'string_above_max_length'],
    [[{ role: 'user', content: 'hi' }, { ...assistantCall('call_1'), tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Rome' } } }] }, { role: 'tool', tool_call_id: 'call_1', content: 'x' }],
      "Invalid type for 'messages[1].tool_calls[0].function.arguments': expected a string, but got an object instead.", 'messages[1].tool_calls[0].function.arguments', 'invalid_type'],
    [[{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [] }],
      "Invalid 'messages[1].tool_calls': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'messages[1].tool_calls', 'empty_array'],
    [[{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'ok', reasoning_content: 'hmm' }, { role: 'user', content: 'go' }],
      "Unknown parameter: 'messages[1].reasoning_content'.", 'messages[1].reasoning_content', 'unknown_parameter'],
  ];
  for (const [messages, message, param, code] of cases) {
    const error = await rejection(client.chat.completions.create({ model: MODEL, tools: WEATHER_TOOLS, messages }));
    assert.ok(error instanceof BadRequestError, `expected 400 for ${message}`);
    assert.equal(apiError(error).message, message);
    assert.equal(error.type, 'invalid_request_error');
    assert.equal(error.param, param);
    assert.equal(error.code, code);
    assert.match(error.requestID ?? '', /^req_/);
  }
});

test('request strictness: fields, roles, tools, content parts, images, token limits', async () => {
  const user = [{ role: 'user', content: 'hi' }];
  const tool = (fn: Record<string, unknown>, type = 'function') => [{ type, function: fn }];
  const cases: Array<[any, string]> = [
    [{ messages: user }, 'you must provide a model parameter'],
    [{ model: MODEL }, "Missing required parameter: 'messages'."],
    [{ model: MODEL, messages: [] }, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."],
    [{ model: MODEL, messages: [{ role: 'bot', content: 'hi' }] }, "Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."],
    [{ model: MODEL, messages: user, bogus: 1 }, 'Unrecognized request argument supplied: bogus'],
    [{ model: MODEL, messages: user, tools: tool({ name: 'bad.name' }) }, "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."],
    [{ model: MODEL, messages: user, tools: tool({ name: 'x'.repeat(65) }) }, "Invalid 'tools[0].function.name': string too long. Expected a string with maximum length 64, but got a string with length 65 instead."],
    [{ model: MODEL, messages: user, tools: tool({ name: 'f' }, 'retrieval') }, "Invalid value: 'retrieval'. Supported values are: 'function' and 'custom'."],
    [{ model: MODEL, messages: user, tools: tool({ name: 'f', parameters: { type: 'string' } }) }, `Invalid schema for function 'f': schema must be a JSON Schema of 'type: "object"', got 'type: "string"'.`],
    [{ model: MODEL, messages: user, tools: tool({ name: 'f', parameters: 'object' }) }, "Invalid type for 'tools[0].function.parameters': expected an object, but got a string instead."],
    [{ model: MODEL, messages: user, max_tokens: 10, max_completion_tokens: 10 }, "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported."],
    [{ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image', url: 'x' }] }] }, "Invalid value: 'image'. Supported values are: 'text', 'image_url', 'input_audio', and 'file'."],
    [{ model: MODEL, messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }, ...user] },
      "Image URLs are only allowed for messages with role 'user', but this message with role 'system' contains an image URL."],
    [{ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'aGVsbG8=' } }] }] },
      "Invalid 'messages[0].content[0].image_url.url'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got a value without the 'data:' prefix."],
    [{ model: MODEL, messages: [...user, { role: 'assistant', content: null }] }, "Invalid value for 'content': expected a string, got null."],
    [{ model: MODEL, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] }] }, "Unknown parameter: 'messages[0].content[0].cache_control'."],
    [{ model: MODEL, messages: user, stream_options: { include_usage: true } }, "The 'stream_options' parameter is only allowed when 'stream' is enabled."],
    [{ model: MODEL, messages: user, tool_choice: 'auto' }, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."],
    [{ model: 'gpt-5-mini', messages: user, max_tokens: 100 }, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."],
    [{ model: 'gpt-5-mini', messages: user, temperature: 0.2 }, "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported."],
  ];
  for (const [body, message] of cases) {
    const error = await rejection(client.chat.completions.create(body));
    assert.ok(error instanceof BadRequestError, `expected 400 for ${message}`);
    assert.equal(apiError(error).message, message);
  }
  // Both image forms are accepted in user messages.
  const ok = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }, { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } }] }],
  });
  assert.equal(ok.choices[0].message.content, 'echo: what is this?');
  assert.equal(ok.usage!.prompt_tokens, countTokens(fake.requests.at(-1)!.body));

  const unknown = await rejection(client.chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'hi' }] }));
  assert.ok(unknown instanceof NotFoundError);
  assert.equal(unknown.code, 'model_not_found');
});

test('a wrong key is a 401 invalid_api_key with the key masked', async () => {
  const wrong = new OpenAI({ apiKey: 'sk-wrong-key-123456', baseURL: `${fake.url}/v1`, maxRetries: 0 });
  const error = await rejection(wrong.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
  assert.ok(error instanceof AuthenticationError);
  assert.equal(error.code, 'invalid_api_key');
  assert.equal(apiError(error).message, 'Incorrect API key provided: sk-************3456. You can find your API key at https://platform.openai.com/account/api-keys.');
  assert.equal(fake.requests.at(-1)!.status, 401);
});

test('a scripted 429 carries retry-after (RateLimitError), and the SDK retries after it', async () => {
  fake.enqueue({ error: { status: 429, headers: { 'retry-after': '7' } } });
  const limited = await rejection(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
  assert.ok(limited instanceof RateLimitError);
  assert.equal(limited.headers.get('retry-after'), '7');
  assert.equal(limited.code, 'rate_limit_exceeded');

  const retrying = new OpenAI({ apiKey: fake.apiKey, baseURL: `${fake.url}/v1`, maxRetries: 1 });
  const count = fake.requests.length;
  fake.enqueue({ error: { status: 429, headers: { 'retry-after': '0.01' } } }, { text: 'after the wait' });
  const completion = await retrying.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(completion.choices[0].message.content, 'after the wait');
  assert.equal(fake.requests.length - count, 2);
});

test('500s: the default server_error body, a text/plain body, and a throwing responder', async () => {
  fake.enqueue({ error: { status: 500 } });
  const server = await rejection(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
  assert.ok(server instanceof InternalServerError);
  assert.equal(server.type, 'server_error');
  assert.equal(apiError(server).message, 'The server had an error while processing your request. Sorry about that!');

  fake.enqueue({ error: { status: 500, body: 'Internal Server Error\n' } });
  const plain = await rejection(client.chat.completions.create({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  assert.ok(plain instanceof InternalServerError);
  assert.equal(plain.error, undefined);
  assert.equal(plain.message, '500 Internal Server Error\n');
  assert.equal(plain.headers.get('content-type'), 'text/plain; charset=utf-8');

  const retrying = new OpenAI({ apiKey: fake.apiKey, baseURL: `${fake.url}/v1`, maxRetries: 2 });
  const count = fake.requests.length;
  fake.setResponder(() => {
    throw new Error('boom');
  });
  try {
    const error = await rejection(retrying.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(error.status, 500);
    assert.match(apiError(error).message, /boom/);
    assert.equal(fake.requests.length - count, 1, 'x-should-retry: false stops the SDK retrying');
  } finally {
    fake.setResponder(echoResponder);
  }
});

test('a prompt over the context window is a 400 context_length_exceeded', async () => {
  const small = await startFakeOpenAiChat({ models: [{ id: 'tiny', contextWindow: 100 }] });
  try {
    const sdk = new OpenAI({ apiKey: small.apiKey, baseURL: `${small.url}/v1`, maxRetries: 0 });
    const body = { model: 'tiny', messages: [{ role: 'user' as const, content: LONG_SYSTEM }] };
    const error = await rejection(sdk.chat.completions.create(body));
    assert.ok(error instanceof BadRequestError);
    assert.equal(error.code, 'context_length_exceeded');
    assert.equal(error.param, 'messages');
    assert.equal(apiError(error).message, `This model's maximum context length is 100 tokens. However, your messages resulted in ${countTokens(body)} tokens. Please reduce the length of the messages.`);
  } finally {
    await small.close();
  }
});

test('a reply over max_completion_tokens is cut with finish_reason length; hidden reasoning counts', async () => {
  fake.enqueue({ text: 'This reply goes on and on for quite a while, far longer than the budget allows.' });
  const cut = await client.chat.completions.create({ model: 'gpt-5-mini', max_completion_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(cut.choices[0].finish_reason, 'length');
  assert.equal(cut.usage!.completion_tokens, 5);
  assert.ok(cut.choices[0].message.content!.startsWith('This reply'));

  fake.enqueue({ text: 'Short.', reasoningTokens: 64 });
  const reasoned = await client.chat.completions.create({ model: 'gpt-5-mini', messages: [{ role: 'user', content: 'think' }] });
  assert.equal(reasoned.usage!.completion_tokens_details!.reasoning_tokens, 64);
  assert.ok(reasoned.usage!.completion_tokens > 64);
  assert.equal(reasoned.choices[0].message.content, 'Short.');
});

test('automatic prompt caching: a repeated long prefix is read in 128-token steps', async () => {
  const local = await startFakeOpenAiChat();
  try {
    const sdk = new OpenAI({ apiKey: local.apiKey, baseURL: `${local.url}/v1`, maxRetries: 0 });
    const first = { model: MODEL, messages: [{ role: 'system' as const, content: LONG_SYSTEM }, { role: 'user' as const, content: 'What is on my list?' }] };
    const cold = await sdk.chat.completions.create(first);
    assert.equal(cold.usage!.prompt_tokens_details!.cached_tokens, 0);
    const warm = await sdk.chat.completions.create(first);
    const cached = warm.usage!.prompt_tokens_details!.cached_tokens!;
    assert.ok(cached >= 1024 && (cached - 1024) % 128 === 0 && cached <= warm.usage!.prompt_tokens);
    assert.ok(warm.usage!.prompt_tokens - cached < 128 + 3);

    const grown = await sdk.chat.completions.create({ ...first, messages: [...first.messages, { role: 'assistant', content: 'Milk.' }, { role: 'user', content: 'Anything else?' }] });
    assert.equal(grown.usage!.prompt_tokens_details!.cached_tokens, cached, 'the earlier prompt is a cached prefix');
    const otherSystem = await sdk.chat.completions.create({ ...first, messages: [{ role: 'system', content: `${LONG_SYSTEM}!` }, first.messages[1]] });
    assert.equal(otherSystem.usage!.prompt_tokens_details!.cached_tokens, 0);
    local.enqueue({ text: 'x', cachedTokens: 2048 });
    const scripted = await sdk.chat.completions.create(first);
    assert.equal(scripted.usage!.prompt_tokens_details!.cached_tokens, 2048);
  } finally {
    await local.close();
  }
});

test('local-model quirks on request: <think> reasoning in content, tool calls without ids, no usage', async () => {
  fake.enqueue({ text: 'Paris.', reasoning: 'The user asks for a capital.' });
  const thought = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Capital of France?' }] });
  assert.equal(thought.choices[0].message.content, '<think>\nThe user asks for a capital.\n</think>\n\nParis.');

  fake.enqueue({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Nice' } }], omitToolCallIds: true, omitUsage: true });
  const noIds = await client.chat.completions.create({ model: MODEL, tools: WEATHER_TOOLS, messages: [{ role: 'user', content: 'Nice?' }] });
  assert.equal('id' in noIds.choices[0].message.tool_calls![0], false);
  assert.equal(noIds.usage, undefined);

  // The SDK's stream helper invents an id when the server sends none.
  fake.enqueue({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Nice' } }], omitToolCallIds: true });
  const streamed = await client.chat.completions.stream({ model: MODEL, tools: WEATHER_TOOLS, messages: [{ role: 'user', content: 'Nice?' }] }).finalChatCompletion();
  assert.match(streamed.choices[0].message.tool_calls![0].id, /^call_/);
});

test('GET /v1/models lists the configured models', async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), ['gpt-5-mini', 'gpt-5', 'gpt-4.1-mini', 'gpt-4o-mini']);
  const model = await client.models.retrieve('gpt-5-mini');
  assert.equal(model.object, 'model');
});

// ---------------------------------------------------------------------------------------------
// Ollama mode

test('ollama: /api/show, /api/tags, /api/ps and /api/version through the ollama client', async () => {
  const local = await startFakeOpenAiChat({ flavour: 'ollama', models: [{ id: 'qwen3:8b', numCtx: 8192, contextWindow: 40_960, thinking: true }, { id: 'gemma3:1b', tools: false, contextWindow: 32_768 }] });
  try {
    const ollama = new Ollama({ host: local.url });
    const show = await ollama.show({ model: 'qwen3:8b' });
    assert.deepEqual(show.capabilities, ['completion', 'tools', 'thinking']);
    assert.match(show.parameters, /^num_ctx\s+8192$/m);
    assert.equal((show.model_info as any)['general.architecture'], 'qwen3');
    assert.equal((show.model_info as any)['qwen3.context_length'], 40_960);
    assert.equal(show.details.family, 'qwen3');
    assert.match(show.modelfile, /PARAMETER num_ctx 8192/);

    const gemma = await ollama.show({ model: 'gemma3:1b' });
    assert.deepEqual(gemma.capabilities, ['completion']);
    assert.doesNotMatch(gemma.parameters, /num_ctx/);

    const missing = await rejection(ollama.show({ model: 'llama9' }));
    assert.equal(missing.status_code, 404);
    assert.equal(missing.error, "model 'llama9' not found");

    const tags = await ollama.list();
    assert.deepEqual(tags.models.map((m) => m.name), ['qwen3:8b', 'gemma3:1b']);
    assert.match(tags.models[0].digest, /^[0-9a-f]{64}$/);
    assert.equal(tags.models[0].details.quantization_level, 'Q4_K_M');
    assert.equal((await ollama.version()).version, '0.12.3');

    assert.deepEqual((await ollama.ps()).models, [], 'nothing is loaded before the first request');
    const sdk = new OpenAI({ apiKey: 'ollama', baseURL: `${local.url}/v1`, maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'gemma3:1b', messages: [{ role: 'user', content: 'hi' }] });
    const ps = await ollama.ps();
    assert.deepEqual(ps.models.map((m) => [m.name, (m as any).context_length]), [['gemma3:1b', 4096]]);
  } finally {
    await local.close();
  }
});

test('ollama: no key needed, Ollama-shaped completions, unknown model 404, no-tools model 400', async () => {
  const local = await startFakeOpenAiChat({ flavour: 'ollama' });
  try {
    const sdk = new OpenAI({ apiKey: 'anything', baseURL: `${local.url}/v1`, maxRetries: 0 });
    const completion = await sdk.chat.completions.create({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'hello' }] });
    assert.match(completion.id, /^chatcmpl-\d{1,3}$/);
    assert.equal(completion.system_fingerprint, 'fp_ollama');
    assert.deepEqual(completion.choices[0].message, { role: 'assistant', content: 'echo: hello' });
    assert.deepEqual(Object.keys(completion.usage!).sort(), ['completion_tokens', 'prompt_tokens', 'total_tokens']);
    assert.equal(local.requests.at(-1)!.headers['x-request-id'], undefined);

    const unknown = await rejection(sdk.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }));
    assert.ok(unknown instanceof NotFoundError);
    assert.deepEqual(apiError(unknown), { message: 'model "llama3.2" not found, try pulling it first', type: 'api_error', param: null, code: null });

    const noTools = await rejection(sdk.chat.completions.create({ model: 'gemma3:1b', tools: WEATHER_TOOLS, messages: [{ role: 'user', content: 'weather?' }] }));
    assert.ok(noTools instanceof BadRequestError);
    // Ollama takes back the `reasoning` field it sends.
    await sdk.chat.completions.create({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello', reasoning: 'greet back' } as any, { role: 'user', content: 'bye' }] });
    assert.deepEqual(apiError(noTools), { message: 'registry.ollama.ai/library/gemma3:1b does not support tools', type: 'api_error', param: null, code: null });

    // Ollama parses history arguments: broken JSON that OpenAI would accept is a 400 here.
    const broken = await rejection(sdk.chat.completions.create({
      model: 'qwen3:8b',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'x' },
      ],
    }));
    assert.ok(broken instanceof BadRequestError);
    assert.equal(apiError(broken).message, 'invalid tool call arguments');

    // max_completion_tokens is not mapped to num_predict by Ollama: no cut.
    local.enqueue({ text: 'a fairly long reply that would not fit in five tokens at all' });
    const uncut = await sdk.chat.completions.create({ model: 'qwen3:8b', max_completion_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(uncut.choices[0].finish_reason, 'stop');
  } finally {
    await local.close();
  }
});

test('ollama: streaming sends whole tool calls, role on every delta, and usage only with include_usage', async () => {
  const local = await startFakeOpenAiChat({ flavour: 'ollama' });
  try {
    const sdk = new OpenAI({ apiKey: 'ollama', baseURL: `${local.url}/v1`, maxRetries: 0 });
    local.enqueue({ text: 'Let me check.', toolCalls: [{ name: 'get_weather', arguments: { city: 'Bern' } }] });
    const stream = await sdk.chat.completions.create({ model: 'qwen3:8b', stream: true, stream_options: { include_usage: true }, tools: WEATHER_TOOLS, messages: [{ role: 'user', content: 'Bern?' }] });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    assert.ok(withChoices.every((c) => c.choices[0].delta.role === 'assistant'));
    const calls = withChoices.flatMap((c) => c.choices[0].delta.tool_calls ?? []);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].function!.arguments, '{"city":"Bern"}');
    assert.equal(withChoices.at(-1)!.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(chunks.at(-1)!.choices, []);
    assert.equal(chunks.at(-1)!.usage!.prompt_tokens, local.requests.at(-1)!.usage!.prompt_tokens);
    assert.ok(chunks.slice(0, -1).every((c) => !('usage' in c)));
  } finally {
    await local.close();
  }
});

test('ollama: silent truncation answers 200, drops old messages but keeps the system message, then cuts the system prompt itself', async () => {
  const local = await startFakeOpenAiChat({ flavour: 'ollama', models: [{ id: 'qwen3:8b', numCtx: 1024, contextWindow: 40_960 }] });
  try {
    const sdk = new OpenAI({ apiKey: 'ollama', baseURL: `${local.url}/v1`, maxRetries: 0 });
    const history = Array.from({ length: 40 }, (_, i) => ({
      role: i % 2 === 0 ? 'user' as const : 'assistant' as const,
      content: `Turn ${i}: ${'we talked about the garden, the weather and the week ahead. '.repeat(3)}`,
    }));

    // Message pass: a short system prompt survives, the oldest turns are dropped.
    const shortSystem = { role: 'system' as const, content: 'You are Lares, a helpful assistant.' };
    const body = { model: 'qwen3:8b', messages: [shortSystem, ...history, { role: 'user' as const, content: 'What did we say?' }] };
    const answer = await sdk.chat.completions.create(body);
    assert.equal(answer.choices[0].message.content, 'echo: What did we say?');
    const truncated = local.requests.at(-1)!.truncated!;
    assert.ok(truncated, 'truncation is recorded');
    assert.ok(truncated.droppedMessages > 0);
    assert.ok(!truncated.droppedIndices.includes(0), 'the system message is kept by the message pass');
    assert.equal(truncated.droppedIndices[0], 1, 'the oldest turns go first');
    assert.equal(truncated.cutTokens, 0);
    assert.equal(answer.usage!.prompt_tokens, truncated.keptTokens);
    assert.ok(truncated.keptTokens <= 1024 && truncated.keptTokens < countTokens(body));

    // Token pass: a system prompt bigger than num_ctx is cut after its first 4 tokens; the tools
    // (rendered after the system prompt) and the last message are the tail that survives.
    const big = { model: 'qwen3:8b', tools: WEATHER_TOOLS, messages: [{ role: 'system' as const, content: LONG_SYSTEM }, ...history.slice(0, 4), { role: 'user' as const, content: 'Still there?' }] };
    const still = await sdk.chat.completions.create(big);
    assert.equal(still.choices[0].message.content, 'echo: Still there?');
    const cut = local.requests.at(-1)!.truncated!;
    assert.ok(cut.droppedIndices.includes(0), 'the system message is lost');
    assert.deepEqual(cut.droppedIndices, [0, 1, 2, 3, 4]);
    assert.equal(cut.toolsCut, false);
    assert.equal(cut.keptTokens, 1024);
    assert.equal(cut.cutTokens, countTokens({ tools: big.tools, messages: [big.messages[0], big.messages[5]] }) - 1024);
    assert.equal(still.usage!.prompt_tokens, 1024);

    // Many tool definitions and no system prompt: the cut eats into the tools.
    const manyTools: OpenAI.ChatCompletionTool[] = Array.from({ length: 30 }, (_, i) => ({
      type: 'function', function: { name: `tool_${i}`, description: `Tool number ${i} does something rather specific with the owner's files.`, parameters: { type: 'object', properties: { path: { type: 'string' } } } },
    }));
    await sdk.chat.completions.create({ model: 'qwen3:8b', tools: manyTools, messages: [{ role: 'user', content: 'List my files.' }] });
    const toolsCut = local.requests.at(-1)!.truncated!;
    assert.equal(toolsCut.toolsCut, true);
    assert.deepEqual(toolsCut.droppedIndices, []);
    assert.equal(toolsCut.keptTokens, 1024);

    // A conversation that fits is not marked.
    await sdk.chat.completions.create({ model: 'qwen3:8b', messages: [shortSystem, { role: 'user', content: 'hi' }] });
    assert.equal(local.requests.at(-1)!.truncated, undefined);
  } finally {
    await local.close();
  }
});
