// LARES_APPROVAL_DB (deprecated): a queue kept in a SQLite file of its own by an older Lares is
// copied into the store once, the old file is never written, and a warning says to drop the
// variable. `lares status` then reads the copied state from the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresStore } from '../../src/memory/postgres/postgres-store.ts';
import { runLares } from '../support/cli.ts';
import { startTestPostgres } from '../support/postgres.ts';
import { openMcpDatabase } from '../memory/fixtures/old-mcp-database.ts';

const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

test('a separate LARES_APPROVAL_DB file is copied into the store once, left unchanged, with a deprecation warning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-legacy-queue-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const legacy = join(dir, 'approvals.db');
  const old = openMcpDatabase(legacy);
  old.prepare(`INSERT INTO approval_requests (id, tool, args_json, reason, status, created_at, expires_at)
    VALUES ('0ld0ld00', 'run_shell_command', '{"command":"make deploy"}', 'not on the allowlist', 'pending', '2026-01-01T00:00:00.000Z', '2099-01-01T00:00:00.000Z')`).run();
  old.prepare(`INSERT INTO mcp_jobs (id, kind, spec, message, next_run_at, last_run_at, active, created_at)
    VALUES ('job_old', 'cron', '0 9 * * *', 'plan the day', '2099-01-01T09:00:00.000Z', NULL, 1, '2026-01-01T00:00:00.000Z')`).run();
  old.prepare(`INSERT INTO mcp_shell_allowlist (argv_json, approval_id, created_at) VALUES ('["uptime"]', NULL, '2026-01-01T00:00:00.000Z')`).run();
  old.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  old.close();
  const before = digest(legacy);
  const env = { SQLITE_DB_PATH: join(dir, 'data', 'lares.db'), LARES_APPROVAL_DB: legacy, LOG_LEVEL: 'warn' };

  const first = await runLares(['approvals', 'list', '--json'], { env, cwd: dir });
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(JSON.parse(first.stdout).map((a: { id: string }) => a.id), ['0ld0ld00'], 'the old pending request is in the store');
  assert.match(first.stderr, /LARES_APPROVAL_DB is deprecated/);
  assert.match(first.stderr, /copied 1 approvals, 0 events, 1 jobs and 1 allowlist entries/);

  // decided in the store; the next start does not bring it back from the old file
  const denied = await runLares(['approvals', 'deny', '0ld0ld00', '--json'], { env, cwd: dir });
  assert.equal(denied.code, 0, denied.stderr);
  const again = await runLares(['approvals', 'list', '--json'], { env, cwd: dir });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), [], 'not copied a second time');
  assert.match(again.stderr, /its rows were copied into the store on/);
  assert.equal(digest(legacy), before, 'the old file was never written');

  const status = await runLares(['status'], { env: { SQLITE_DB_PATH: env.SQLITE_DB_PATH }, cwd: dir });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^store: sqlite$/m);
  assert.match(status.stdout, /workers: none running/);
  assert.match(status.stdout, /channels: held by nobody/);
  assert.match(status.stdout, /approvals pending: 0/);
  assert.match(status.stdout, /jobs active: 1, next at 2099-01-01T09:00:00.000Z/);
  const json = await runLares(['status', '--json'], { env: { SQLITE_DB_PATH: env.SQLITE_DB_PATH }, cwd: dir });
  assert.deepEqual(JSON.parse(json.stdout).jobs, { active: 1, nextRunAt: '2099-01-01T09:00:00.000Z' });
});

test('with PostgreSQL memory, the queue an earlier version kept in SQLITE_DB_PATH moves into PostgreSQL once, and stored channel cursors stay valid', async (t) => {
  const pg = await startTestPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'lares-legacy-pg-'));
  t.after(async () => { await pg.stop(); rmSync(dir, { recursive: true, force: true }); });
  const url = await pg.createDatabase('legacy_queue');
  const sqlite = join(dir, 'lares.db');
  const old = openMcpDatabase(sqlite);
  old.prepare(`INSERT INTO approval_requests (id, tool, args_json, reason, status, created_at, expires_at)
    VALUES ('a0a0a0a0', 'write_file', '{"path":"/etc/motd","content":"hi"}', 'outside the vault', 'pending', '2026-01-01T00:00:00.000Z', '2099-01-01T00:00:00.000Z')`).run();
  old.close();
  // the channel read the old log up to event 5000; the new log must not hide new events behind that
  const store = await openPostgresStore(url);
  t.after(() => store.close());
  await store.setMeta('discord.events.last_id', '5000');
  const env = { MEMORY_PROVIDER: 'postgres', DATABASE_URL: url, SQLITE_DB_PATH: sqlite, LOG_LEVEL: 'warn' };
  const first = await runLares(['approvals', 'list', '--json'], { env, cwd: dir });
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(JSON.parse(first.stdout).map((a: { id: string }) => a.id), ['a0a0a0a0']);
  assert.match(first.stderr, /moved from the SQLite file SQLITE_DB_PATH into PostgreSQL: copied 1 approvals/);
  assert.ok((await store.toolState.appendEvent('job_due', { jobId: 'x' })).id > 5000, 'new events come after the stored cursor');
  const again = await runLares(['approvals', 'list', '--json'], { env, cwd: dir });
  assert.doesNotMatch(again.stderr, /moved from the SQLite file/, 'copied once');
});
