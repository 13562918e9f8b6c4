// Earlier versions kept the approval queue, events, jobs and shell allowlist in a SQLite file of
// the tools' own: LARES_APPROVAL_DB, by default SQLITE_DB_PATH — also when the memory was in
// PostgreSQL. That state now lives in the memory store. On the first start the old file's rows are
// copied in once (read-only: the old file is never written); a file that is the store itself needs
// nothing (the store's migration adopted its tables in place).
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { LaresError, errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import type { MemoryStore } from '../memory/store.ts';
import type { ToolStateBatch } from '../memory/tool-state.ts';
import { toAllowedCommand, toApproval, toEvent, toJob } from '../memory/tool-state-rows.ts';

const DEPRECATION = 'LARES_APPROVAL_DB is deprecated: the approval queue, jobs and allowlist now live in the memory store (SQLITE_DB_PATH or DATABASE_URL); remove the variable';

/**
 * Copies an old tool-state file into the store once. `setting` says where the path came from:
 * the deprecated LARES_APPROVAL_DB (always warned about), or SQLITE_DB_PATH beside PostgreSQL
 * memory (copied quietly when it holds tool state, else ignored).
 */
export async function importLegacyApprovalDb(path: string, store: MemoryStore, setting: 'LARES_APPROVAL_DB' | 'SQLITE_DB_PATH'): Promise<void> {
  const file = resolve(path);
  const deprecated = setting === 'LARES_APPROVAL_DB';
  const warn = (detail: string) => { if (deprecated) log().warn({ event: 'deprecated_setting', setting, path: file }, `${DEPRECATION}${detail}`); };
  if (store.kind === 'sqlite' && 'path' in store && existsSync(file) && realpathSync(file) === realpathSync(resolve(String(store.path)))) return warn('');
  if (!existsSync(file)) return warn(` (the file ${file} does not exist; nothing to copy)`);
  const marker = `tool_state.imported_from:${file}`;
  const done = await store.getMeta(marker);
  if (done !== undefined) return warn(` (its rows were copied into the store on ${done})`);
  const batch = readLegacyFile(file);
  const rows = (batch.approvals?.length ?? 0) + (batch.events?.length ?? 0) + (batch.jobs?.length ?? 0) + (batch.allowlist?.length ?? 0);
  if (rows === 0 && !deprecated) return;
  const added = await store.toolState.importToolState(batch);
  if (!await store.claimMeta(marker, new Date().toISOString())) return; // another worker did it at the same moment: the import is idempotent
  const what = `copied ${added.approvals} approvals, ${added.events} events, ${added.jobs} jobs and ${added.allowlist} allowlist entries from ${file} into the store (the file was not changed)`;
  if (deprecated) log().warn({ event: 'legacy_approval_db_imported', path: file, ...added }, `${DEPRECATION}; ${what}`);
  else log().warn({ event: 'legacy_approval_db_imported', path: file, ...added }, `the approval queue, jobs and allowlist moved from the SQLite file ${setting} into PostgreSQL: ${what}`);
}

type Row = Record<string, any>;

/** Every row of the old file's tables (small: a queue, a month of events, a few jobs). */
function readLegacyFile(file: string): ToolStateBatch {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { readOnly: true });
  } catch (error) {
    throw new LaresError('STORE_ERROR', `cannot read LARES_APPROVAL_DB=${file}: ${errorMessage(error)}; fix the path or remove the variable`, { cause: error });
  }
  try {
    const has = (table: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    const all = (table: string, order: string): Row[] => (has(table) ? db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all() as Row[] : []);
    // the same tables and columns as the store's (tool-state-rows.ts reads both)
    return {
      approvals: all('approval_requests', 'created_at, id').map(toApproval),
      events: all('mcp_events', 'id').map(toEvent),
      jobs: all('mcp_jobs', 'created_at, id').map(toJob),
      allowlist: all('mcp_shell_allowlist', 'created_at').map(toAllowedCommand),
    };
  } finally {
    db.close();
  }
}
