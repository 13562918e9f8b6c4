// The OpenAI-compatible provider against the fake Chat Completions API (OpenAI and Ollama
// flavours), through the real openai SDK.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAIProvider } from '../../src/llm/openai/openai-provider.ts';
import { LlmError, type ModelRequest } from '../../src/llm/provider.ts';
import { INVALID_ARGUMENTS_KEY, type ToolUseBlock } from '../../src/llm/content.ts';
import { createLogger, setLogger } from '../../src/log.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/openai-chat.ts';

setLogger(createLogger({ level: process.env.LOG_LEVEL ?? 'silent', pretty: false }));

const tool = { name: 'read_file', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } };

function request(model: string, text: string, extra: Partial<ModelRequest> = {}): ModelRequest {
  return { model, maxTokens: 256, system: [{ type: 'text', text: 'You are Lares.' }], tools: [tool], messages: [{ role: 'user', content: [{ type: 'text', text }] }], ...extra };
}

describe('OpenAI provider against the OpenAI flavour', () => {
  let fake: FakeOpenAiChat;
  let provider: OpenAIProvider;
  before(async () => {
    fake = await startFakeOpenAiChat();
    provider = new OpenAIProvider({ apiKey: fake.apiKey, baseUrl: `${fake.url}/v1`, retry: { maxRetries: 2, baseDelayMs: 1 } });
  });
  after(() => fake.close());

  test('streams text, reports usage with cached tokens, and sends max_tokens to a non-OpenAI base URL', async () => {
    fake.enqueue({ text: 'Hello there, Ada.', cachedTokens: 0 });
    const deltas: string[] = [];
    const response = await provider.createMessage(request('gpt-4.1-mini', 'Hi'), { onText: (d) => deltas.push(d) });
    assert.deepEqual(response.content, [{ type: 'text', text: 'Hello there, Ada.' }]);
    assert.equal(deltas.join(''), 'Hello there, Ada.');
    assert.ok(deltas.length > 1, 'the text arrived in pieces');
    assert.equal(response.stopReason, 'end_turn');
    const sent = fake.requests.at(-1)!;
    assert.equal(sent.body.stream, true);
    assert.deepEqual(sent.body.stream_options, { include_usage: true });
    assert.equal(sent.body.max_tokens, 256);
    assert.equal(response.usage.inputTokens, sent.usage!.prompt_tokens);
    assert.equal(response.usage.outputTokens, sent.usage!.completion_tokens);
    assert.equal(response.usage.estimated, undefined);
  });

  test('parallel tool calls whose arguments are split across interleaved chunks come back whole', async () => {
    fake.enqueue({ text: 'Reading both.', interleaveToolCalls: true, toolCalls: [
      { name: 'read_file', arguments: { path: '/home/ada/notes/a-rather-long-file-name.txt' } },
      { name: 'read_file', arguments: { path: '/home/ada/notes/another-long-file-name.txt' } },
    ] });
    const response = await provider.createMessage(request('gpt-4.1-mini', 'Read my notes'));
    assert.equal(response.stopReason, 'tool_use');
    const uses = response.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
    assert.deepEqual(uses.map((u) => u.input.path), ['/home/ada/notes/a-rather-long-file-name.txt', '/home/ada/notes/another-long-file-name.txt']);
    assert.deepEqual(uses.map((u) => u.id), fake.toolCallIdsIssued.slice(-2));
  });

  test('a history with tool results is accepted by the strict fake, and long foreign ids are mapped consistently', async () => {
    const longId = `toolu_${'a'.repeat(50)}`;
    fake.enqueue({ text: 'It says milk.' });
    await provider.createMessage(request('gpt-4.1-mini', '', { messages: [
      { role: 'user', content: [{ type: 'text', text: 'What does notes.txt say?' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: longId, name: 'read_file', input: { path: 'notes.txt' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: longId, content: 'milk' }] },
    ] }));
    const body = fake.requests.at(-1)!.body;
    assert.equal(fake.requests.at(-1)!.status, 200);
    assert.equal(body.messages[2].tool_calls[0].id, body.messages[3].tool_call_id);
    assert.ok(body.messages[2].tool_calls[0].id.length <= 40);
  });

  test('no usage from the server: usage is estimated and marked so', async () => {
    fake.enqueue({ text: 'A reply without usage.', omitUsage: true });
    const response = await provider.createMessage(request('gpt-4.1-mini', 'Hi again'));
    assert.equal(response.usage.estimated, true);
    assert.ok(response.usage.inputTokens > 0 && response.usage.outputTokens > 0);
  });

  test('tool calls without ids and broken JSON arguments are kept, with fresh ids and the raw text', async () => {
    fake.enqueue({ omitToolCallIds: true, toolCalls: [{ name: 'read_file', arguments: '{"path": "a.txt"' }, { name: 'read_file', arguments: { path: 'b.txt' } }] });
    const response = await provider.createMessage(request('gpt-4.1-mini', 'Read a and b'));
    const uses = response.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
    assert.equal(uses.length, 2);
    assert.notEqual(uses[0].id, uses[1].id);
    assert.deepEqual(uses[0].input, { [INVALID_ARGUMENTS_KEY]: '{"path": "a.txt"' });
    assert.deepEqual(uses[1].input, { path: 'b.txt' });
  });

  test('finish_reason length and content_filter map onto max_tokens and refusal', async () => {
    fake.enqueue({ text: 'cut', finishReason: 'length' }, { text: '', finishReason: 'content_filter' });
    assert.equal((await provider.createMessage(request('gpt-4.1-mini', 'a'))).stopReason, 'max_tokens');
    assert.equal((await provider.createMessage(request('gpt-4.1-mini', 'b'))).stopReason, 'refusal');
  });

  test('the official API gets max_completion_tokens (reasoning models refuse max_tokens), with room for reasoning', async () => {
    const official = new OpenAIProvider({ apiKey: fake.apiKey, baseUrl: `${fake.url}/v1`, retry: { maxRetries: 0 } });
    (official as unknown as { official: boolean }).official = true;
    fake.enqueue({ text: 'fine' });
    await official.createMessage(request('gpt-5-mini', 'hi'));
    // a reasoning model spends part of the limit on hidden reasoning: it gets room for that on top
    assert.equal(fake.requests.at(-1)!.body.max_completion_tokens, 16_384);
    assert.equal(fake.requests.at(-1)!.body.max_tokens, undefined);
    assert.equal(fake.requests.at(-1)!.status, 200);
  });

  test('errors: 401 is not retried and names the key; 429 is retried; a plain-text 500 is read', async () => {
    const badKey = new OpenAIProvider({ apiKey: 'wrong', baseUrl: `${fake.url}/v1`, retry: { maxRetries: 2, baseDelayMs: 1 } });
    const chats = () => fake.requests.filter((r) => r.path.includes('chat/completions')).length;
    const before401 = chats();
    await assert.rejects(badKey.createMessage(request('gpt-4.1-mini', 'hi')), (e: unknown) => e instanceof LlmError && e.kind === 'authentication' && /OPENAI_API_KEY/.test(e.message));
    assert.equal(chats() - before401, 1);

    fake.enqueue({ error: { status: 429, headers: { 'retry-after': '0' } } }, { text: 'after the wait' });
    const response = await provider.createMessage(request('gpt-4.1-mini', 'hi'));
    assert.deepEqual(response.content, [{ type: 'text', text: 'after the wait' }]);

    fake.enqueue({ error: { status: 500, body: 'Internal Server Error\n' } }, { error: { status: 500, body: 'Internal Server Error\n' } }, { error: { status: 500, body: 'Internal Server Error\n' } });
    await assert.rejects(provider.createMessage(request('gpt-4.1-mini', 'hi')), (e: unknown) => e instanceof LlmError && e.kind === 'server' && /Internal Server Error/.test(e.message));
  });

  test('servers\' own error shapes: vLLM\'s flat {object:"error"} body, llama.cpp\'s context error, a tools error as a 500', async () => {
    fake.enqueue({ error: { status: 400, body: { object: 'error', message: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.", type: 'BadRequestError', code: 400 } } });
    await assert.rejects(provider.createMessage(request('gpt-4.1-mini', 'hi')), (e: unknown) => e instanceof LlmError && e.kind === 'context_exceeded' && /maximum context length is 4096/.test(e.message));
    fake.enqueue({ error: { status: 400, body: { error: { code: 400, message: 'request (5000 tokens) exceeds the available context size (4096 tokens), try increasing it', type: 'exceed_context_size_error' } } } });
    await assert.rejects(provider.createMessage(request('gpt-4.1-mini', 'hi')), (e: unknown) => e instanceof LlmError && e.kind === 'context_exceeded');
    const llamacpp = new OpenAIProvider({ baseUrl: `${fake.url}/v1`, apiKey: fake.apiKey, retry: { maxRetries: 3, baseDelayMs: 1 } });
    fake.enqueue({ error: { status: 500, body: { error: { code: 500, message: 'tools param requires --jinja flag', type: 'server_error' } } } }, { text: 'answered without tools' });
    const chatsBefore = fake.requests.filter((r) => r.path.includes('chat/completions')).length;
    const answer = await llamacpp.createMessage(request('gpt-4.1-mini', 'hi'));
    assert.deepEqual(answer.content, [{ type: 'text', text: 'answered without tools' }]);
    assert.equal(fake.requests.filter((r) => r.path.includes('chat/completions')).length - chatsBefore, 2, 'not retried as a 500: asked again once, without tools');
    assert.equal(fake.requests.at(-1)!.body.tools, undefined);
  });

  test('a context_length_exceeded 400 becomes context_exceeded (the orchestrator compacts and retries)', async () => {
    fake.enqueue({ error: { status: 400, body: { error: { message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.", type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } } } });
    await assert.rejects(provider.createMessage(request('gpt-4.1-mini', 'hi')), (e: unknown) => e instanceof LlmError && e.kind === 'context_exceeded');
  });
});

describe('OpenAI provider against the Ollama flavour', () => {
  let fake: FakeOpenAiChat;
  before(async () => {
    fake = await startFakeOpenAiChat({ flavour: 'ollama', models: [
      { id: 'qwen3:8b', numCtx: 8192 },
      { id: 'gemma3:1b', tools: false, numCtx: 8192 },
      { id: 'llama3.2:3b' }, // no num_ctx: the server default (4096)
    ] });
  });
  after(() => fake.close());

  test('the context window comes from the model\'s num_ctx; a request that would be cut is refused, not sent', async () => {
    const provider = new OpenAIProvider({ baseUrl: `${fake.url}/v1`, retry: { maxRetries: 0 } });
    assert.equal(await provider.contextWindow('qwen3:8b'), 8192);
    assert.equal(await provider.contextWindow('llama3.2:3b'), 4096);
    const sent = fake.requests.length;
    const huge = 'word '.repeat(9000);
    await assert.rejects(provider.createMessage(request('qwen3:8b', huge)), (e: unknown) => e instanceof LlmError && e.kind === 'context_exceeded' && /8192/.test(e.message));
    assert.equal(fake.requests.filter((r) => r.path.includes('chat/completions')).length, fake.requests.slice(0, sent).filter((r) => r.path.includes('chat/completions')).length, 'nothing was sent');
    fake.enqueue({ text: 'short and fine' });
    const response = await provider.createMessage(request('qwen3:8b', 'hello'));
    assert.equal(response.content[0].type, 'text');
    assert.equal(fake.requests.at(-1)!.truncated, undefined);
  });

  test('inside a known window the reply limit is what the prompt leaves (Ollama would shift its context mid-reply)', async () => {
    const provider = new OpenAIProvider({ baseUrl: `${fake.url}/v1`, retry: { maxRetries: 0 } });
    fake.enqueue({ text: 'fine' });
    await provider.createMessage(request('llama3.2:3b', 'word '.repeat(2000), { maxTokens: 4096 }));
    const sent = fake.requests.at(-1)!;
    assert.ok(sent.body.max_tokens < 4096 && sent.body.max_tokens >= 1024, `max_tokens ${sent.body.max_tokens}`);
    assert.equal(sent.truncated, undefined);
  });

  test('LARES_CONTEXT_WINDOW above the model\'s num_ctx is capped at what Ollama gives', async () => {
    const provider = new OpenAIProvider({ baseUrl: `${fake.url}/v1`, contextWindow: 32768 });
    assert.equal(await provider.contextWindow('qwen3:8b'), 8192);
    const trusting = new OpenAIProvider({ baseUrl: `${fake.url}/v1`, contextWindow: 32768 });
    assert.equal(await trusting.contextWindow('llama3.2:3b'), 32768, 'no num_ctx: the person says the server was raised');
  });

  test('a model without tools is asked without them, and earlier tool calls reach it as text', async () => {
    const provider = new OpenAIProvider({ baseUrl: `${fake.url}/v1`, retry: { maxRetries: 0 } });
    fake.enqueue({ text: 'I cannot use tools, but hello.' });
    const response = await provider.createMessage(request('gemma3:1b', 'hi', { messages: [
      { role: 'user', content: [{ type: 'text', text: 'remember tea' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: 'x' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'x' }, { type: 'text', text: 'hi' }] },
    ] }));
    assert.equal(response.content[0].type, 'text');
    const body = fake.requests.at(-1)!.body;
    assert.equal(body.tools, undefined);
    assert.ok(body.messages.every((m: any) => m.role !== 'tool'));
  });

  test('a 400 "does not support tools" (a server without capabilities) switches that model to no tools once', async () => {
    const provider = new OpenAIProvider({ baseUrl: `${fake.url}/v1`, retry: { maxRetries: 0 } });
    // pretend /api/show said nothing about capabilities: the first request carries tools
    (provider as unknown as { facts: Map<string, Promise<unknown>> }).facts.set('gemma3:1b', Promise.resolve({ window: 8192, tools: true, images: false }));
    fake.enqueue({ text: 'answered without tools' });
    const response = await provider.createMessage(request('gemma3:1b', 'hi'));
    assert.deepEqual(response.content, [{ type: 'text', text: 'answered without tools' }]);
    const chats = fake.requests.filter((r) => r.path.includes('chat/completions')).slice(-2);
    assert.equal(chats[0].status, 400);
    assert.ok(chats[0].body.tools);
    assert.equal(chats[1].status, 200);
    assert.equal(chats[1].body.tools, undefined);
  });

  test('a model that is not pulled is named with the command that fixes it', async () => {
    const provider = new OpenAIProvider({ baseUrl: `${fake.url}/v1`, retry: { maxRetries: 0 } });
    await assert.rejects(provider.createMessage(request('mistral:7b', 'hi')), (e: unknown) => e instanceof LlmError && e.kind === 'not_found' && /ollama pull mistral:7b/.test(e.message));
  });

  test('an unreachable server is named, with what to check', async () => {
    const provider = new OpenAIProvider({ baseUrl: 'http://127.0.0.1:9/v1', retry: { maxRetries: 0 } });
    await assert.rejects(provider.createMessage(request('qwen3:8b', 'hi')), (e: unknown) => e instanceof LlmError && e.kind === 'connection' && /OPENAI_BASE_URL/.test(e.message));
  });
});
