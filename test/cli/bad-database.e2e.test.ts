// A wrong DATABASE_URL stops Lares before anything else: no SQLite file is created anywhere (not
// the tools' approval database either), no model is called, and the error says what to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeAnthropic } from '../fakes/anthropic.ts';
import { runLares } from '../support/cli.ts';

test('lares chat with MEMORY_PROVIDER=postgres and an unreachable DATABASE_URL writes nothing and calls no model', async (t) => {
  const fake = await startFakeAnthropic();
  const dir = mkdtempSync(join(tmpdir(), 'lares-baddb-'));
  t.after(async () => { await fake.close(); rmSync(dir, { recursive: true, force: true }); });
  const env = {
    MEMORY_PROVIDER: 'postgres', DATABASE_URL: 'postgres://lares:secret-password@127.0.0.1:9/lares', SQLITE_DB_PATH: join(dir, 'data', 'lares.db'),
    ANTHROPIC_API_KEY: fake.apiKey, ANTHROPIC_BASE_URL: fake.url, LARES_EMBEDDER: 'none', LARES_ENV_FILE: join(dir, 'none.env'),
  };
  const result = await runLares(['chat'], { env, input: 'Hello?\n', cwd: dir });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /PostgreSQL|DATABASE_URL|database/i);
  assert.doesNotMatch(result.stderr, /secret-password/, 'the password is never printed');
  assert.equal(existsSync(join(dir, 'data')), false, `nothing was created: ${readdirSync(dir).join(', ')}`);
  assert.equal(fake.requests.length, 0, 'no model call');
});

test('lares mcp, lares approvals and lares status with an unreachable DATABASE_URL create no SQLite file either', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-baddb-tools-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    MEMORY_PROVIDER: 'postgres', DATABASE_URL: 'postgres://lares:secret-password@127.0.0.1:9/lares', SQLITE_DB_PATH: join(dir, 'data', 'lares.db'),
    LARES_EMBEDDER: 'none', LARES_ENV_FILE: join(dir, 'none.env'), MCP_PORT: '0',
  };
  for (const args of [['mcp'], ['approvals', 'list'], ['status']]) {
    const result = await runLares(args, { env, cwd: dir });
    assert.notEqual(result.code, 0, `lares ${args.join(' ')} fails`);
    assert.match(result.stderr, /PostgreSQL|DATABASE_URL/, `lares ${args.join(' ')} names the database`);
    assert.doesNotMatch(result.stderr, /secret-password/);
    assert.equal(existsSync(join(dir, 'data')), false, `lares ${args.join(' ')} created nothing: ${readdirSync(dir).join(', ')}`);
  }
});
