// lares backup: SQLite's online backup while the store is open and being written.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import { backupSqlite, defaultBackupPath } from '../../src/ops/backup.ts';
import { runLares } from '../support/run-lares.ts';
import { fillStore } from './fill-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'lares-backup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a backup taken while the store is open holds everything committed, and passes its integrity check', async (t) => {
  const path = join(dir, 'live.db');
  const store = await openSqliteStore(path);
  t.after(() => store.close());
  await fillStore(store);
  // the store keeps its connection and WAL; the backup still sees every committed row
  const backup = backupSqlite(path, join(dir, 'copy.db'));
  await store.appendMessages([{ role: 'user', blocks: [{ type: 'text', text: 'written during the backup' }] }]);
  const result = await backup;
  assert.equal(result.path, join(dir, 'copy.db'));
  assert.ok(result.bytes > 0);
  const copy = await openSqliteStore(result.path);
  t.after(() => copy.close());
  const counts = await copy.counts();
  assert.ok(counts.messages === 6 || counts.messages === 7);
  assert.deepEqual(await copy.listBlocks(), await store.listBlocks());
  assert.equal((await copy.searchMessages('Ana')).length > 0, true);
  // the live store is unaffected
  await store.appendMessages([{ role: 'user', blocks: [{ type: 'text', text: 'after' }] }]);
  assert.equal((await store.counts()).messages, 8);
});

test('the default backup path is data/backups/lares-<UTC time>.db next to the database', () => {
  assert.equal(defaultBackupPath('/srv/lares/data/lares.db', new Date('2026-11-26T02:03:04.567Z')), '/srv/lares/data/backups/lares-20261126T020304Z.db');
});

test('backup refuses a missing database and an existing target', async () => {
  await assert.rejects(backupSqlite(join(dir, 'none.db'), join(dir, 'x.db')), /no database at .*SQLITE_DB_PATH/);
  const path = join(dir, 'exists.db');
  await (await openSqliteStore(path)).close();
  writeFileSync(join(dir, 'taken.db'), 'x');
  await assert.rejects(backupSqlite(path, join(dir, 'taken.db')), /exists already/);
});

test('lares backup prints the backup path; with PostgreSQL it refuses and points at pg_dump', async () => {
  const path = join(dir, 'cli', 'lares.db');
  const store = await openSqliteStore(path);
  await fillStore(store);
  await store.close();
  const run = await runLares(['backup'], { SQLITE_DB_PATH: path });
  assert.equal(run.code, 0, run.stderr);
  const printed = run.stdout.trim();
  assert.match(printed, /\/cli\/backups\/lares-\d{8}T\d{6}Z\.db$/);
  assert.ok(existsSync(printed));
  const copy = await openSqliteStore(printed);
  assert.equal((await copy.counts()).messages, 6);
  await copy.close();
  const again = await runLares(['backup', '--to', printed], { SQLITE_DB_PATH: path });
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists already/);
  const pg = await runLares(['backup'], { MEMORY_PROVIDER: 'postgres', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db', SQLITE_DB_PATH: join(dir, 'none', 'lares.db') });
  assert.equal(pg.code, 2);
  assert.match(pg.stderr, /pg_dump/);
  assert.equal(pg.stdout, '');
});
