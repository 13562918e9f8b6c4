import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from '../../src/memory/sqlite/schema.ts';
import { SqliteStore } from '../../src/memory/sqlite/sqlite-store.ts';

test('a database from schema version 1 is migrated in place on open, keeping its rows', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-upgrade-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'lares.db');
  const old = new DatabaseSync(path);
  old.exec(SQLITE_MIGRATIONS[0]);
  old.exec('PRAGMA user_version = 1');
  old.prepare("INSERT INTO llm_usage(conversation_id, model, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, request_tokens, created_at) VALUES ('default', 'm', 10, 90, 0, 5, 100, '2026-01-01T00:00:00.000Z')").run();
  old.prepare("INSERT INTO messages(role, content, blocks_json, created_at) VALUES ('user', 'kept', '[{\"type\":\"text\",\"text\":\"kept\"}]', '2026-01-01T00:00:00.000Z')").run();
  old.close();

  const store = new SqliteStore(path);
  t.after(() => store.close());
  assert.equal(Number((store.db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version), SQLITE_SCHEMA_VERSION);
  assert.equal((await store.lastUsage())!.kind, 'turn');
  assert.equal((await store.recentMessages(1))[0].content, 'kept');
  await store.recordUsage({ kind: 'compaction', model: 'm', inputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 1 });
  assert.equal((await store.lastUsage())!.inputTokens, 10, 'a compaction call is not "the last request"');
  assert.equal((await store.usageTotals()).calls, 2, 'but it counts in what the conversation cost');
});

test('a database from schema version 3 gets provider and source on its usage rows (null for the old ones)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-upgrade-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'lares.db');
  const old = new DatabaseSync(path);
  for (let version = 0; version < 3; version++) old.exec(SQLITE_MIGRATIONS[version]);
  old.exec('PRAGMA user_version = 3');
  old.prepare("INSERT INTO llm_usage(conversation_id, model, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, request_tokens, created_at, kind) VALUES ('default', 'claude-sonnet-4-6', 10, 90, 0, 5, 100, '2026-01-01T10:00:00.000Z', 'turn')").run();
  old.close();

  const store = new SqliteStore(path);
  t.after(() => store.close());
  assert.equal(Number((store.db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version), SQLITE_SCHEMA_VERSION);
  const last = await store.lastUsage();
  assert.equal(last?.provider, null);
  assert.equal(last?.source, null);
  await store.recordUsage({ model: 'claude-sonnet-4-6', provider: 'anthropic', source: 'terminal', inputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 1, createdAt: '2026-01-01T11:00:00.000Z' });
  assert.deepEqual((await store.usageSummary({})).map((g) => [g.day, g.provider, g.source, g.calls]), [['2026-01-01', null, null, 1], ['2026-01-01', 'anthropic', 'terminal', 1]]);
  const indexes = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'llm_usage' ORDER BY name").all() as Array<{ name: string }>;
  assert.ok(indexes.some((i) => i.name === 'llm_usage_created_at'));
});
