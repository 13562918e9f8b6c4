// lares doctor's model checks against the fake Chat Completions API: Ollama (model pulled, its
// context size, tool support) and an OpenAI-compatible server (listed models, --live).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger, setLogger } from '../../src/log.ts';
import { runDoctor, type DoctorReport } from '../../src/ops/doctor.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/openai-chat.ts';

setLogger(createLogger({ level: 'silent', pretty: false }));

let ollama: FakeOpenAiChat;
let openai: FakeOpenAiChat;
before(async () => {
  ollama = await startFakeOpenAiChat({ flavour: 'ollama', models: [{ id: 'qwen3:8b', numCtx: 32768 }, { id: 'gemma3:1b', tools: false }] });
  openai = await startFakeOpenAiChat();
});
after(async () => { await ollama.close(); await openai.close(); });

const check = (report: DoctorReport, id: string) => report.checks.find((c) => c.id === id);
const base = { SQLITE_DB_PATH: '/tmp/lares-doctor-models-nonexistent/lares.db', USE_DIRECT_LLM: 'true' };

test('Ollama: a pulled model with tools and a large context passes', async () => {
  const report = await runDoctor(loadConfig({ ...base, LARES_PROVIDER: 'ollama', OLLAMA_BASE_URL: ollama.url, OPENAI_MODEL: 'qwen3:8b' }));
  assert.equal(check(report, 'ollama_model')?.status, 'ok');
  assert.match(check(report, 'ollama_context')!.message, /32768/);
  assert.equal(check(report, 'ollama_context')?.status, 'ok');
  assert.equal(check(report, 'ollama_tools')?.status, 'ok');
});

test('Ollama: the default context and a model without tools are flagged with the fix; a missing model fails', async () => {
  const small = await runDoctor(loadConfig({ ...base, LARES_PROVIDER: 'ollama', OLLAMA_BASE_URL: ollama.url, OPENAI_MODEL: 'gemma3:1b' }));
  assert.equal(check(small, 'ollama_context')?.status, 'fail');
  assert.equal(check(small, 'ollama_context')?.required, true, 'with 4,096 tokens no turn fits: doctor fails');
  assert.match(check(small, 'ollama_context')!.fix!, /OLLAMA_CONTEXT_LENGTH|num_ctx/);
  assert.equal(check(small, 'ollama_tools')?.status, 'fail');
  const missing = await runDoctor(loadConfig({ ...base, LARES_PROVIDER: 'openai', OPENAI_BASE_URL: `${ollama.url}/v1`, OPENAI_MODEL: 'mistral:7b' }));
  assert.equal(check(missing, 'ollama_model')?.status, 'fail');
  assert.equal(check(missing, 'ollama_model')?.fix, 'ollama pull mistral:7b');
  assert.equal(missing.ok, false);
});

test('an unreachable server is named; an OpenAI-compatible server lists the model; --live makes one request', async () => {
  const down = await runDoctor(loadConfig({ ...base, LARES_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', OPENAI_MODEL: 'x' }), { timeoutMs: 2000 });
  assert.equal(check(down, 'openai_reachable')?.status, 'fail');
  const listed = await runDoctor(loadConfig({ ...base, LARES_PROVIDER: 'openai', OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: `${openai.url}/v1`, OPENAI_MODEL: 'gpt-4.1-mini' }), { live: true });
  assert.equal(check(listed, 'openai_models')?.status, 'ok');
  assert.equal(check(listed, 'openai_live')?.status, 'ok', check(listed, 'openai_live')?.message);
  const badKey = await runDoctor(loadConfig({ ...base, LARES_PROVIDER: 'openai', OPENAI_API_KEY: 'wrong', OPENAI_BASE_URL: `${openai.url}/v1`, OPENAI_MODEL: 'gpt-4.1-mini' }), { live: true });
  assert.equal(check(badKey, 'openai_live')?.status, 'fail');
  assert.match(check(badKey, 'openai_live')!.fix!, /OPENAI_API_KEY/);
});

test('per-task models on other providers are each checked', async () => {
  const report = await runDoctor(loadConfig({ ...base, ANTHROPIC_API_KEY: 'sk-ant-x', LARES_MODEL_PERCH: 'ollama:qwen3:8b', OLLAMA_BASE_URL: ollama.url }));
  assert.match(check(report, 'models')!.message, /perch ollama:qwen3:8b/);
  assert.equal(check(report, 'anthropic')?.status, 'ok');
  assert.equal(check(report, 'ollama_tools')?.status, 'ok');
});
