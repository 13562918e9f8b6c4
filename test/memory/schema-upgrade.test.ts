import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openMcpDatabase } from './fixtures/old-mcp-database.ts';
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

test('the tool tables an older Lares made in the same file (the old src/mcp-server/db.ts) are adopted with their rows untouched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-upgrade-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // the memory store at version 4 with the MCP server's tables beside it, and a file that only the MCP server ever opened
  for (const storeVersionBefore of [4, 0]) {
    const path = join(dir, `lares-${storeVersionBefore}.db`);
    if (storeVersionBefore > 0) {
      const memory = new DatabaseSync(path);
      for (let version = 0; version < storeVersionBefore; version++) memory.exec(SQLITE_MIGRATIONS[version]);
      memory.exec(`PRAGMA user_version = ${storeVersionBefore}`);
      memory.close();
    }
    const old = openMcpDatabase(path);
    old.prepare(`INSERT INTO approval_requests (id, tool, args_json, reason, status, created_at, expires_at, decided_at, finished_at, result_json, error, deny_reason, always_allowed)
      VALUES ('ab12cd34', 'run_shell_command', '{"command":"ls"}', 'shell', 'executed', '2026-01-01T00:00:00.000Z', '2026-01-01T00:10:00.000Z',
        '2026-01-01T00:01:00.000Z', '2026-01-01T00:01:01.000Z', '{"text":"a b","isError":false}', NULL, NULL, 1)`).run();
    old.prepare(`INSERT INTO mcp_events (type, data_json, created_at) VALUES ('approval_needed', '{"id":"ab12cd34"}', '2026-01-01T00:00:00.000Z')`).run();
    old.prepare(`INSERT INTO mcp_jobs (id, kind, spec, message, next_run_at, last_run_at, active, created_at)
      VALUES ('job_1', 'interval', '1h', 'stretch', '2026-01-01T02:00:00.000Z', '2026-01-01T01:00:00.000Z', 0, '2026-01-01T00:00:00.000Z')`).run();
    old.prepare(`INSERT INTO mcp_shell_allowlist (argv_json, approval_id, created_at) VALUES ('["ls"]', 'ab12cd34', '2026-01-01T00:01:00.000Z')`).run();
    old.close();

    const store = new SqliteStore(path);
    t.after(() => store.close());
    assert.equal(Number((store.db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version), SQLITE_SCHEMA_VERSION);
    const { toolState } = store;
    assert.deepEqual(await toolState.getApproval('ab12cd34'), {
      id: 'ab12cd34', tool: 'run_shell_command', args: { command: 'ls' }, reason: 'shell', status: 'executed', createdAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2026-01-01T00:10:00.000Z', decidedAt: '2026-01-01T00:01:00.000Z', finishedAt: '2026-01-01T00:01:01.000Z',
      result: { text: 'a b', isError: false }, error: null, denyReason: null, alwaysAllowed: true,
    });
    assert.deepEqual(await toolState.eventsSince(0), [{ id: 1, type: 'approval_needed', data: { id: 'ab12cd34' }, createdAt: '2026-01-01T00:00:00.000Z' }]);
    assert.deepEqual(await toolState.listJobs(true), [{
      id: 'job_1', kind: 'interval', spec: '1h', message: 'stretch', nextRunAt: '2026-01-01T02:00:00.000Z', lastRunAt: '2026-01-01T01:00:00.000Z',
      active: false, createdAt: '2026-01-01T00:00:00.000Z', paused: true,
    }]);
    assert.deepEqual(await toolState.allowedCommands(), [{ argv: ['ls'], approvalId: 'ab12cd34', createdAt: '2026-01-01T00:01:00.000Z' }]);
    // the event log goes on after the old ids
    assert.equal((await toolState.appendEvent('job_due', {})).id, 2);
  }
});
