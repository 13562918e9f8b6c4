import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL, loadConfig, readEnvironment } from '../../src/config/config.ts';
import { LaresError } from '../../src/errors.ts';

test('defaults follow the seed', () => {
  const c = loadConfig({});
  assert.equal(c.mode, 'direct');
  assert.match(c.modeReason, /no LETTA_BASE_URL/);
  assert.equal(c.memoryProvider, 'sqlite');
  assert.equal(c.sqlitePath, 'data/lares.db');
  assert.equal(c.contextLimit, 50000);
  assert.equal(c.compactThreshold, 0.7);
  assert.equal(c.targetAfterCompact, 0.25);
  assert.equal(c.maxToolIterations, 10);
  assert.equal(c.anthropic.model, DEFAULT_MODEL);
  assert.equal(c.mcp.host, '127.0.0.1');
  assert.equal(c.mcp.port, 8765);
});

test('USE_DIRECT_LLM picks the mode; unset with a Letta URL keeps the seed default (Letta mode)', () => {
  assert.equal(loadConfig({ USE_DIRECT_LLM: 'true', LETTA_BASE_URL: 'http://127.0.0.1:8283' }).mode, 'direct');
  assert.equal(loadConfig({ USE_DIRECT_LLM: 'false' }).mode, 'letta');
  assert.equal(loadConfig({ LETTA_BASE_URL: 'http://127.0.0.1:8283' }).mode, 'letta');
  assert.equal(loadConfig({ ANTHROPIC_MODEL: 'claude-sonnet-4-20250514' }).anthropic.model, 'claude-sonnet-4-20250514');
});

test('every bad variable is listed in one error, with exit code 2, secrets hidden', () => {
  try {
    loadConfig({ CONTEXT_LIMIT: 'lots', COMPACT_THRESHOLD: '1.5', USE_DIRECT_LLM: 'perhaps', MCP_PORT: '99999', ANTHROPIC_BASE_URL: 'not a url', DISCORD_OWNER_ID: 'bob', DATABASE_URL: 'mysql://secret@x' });
    assert.fail('should throw');
  } catch (error) {
    assert.ok(error instanceof LaresError);
    assert.equal(error.exitCode, 2);
    for (const key of ['CONTEXT_LIMIT', 'COMPACT_THRESHOLD', 'USE_DIRECT_LLM', 'MCP_PORT', 'ANTHROPIC_BASE_URL', 'DISCORD_OWNER_ID', 'DATABASE_URL']) {
      assert.match(error.message, new RegExp(`${key}=`));
    }
    assert.match(error.message, /7 variables/);
    assert.doesNotMatch(error.message, /secret/);
  }
});

test('cross-field checks: target below threshold, postgres needs DATABASE_URL', () => {
  assert.throws(() => loadConfig({ TARGET_AFTER_COMPACT: '0.8' }), /TARGET_AFTER_COMPACT=0.8: must be below COMPACT_THRESHOLD/);
  assert.throws(() => loadConfig({ MEMORY_PROVIDER: 'postgres' }), /DATABASE_URL: required when MEMORY_PROVIDER=postgres/);
});

test('.env is read, and the real environment wins over it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-env-'));
  try {
    writeFileSync(join(dir, '.env'), 'CONTEXT_LIMIT=12345\nANTHROPIC_MODEL="claude-sonnet-4-6"\n');
    const env = readEnvironment({ ANTHROPIC_MODEL: 'claude-opus-4-8' }, dir);
    const c = loadConfig(env);
    assert.equal(c.contextLimit, 12345);
    assert.equal(c.anthropic.model, 'claude-opus-4-8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model choice: provider, per-task models in provider:model form, and the budget', () => {
  const c = loadConfig({ LARES_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1', OPENAI_MODEL: 'qwen3:8b', LARES_MODEL_COMPACTION: 'anthropic:claude-haiku-4-5', LARES_MODEL_PERCH: 'qwen3:1.7b', LARES_DAILY_BUDGET_USD: '1.50' });
  assert.deepEqual(c.models.conversation, { provider: 'openai', model: 'qwen3:8b' });
  assert.deepEqual(c.models.compaction, { provider: 'anthropic', model: 'claude-haiku-4-5' });
  assert.deepEqual(c.models.perch, { provider: 'openai', model: 'qwen3:1.7b' }, 'a bare name is a model of the main provider, colons and all');
  assert.deepEqual(c.budget, { dailyUsd: 1.5, mode: 'soft' });
  assert.deepEqual(loadConfig({ LARES_MODEL_PERCH: 'ollama:qwen3:8b' }).models.perch, { provider: 'ollama', model: 'qwen3:8b' });
  assert.deepEqual(loadConfig({}).models.conversation, { provider: 'anthropic', model: DEFAULT_MODEL });
  assert.deepEqual(loadConfig({ LARES_PROVIDER: 'openai' }).models.conversation, { provider: 'openai', model: 'gpt-5-mini' });
});

test('bad model settings are all listed, each with what to set', () => {
  assert.throws(() => loadConfig({ LARES_PROVIDER: 'gemini', LARES_DAILY_BUDGET_USD: '-3', LARES_BUDGET_MODE: 'strict', LARES_CONTEXT_WINDOW: '12k', LARES_MODEL_PERCH: 'two words' }), (e: unknown) => {
    const message = (e as LaresError).message;
    for (const name of ['LARES_PROVIDER', 'LARES_DAILY_BUDGET_USD', 'LARES_BUDGET_MODE', 'LARES_CONTEXT_WINDOW', 'LARES_MODEL_PERCH']) assert.match(message, new RegExp(name));
    return (e as LaresError).exitCode === 2;
  });
  assert.throws(() => loadConfig({ LARES_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://127.0.0.1:8080/v1' }), /OPENAI_MODEL: required/);
  assert.throws(() => loadConfig({ LARES_PROVIDER: 'ollama' }), /OPENAI_MODEL: required when LARES_PROVIDER=ollama/);
});
