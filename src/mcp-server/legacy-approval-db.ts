// LARES_APPROVAL_DB (deprecated): earlier versions could keep the approval queue, events, jobs
// and shell allowlist in a SQLite file of their own. That state now lives in the memory store;
// on the first start with the variable set, the file's rows are copied in once (read-only: the
// old file is never written) and a note says to remove the variable. A file that is the store
// itself needs nothing: the store's migration adopted its tables in place.
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { LaresError, errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import type { MemoryStore } from '../memory/store.ts';
import type { ApprovalRecord, Job, LaresEvent, ToolStateBatch } from '../memory/tool-state.ts';

const DEPRECATION = 'LARES_APPROVAL_DB is deprecated: the approval queue, jobs and allowlist now live in the memory store (SQLITE_DB_PATH or DATABASE_URL); remove the variable';

export async function importLegacyApprovalDb(path: string, store: MemoryStore): Promise<void> {
  const file = resolve(path);
  if (store.kind === 'sqlite' && 'path' in store && existsSync(file) && realpathSync(file) === realpathSync(resolve(String(store.path)))) {
    log().warn({ event: 'deprecated_setting', setting: 'LARES_APPROVAL_DB' }, DEPRECATION);
    return;
  }
  if (!existsSync(file)) {
    log().warn({ event: 'deprecated_setting', setting: 'LARES_APPROVAL_DB', path: file }, `${DEPRECATION} (the file ${file} does not exist; nothing to copy)`);
    return;
  }
  const marker = `tool_state.imported_from:${file}`;
  if (await store.getMeta(marker) !== undefined) {
    log().warn({ event: 'deprecated_setting', setting: 'LARES_APPROVAL_DB', path: file }, `${DEPRECATION} (its rows were copied into the store on ${await store.getMeta(marker)})`);
    return;
  }
  const batch = readLegacyFile(file);
  const added = await store.toolState.importToolState(batch);
  if (!await store.claimMeta(marker, new Date().toISOString())) return; // another worker did it at the same moment: the import is idempotent
  log().warn({ event: 'legacy_approval_db_imported', path: file, ...added }, `${DEPRECATION}; copied ${added.approvals} approvals, ${added.events} events, ${added.jobs} jobs and ${added.allowlist} allowlist entries from ${file} into the store (the file was not changed)`);
}

type Row = Record<string, any>;

/** Every row of the old file's tables (small: a queue, a month of events, a few jobs). */
export function readLegacyFile(file: string): ToolStateBatch {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { readOnly: true });
  } catch (error) {
    throw new LaresError('STORE_ERROR', `cannot read LARES_APPROVAL_DB=${file}: ${errorMessage(error)}; fix the path or remove the variable`, { cause: error });
  }
  try {
    const has = (table: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    const all = (table: string, order: string): Row[] => (has(table) ? db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all() as Row[] : []);
    return {
      approvals: all('approval_requests', 'created_at, id').map((r): ApprovalRecord => ({
        id: r.id, tool: r.tool, args: JSON.parse(r.args_json), reason: r.reason, status: r.status, createdAt: r.created_at, expiresAt: r.expires_at,
        decidedAt: r.decided_at, finishedAt: r.finished_at, result: r.result_json ? JSON.parse(r.result_json) : null, error: r.error,
        denyReason: r.deny_reason, alwaysAllowed: r.always_allowed === 1,
      })),
      events: all('mcp_events', 'id').map((r): LaresEvent => ({ id: Number(r.id), type: r.type, data: JSON.parse(r.data_json), createdAt: r.created_at })),
      jobs: all('mcp_jobs', 'created_at, id').map((r): Job => ({
        id: r.id, kind: r.kind, spec: r.spec, message: r.message, nextRunAt: r.next_run_at, lastRunAt: r.last_run_at, active: r.active === 1,
        createdAt: r.created_at, paused: r.active !== 1 && r.next_run_at !== null,
      })),
      allowlist: all('mcp_shell_allowlist', 'created_at').map((r) => ({ argv: JSON.parse(r.argv_json) as string[], approvalId: r.approval_id, createdAt: r.created_at })),
    };
  } finally {
    db.close();
  }
}
