// Lares on an OpenAI-compatible server, end to end: the real CLI and the channel runtime against
// the fake Chat Completions API in its Ollama flavour (and OpenAI flavour), through the real
// openai SDK. Memory edits, a tool loop, an approval, a compaction inside the model's num_ctx, a
// restart, a history that switches provider, per-task models, and the daily budget.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createChannelRuntime } from '../../src/app/channel-runtime.ts';
import { createDirectRuntime } from '../../src/app/direct-runtime.ts';
import type { TurnResult } from '../../src/agent/types.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat, type RecordedRequest } from '../fakes/openai-chat.ts';
import { runLares } from '../support/cli.ts';
import '../support/direct.ts';

const chats = (fake: FakeOpenAiChat) => fake.requests.filter((r) => r.path === '/v1/chat/completions');
const lastText = (r: RecordedRequest) => JSON.stringify(r.body.messages.at(-1));
const INITIAL_HUMAN = 'I have not learned much about my person yet. I should note their name and what they care about as I learn it.';

describe('lares chat with LARES_PROVIDER=openai on an Ollama server', () => {
  let fake: FakeOpenAiChat;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    fake = await startFakeOpenAiChat({ flavour: 'ollama', models: [{ id: 'qwen3:8b', numCtx: 16384 }] });
    dir = mkdtempSync(join(tmpdir(), 'lares-openai-e2e-'));
    // the three variables of the README's Ollama example, plus a private database
    env = { LARES_PROVIDER: 'openai', OPENAI_BASE_URL: `${fake.url}/v1`, OPENAI_MODEL: 'qwen3:8b', SQLITE_DB_PATH: join(dir, 'data', 'lares.db'), LARES_EMBEDDER: 'none', ANTHROPIC_API_KEY: '' };
  });
  after(async () => { await fake.close(); rmSync(dir, { recursive: true, force: true }); });

  test('a memory edit through a tool call, then replies; exit 0', async () => {
    fake.enqueue(
      { reasoning: 'The person introduced themself; I should remember.', toolCalls: [{ name: 'memory_replace', arguments: { label: 'human', old_string: INITIAL_HUMAN, new_string: 'My person is Grace; she keeps bees.' } }] },
      { text: 'Lovely to meet you, Grace.' },
      { text: 'Bees are wonderful.' },
    );
    const result = await runLares(['chat'], { env, input: 'Hi, I am Grace.\nI keep bees.\n', cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'Lovely to meet you, Grace.\nBees are wonderful.\n');
    assert.doesNotMatch(result.stdout, /should remember/, 'a model\'s <think> section is never shown');
    const second = chats(fake)[1].body;
    assert.equal(second.messages.at(-1).role, 'tool');
    assert.equal(second.messages.at(-2).tool_calls[0].function.name, 'memory_replace');
  });

  test('after a restart the memory is in the system message and the history replays as chat messages', async () => {
    fake.enqueue({ text: 'You are Grace, the beekeeper.' });
    const result = await runLares(['chat'], { env, input: 'Who am I?\n', cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'You are Grace, the beekeeper.\n');
    const body = chats(fake).at(-1)!.body;
    assert.equal(body.messages[0].role, 'system');
    assert.match(body.messages[0].content, /My person is Grace; she keeps bees\./);
    assert.ok(body.messages.some((m: any) => m.role === 'tool'));
    assert.equal(chats(fake).at(-1)!.status, 200);
    assert.equal(chats(fake).at(-1)!.truncated, undefined);
    const db = new DatabaseSync(env.SQLITE_DB_PATH, { readOnly: true });
    try {
      const rows = db.prepare("SELECT provider, model, source FROM llm_usage ORDER BY id").all() as Array<{ provider: string; model: string; source: string }>;
      assert.ok(rows.length >= 4);
      assert.ok(rows.every((r) => r.provider === 'openai' && r.model === 'qwen3:8b' && r.source === 'terminal'));
    } finally {
      db.close();
    }
  });

  test('lares usage shows the calls, and a local model without a price says so', async () => {
    const result = await runLares(['usage', '--by', 'model', '--json'], { env, cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.ok(JSON.stringify(report).includes('qwen3:8b'));
  });
});

describe('the whole of Lares on an Ollama model (channel runtime)', () => {
  let fake: FakeOpenAiChat;
  let dir: string;
  before(async () => {
    fake = await startFakeOpenAiChat({ flavour: 'ollama', models: [{ id: 'qwen3:8b', numCtx: 12288 }] });
    dir = mkdtempSync(join(tmpdir(), 'lares-ollama-'));
  });
  after(async () => { await fake.close(); rmSync(dir, { recursive: true, force: true }); });

  test('an approval runs exactly once; a long conversation compacts inside num_ctx and nothing is ever cut', async (t) => {
    const approved = join(dir, 'approved');
    fake.setResponder((request) => {
      const text = lastText(request);
      if (text.includes('[compaction]')) return { text: 'Summary: Ada talked about her garden at length (tomatoes, beans, a fox).' };
      if (text.includes('[approval result]')) return { text: 'Done, it ran.' };
      if (request.body.messages.at(-1).role === 'tool') return { text: 'Waiting for your approval.' };
      if (text.includes('make the file')) return { toolCalls: [{ name: 'run_shell_command', arguments: { command: `touch ${approved}` } }] };
      return { text: `Noted: ${text.slice(-40)}` };
    });
    const config = loadConfig({
      LARES_PROVIDER: 'ollama', OLLAMA_BASE_URL: fake.url, OPENAI_MODEL: 'qwen3:8b', SQLITE_DB_PATH: join(dir, 'lares.db'),
      LARES_ALLOWED_PATHS: dir, LARES_EMBEDDER: 'none', LARES_LLM_RETRY_BASE_MS: '1',
    });
    let runtime = await createChannelRuntime(config, { channel: 'terminal' });
    t.after(() => runtime.close());
    // num_ctx 12288 minus room for the reply: compaction works inside what Ollama really holds
    assert.equal(runtime.direct!.compactor.contextLimit, 12288 - 3072);

    const replies: TurnResult[] = [];
    let delivered: () => void = () => {};
    const feed = runtime.feedApprovalOutcomes((reply) => { replies.push(reply); delivered(); });
    const first = await runtime.agent.send({ content: 'please make the file', source: 'terminal' });
    assert.equal(first.pendingApprovals.length, 1);
    assert.equal(existsSync(approved), false);
    const delivering = new Promise<void>((resolve) => { delivered = resolve; });
    assert.match((await runtime.terminalCommands.run('approve', [first.pendingApprovals[0]]))!, /executed/);
    await delivering;
    assert.equal(existsSync(approved), true);
    assert.equal(replies.at(-1)!.reply, 'Done, it ran.');
    await assert.rejects(runtime.terminalCommands.run('approve', [first.pendingApprovals[0]]), /already|not pending|409/);
    await feed.close();

    for (let i = 0; i < 40; i++) {
      await runtime.agent.send({ content: `Garden note ${i}: ${'the tomatoes and the beans grew tall near the old fence where a fox sleeps '.repeat(6)}`, source: 'terminal' });
    }
    const store = runtime.store;
    const summary = await store.latestSummary();
    assert.ok(summary, 'compaction wrote a summary');
    assert.match(summary!.summary, /garden/);
    assert.equal((await store.counts()).messages >= 80, true, 'nothing was deleted');
    const sent = chats(fake);
    assert.ok(sent.every((r) => r.truncated === undefined), 'Ollama never had to cut a prompt');
    assert.ok(sent.every((r) => r.body.messages[0].role === 'system'), 'the memory always reached the model');

    await runtime.close();
    runtime = await createChannelRuntime(config, { channel: 'terminal' });
    const after = await runtime.agent.send({ content: 'What grew in my garden?', source: 'terminal' });
    assert.match(after.reply, /Noted/);
    assert.match(chats(fake).at(-1)!.body.messages[0].content, /Summary: Ada talked about her garden/);
  });
});

describe('a conversation that switches provider between turns', () => {
  let anthropic: FakeAnthropic;
  let openai: FakeOpenAiChat;
  let dir: string;
  before(async () => {
    anthropic = await startFakeAnthropic();
    openai = await startFakeOpenAiChat();
    dir = mkdtempSync(join(tmpdir(), 'lares-switch-'));
  });
  after(async () => { await anthropic.close(); await openai.close(); rmSync(dir, { recursive: true, force: true }); });

  test('Claude → OpenAI-compatible → Claude, with tool calls on each side, every request accepted', async () => {
    const base = { SQLITE_DB_PATH: join(dir, 'lares.db'), LARES_EMBEDDER: 'none', LARES_LLM_RETRY_BASE_MS: '1', ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6', OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: `${openai.url}/v1`, OPENAI_MODEL: 'gpt-4.1-mini' };
    let runtime = await createDirectRuntime(loadConfig(base));
    anthropic.enqueue({ toolUses: [{ name: 'archival_memory_insert', input: { content: 'Ada grows tomatoes' } }] }, { text: 'Saved.' });
    await runtime.agent.send({ content: 'Remember that I grow tomatoes.', source: 'terminal' });
    await runtime.close();

    runtime = await createDirectRuntime(loadConfig({ ...base, LARES_PROVIDER: 'openai' }));
    // a server that sends tool calls without ids: Lares makes them up and keeps the pairs intact
    openai.enqueue({ omitToolCallIds: true, toolCalls: [{ name: 'archival_memory_search', arguments: { query: 'tomatoes' } }] }, { text: 'You grow tomatoes.' });
    const middle = await runtime.agent.send({ content: 'What do I grow?', source: 'terminal' });
    assert.equal(middle.reply, 'You grow tomatoes.');
    assert.ok(chats(openai).every((r) => r.status === 200), 'the OpenAI side accepted the Claude history');
    assert.ok(JSON.stringify(chats(openai)[0].body.messages).includes('archival_memory_insert'));
    await runtime.close();

    runtime = await createDirectRuntime(loadConfig(base));
    anthropic.enqueue({ text: 'Tomatoes, still.' });
    const last = await runtime.agent.send({ content: 'And now?', source: 'terminal' });
    assert.equal(last.reply, 'Tomatoes, still.');
    const accepted = anthropic.requests.at(-1)!;
    assert.ok(accepted.usage, 'the Anthropic side accepted the OpenAI history');
    assert.ok(JSON.stringify(accepted.body.messages).includes('archival_memory_search'));
    await runtime.close();
  });
});

describe('per-task models, idle perch and the daily budget', () => {
  let anthropic: FakeAnthropic;
  let ollama: FakeOpenAiChat;
  let openai: FakeOpenAiChat;
  let dir: string;
  let base: Record<string, string>;
  before(async () => {
    anthropic = await startFakeAnthropic();
    ollama = await startFakeOpenAiChat({ flavour: 'ollama', models: [{ id: 'qwen3:8b', numCtx: 32768 }] });
    openai = await startFakeOpenAiChat();
    dir = mkdtempSync(join(tmpdir(), 'lares-tasks-'));
    base = {
      LARES_EMBEDDER: 'none', LARES_LLM_RETRY_BASE_MS: '1', ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6',
      OLLAMA_BASE_URL: ollama.url, OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: `${openai.url}/v1`,
    };
  });
  after(async () => { await anthropic.close(); await ollama.close(); await openai.close(); rmSync(dir, { recursive: true, force: true }); });

  test('perch turns go to LARES_MODEL_PERCH, summaries to LARES_MODEL_COMPACTION; an idle scheduled perch makes no call', async () => {
    const runtime = await createDirectRuntime(loadConfig({
      ...base, SQLITE_DB_PATH: join(dir, 'tasks.db'), LARES_MODEL_PERCH: 'ollama:qwen3:8b', LARES_MODEL_COMPACTION: 'openai:gpt-4.1-mini', CONTEXT_LIMIT: '9000',
    }));
    try {
      anthropic.enqueue({ text: 'Hello Ada.' });
      await runtime.agent.send({ content: 'Hi, I am Ada.', source: 'terminal' });
      ollama.enqueue({ text: '(silent)' });
      const perch = await runtime.agent.send({ content: '[perch time] a quiet moment', source: 'perch', skipIfIdle: true });
      assert.equal(perch.reply, '(silent)');
      assert.equal(chats(ollama).length, 1, 'the perch turn went to Ollama');
      assert.equal(chats(ollama)[0].body.model, 'qwen3:8b');

      const idle = await runtime.agent.send({ content: '[perch time] another quiet moment', source: 'perch', skipIfIdle: true });
      assert.equal(idle.stopReason, 'idle');
      assert.equal(chats(ollama).length, 1, 'nothing new: no model call');

      anthropic.setResponder(() => ({ text: 'Noted.' }));
      openai.setResponder(() => ({ text: 'Summary: Ada said many things about her garden.' }));
      for (let i = 0; i < 40 && chats(openai).length === 0; i++) {
        await runtime.agent.send({ content: `Garden note ${i}: ${'the beans climb the fence and the fox watches '.repeat(30)}`, source: 'terminal' });
      }
      assert.ok(chats(openai).length >= 1, 'the summary was written by the compaction model');
      assert.match((await runtime.store.latestSummary())!.summary, /Summary: Ada said/);
      const ran = await runtime.agent.send({ content: '[perch time] after the talk', source: 'perch', skipIfIdle: true });
      assert.notEqual(ran.stopReason, 'idle', 'new messages since the last perch: it runs');
      const groups = await runtime.store.usageSummary({});
      const providers = new Set(groups.map((g) => `${g.provider}/${g.kind}/${g.source ?? ''}`));
      for (const expected of ['anthropic/turn/terminal', 'ollama/turn/perch', 'openai/compaction/']) assert.ok(providers.has(expected), `${expected} in ${[...providers].join(', ')}`);
    } finally {
      await runtime.close();
      anthropic.setResponder(() => ({ text: 'ok' }));
    }
  });

  test('small local models for perch and summaries: perch is trimmed to its window, summaries fit theirs, nothing is cut', async () => {
    const small = await startFakeOpenAiChat({ flavour: 'ollama', models: [{ id: 'qwen3:4b', numCtx: 6144 }] });
    const runtime = await createDirectRuntime(loadConfig({
      ...base, OLLAMA_BASE_URL: small.url, SQLITE_DB_PATH: join(dir, 'small.db'), CONTEXT_LIMIT: '24000',
      LARES_MODEL_PERCH: 'ollama:qwen3:4b', LARES_MODEL_COMPACTION: 'ollama:qwen3:4b',
    }));
    try {
      anthropic.setResponder(() => ({ text: 'Noted.' }));
      small.setResponder((request) => (lastText(request).includes('[compaction]') || JSON.stringify(request.body.messages).includes('<transcript') ? { text: 'Summary: the garden, the beans, the fox.' } : { text: '(silent)' }));
      for (let i = 0; i < 12; i++) await runtime.agent.send({ content: `Garden note ${i}: ${'the beans climb the fence and the fox watches '.repeat(25)}`, source: 'terminal' });
      assert.equal(await runtime.store.latestSummary(), undefined, 'the conversation is below its own threshold');
      const perch = await runtime.agent.send({ content: '[perch time] a quiet moment', source: 'perch' });
      assert.equal(perch.reply, '(silent)');
      assert.equal(await runtime.store.latestSummary(), undefined, 'a perch model\'s small window never compacts the conversation');
      for (let i = 12; i < 80 && !(await runtime.store.latestSummary()); i++) await runtime.agent.send({ content: `Garden note ${i}: ${'the beans climb the fence and the fox watches '.repeat(25)}`, source: 'terminal' });
      assert.match((await runtime.store.latestSummary())?.summary ?? '', /Summary: the garden/, 'the small model wrote the summary');
      const sent = chats(small);
      assert.ok(sent.length >= 2);
      assert.ok(sent.every((r) => r.status === 200 && r.truncated === undefined), 'Ollama never had to cut a prompt');
    } finally {
      await runtime.close();
      await small.close();
      anthropic.setResponder(() => ({ text: 'ok' }));
    }
  });

  test('the budget: soft mode answers and says so once; perch and jobs stop; hard mode makes no call', async () => {
    const db = join(dir, 'budget.db');
    const soft = await createDirectRuntime(loadConfig({ ...base, SQLITE_DB_PATH: db, LARES_PROVIDER: 'openai', OPENAI_MODEL: 'gpt-4.1-mini', LARES_DAILY_BUDGET_USD: '0.0001' }));
    try {
      openai.enqueue({ text: `A long answer: ${'words '.repeat(200)}` });
      const first = await soft.agent.send({ content: 'Tell me a lot.', source: 'terminal' });
      assert.match(first.reply, /daily cap/, 'the reply that crossed the cap says so');
      const calls = chats(openai).length;
      const perch = await soft.agent.send({ content: '[perch time]', source: 'perch' });
      assert.equal(perch.stopReason, 'budget_reached');
      const job = await soft.agent.send({ content: '[scheduled job] water the plants', source: 'job' });
      assert.equal(job.stopReason, 'budget_reached');
      assert.equal(chats(openai).length, calls, 'background turns made no model call');
      openai.enqueue({ text: 'Still here.' });
      const next = await soft.agent.send({ content: 'Are you there?', source: 'terminal' });
      assert.equal(next.reply, 'Still here.', 'soft: conversation goes on, the notice came once');
    } finally {
      await soft.close();
    }
    const hard = await createDirectRuntime(loadConfig({ ...base, SQLITE_DB_PATH: db, LARES_PROVIDER: 'openai', OPENAI_MODEL: 'gpt-4.1-mini', LARES_DAILY_BUDGET_USD: '0.0001', LARES_BUDGET_MODE: 'hard' }));
    try {
      const calls = chats(openai).length;
      const refused = await hard.agent.send({ content: 'One more thing to remember: the shed key is under the pot.', source: 'terminal' });
      assert.equal(refused.stopReason, 'budget_reached');
      assert.match(refused.reply, /hard mode/);
      assert.equal(chats(openai).length, calls, 'hard: no model call');
      const [stored] = await hard.store.recentMessages(1);
      assert.match(stored.content, /shed key is under the pot/, 'the message is kept for when the cap resets');
    } finally {
      await hard.close();
    }
  });
});
