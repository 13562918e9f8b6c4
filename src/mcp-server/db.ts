// The MCP server's own tables, in the same SQLite file as the memory store.
// The memory store owns PRAGMA user_version, so this module versions its tables
// in `mcp_schema` and only ever touches tables named approval_* or mcp_*.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { LaresError, errorMessage } from '../errors.ts';
import { nowIso } from '../time.ts';

const MIGRATIONS: string[] = [
  // 1: approval queue, stored events, persisted allowlist, scheduled jobs
  `CREATE TABLE approval_requests (
     id TEXT PRIMARY KEY,
     tool TEXT NOT NULL,
     args_json TEXT NOT NULL,
     reason TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending','approved','executed','failed','denied','expired')),
     created_at TEXT NOT NULL,
     expires_at TEXT NOT NULL,
     decided_at TEXT,
     finished_at TEXT,
     result_json TEXT,
     error TEXT,
     deny_reason TEXT,
     always_allowed INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX approval_requests_status ON approval_requests(status, created_at);
   CREATE TABLE mcp_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     type TEXT NOT NULL,
     data_json TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE mcp_shell_allowlist (
     argv_json TEXT PRIMARY KEY,
     approval_id TEXT,
     created_at TEXT NOT NULL
   );
   CREATE TABLE mcp_jobs (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('once','interval','cron')),
     spec TEXT NOT NULL,
     message TEXT NOT NULL,
     next_run_at TEXT,
     last_run_at TEXT,
     active INTEGER NOT NULL DEFAULT 1,
     created_at TEXT NOT NULL
   );`,
];

/** Opens (creating if needed) the database file and brings the MCP tables up to date. */
export function openMcpDatabase(path: string): DatabaseSync {
  let db: DatabaseSync;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new DatabaseSync(path, { timeout: 5000 });
    db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;');
  } catch (error) {
    throw new LaresError('STORE_ERROR', `cannot open the approval database ${path}: ${errorMessage(error)}. Check LARES_APPROVAL_DB / SQLITE_DB_PATH and that the directory is writable.`, { cause: error });
  }
  migrate(db);
  return db;
}

function migrate(db: DatabaseSync): void {
  db.exec(`CREATE TABLE IF NOT EXISTS mcp_schema (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
  // Two processes may start together: take the write lock before reading the version.
  db.exec('BEGIN IMMEDIATE');
  try {
    const row = db.prepare(`SELECT value FROM mcp_schema WHERE key = 'version'`).get() as { value: string } | undefined;
    const current = row ? Number(row.value) : 0;
    if (current > MIGRATIONS.length) {
      throw new LaresError('STORE_ERROR', `the MCP tables are at schema version ${current}, newer than this Lares understands (${MIGRATIONS.length}); upgrade Lares.`);
    }
    for (let version = current + 1; version <= MIGRATIONS.length; version++) db.exec(MIGRATIONS[version - 1]);
    if (current < MIGRATIONS.length) {
      db.prepare(`INSERT INTO mcp_schema (key, value) VALUES ('version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(String(MIGRATIONS.length));
      db.prepare(`INSERT INTO mcp_schema (key, value) VALUES ('migrated_at', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(nowIso());
    }
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
