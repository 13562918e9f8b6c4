// The tools' and channels' state in the SQLite file (tables of migration 5). One file is written
// by one process at a time (SQLite's write lock), so event ids (AUTOINCREMENT) increase in commit
// order by themselves. A lease is a row its holder renews; it is free once left unrenewed for its TTL.
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { processGone } from '../../process-alive.ts';
import { LeaseBase } from '../lease-base.ts';
import { nowIso } from '../../time.ts';
import {
  APPROVAL_COLUMNS, JOB_COLUMNS, JOBS_ORDER, RECENT_APPROVALS_ORDER,
  approvalChangeColumns, approvalValues, jobValues, toAllowedCommand, toApproval, toEvent, toJob, toLease, toWorker,
} from '../tool-state-rows.ts';
import type {
  AllowedCommand, ApprovalChange, ApprovalExpectation, ApprovalRecord, ApprovalStatus, Job, LaresEvent, LaresEventType, Lease, LeaseInfo,
  ToolStateBatch, ToolStateImportResult, ToolStateStore, WorkerInfo,
} from '../tool-state.ts';

type Row = Record<string, any>;

const DEFAULT_LEASE_TTL_MS = 15_000;

/** SQLite has no booleans: 0/1. */
const sqliteValue = (value: string | number | boolean | null): SQLInputValue => (typeof value === 'boolean' ? (value ? 1 : 0) : value);

export class SqliteToolState implements ToolStateStore {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #leases = new Set<SqliteLease>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #sql(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  #transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  // ---- approval queue

  async insertApproval(record: ApprovalRecord): Promise<boolean> {
    return this.#insertApproval(record);
  }

  #insertApproval(record: ApprovalRecord): boolean {
    const result = this.#sql(`INSERT INTO approval_requests (${APPROVAL_COLUMNS.join(', ')}) VALUES (${APPROVAL_COLUMNS.map(() => '?').join(', ')})
      ON CONFLICT (id) DO NOTHING`).run(...approvalValues(record).map(sqliteValue));
    return Number(result.changes) === 1;
  }

  async getApproval(id: string): Promise<ApprovalRecord | undefined> {
    const row = this.#sql('SELECT * FROM approval_requests WHERE id = ?').get(id) as Row | undefined;
    return row ? toApproval(row) : undefined;
  }

  async approvalsWithStatus(status: ApprovalStatus, filter: { expiresAtOrBefore?: string; decidedBefore?: string } = {}): Promise<ApprovalRecord[]> {
    const rows = this.#sql(`SELECT * FROM approval_requests WHERE status = ?
      AND (? IS NULL OR expires_at <= ?) AND (? IS NULL OR decided_at < ?) ORDER BY created_at, id`)
      .all(status, filter.expiresAtOrBefore ?? null, filter.expiresAtOrBefore ?? null, filter.decidedBefore ?? null, filter.decidedBefore ?? null);
    return (rows as Row[]).map(toApproval);
  }

  async recentApprovals(limit: number): Promise<ApprovalRecord[]> {
    return (this.#sql(`SELECT * FROM approval_requests WHERE status != 'pending' ORDER BY ${RECENT_APPROVALS_ORDER} LIMIT ?`).all(limit) as Row[]).map(toApproval);
  }

  async countApprovals(status: ApprovalStatus): Promise<number> {
    return Number((this.#sql('SELECT COUNT(*) AS n FROM approval_requests WHERE status = ?').get(status) as Row).n);
  }

  async updateApproval(id: string, change: ApprovalChange, expect: ApprovalExpectation): Promise<boolean> {
    const columns = approvalChangeColumns(change);
    // nothing to set still answers whether the request matches
    const set = columns.length > 0 ? columns.map(([column]) => `${column} = ?`).join(', ') : 'status = status';
    const result = this.#sql(`UPDATE approval_requests SET ${set} WHERE id = ? AND status = ?
      AND (? IS NULL OR expires_at > ?) AND (? IS NULL OR decided_at < ?)`).run(
      ...columns.map(([, value]) => sqliteValue(value)), id, expect.status,
      expect.expiresAfter ?? null, expect.expiresAfter ?? null, expect.decidedBefore ?? null, expect.decidedBefore ?? null,
    );
    return Number(result.changes) === 1;
  }

  async approvalsPage(afterId: string | undefined, limit: number): Promise<ApprovalRecord[]> {
    const rows = afterId === undefined
      ? this.#sql('SELECT * FROM approval_requests ORDER BY created_at, id LIMIT ?').all(limit)
      : this.#sql(`SELECT * FROM approval_requests WHERE (created_at, id) > (SELECT created_at, id FROM approval_requests WHERE id = ?)
          ORDER BY created_at, id LIMIT ?`).all(afterId, limit);
    return (rows as Row[]).map(toApproval);
  }

  // ---- events

  async appendEvent(type: LaresEventType, data: Record<string, unknown>): Promise<LaresEvent> {
    return this.#appendEvent(type, data);
  }

  #appendEvent(type: LaresEventType, data: Record<string, unknown>): LaresEvent {
    const createdAt = nowIso();
    const result = this.#sql('INSERT INTO mcp_events (type, data_json, created_at) VALUES (?, ?, ?)').run(type, JSON.stringify(data), createdAt);
    return { id: Number(result.lastInsertRowid), type, data, createdAt };
  }

  async eventsSince(afterId: number, limit = 1000): Promise<LaresEvent[]> {
    return (this.#sql('SELECT * FROM mcp_events WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit) as Row[]).map(toEvent);
  }

  async lastEventId(): Promise<number> {
    return Number((this.#sql('SELECT COALESCE(MAX(id), 0) AS id FROM mcp_events').get() as Row).id);
  }

  async ensureEventIdsAbove(id: number): Promise<void> {
    // AUTOINCREMENT takes the next id from sqlite_sequence (made with the table's first AUTOINCREMENT)
    this.#sql(`INSERT INTO sqlite_sequence (name, seq) SELECT 'mcp_events', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'mcp_events')`).run();
    this.#sql(`UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'mcp_events'`).run(id);
  }

  async pruneEvents(before: string): Promise<number> {
    return Number(this.#sql('DELETE FROM mcp_events WHERE created_at < ?').run(before).changes);
  }

  // ---- scheduled jobs

  async insertJob(job: Job): Promise<void> {
    this.#insertJob(job, false);
  }

  #insertJob(job: Job, skipExisting: boolean): boolean {
    const result = this.#sql(`INSERT INTO mcp_jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})
      ${skipExisting ? 'ON CONFLICT (id) DO NOTHING' : ''}`).run(...jobValues(job).map(sqliteValue));
    return Number(result.changes) === 1;
  }

  async getJob(id: string): Promise<Job | undefined> {
    const row = this.#sql('SELECT * FROM mcp_jobs WHERE id = ?').get(id) as Row | undefined;
    return row ? toJob(row) : undefined;
  }

  async listJobs(includeInactive = false): Promise<Job[]> {
    return (this.#sql(`SELECT * FROM mcp_jobs ${includeInactive ? '' : 'WHERE active = 1'} ORDER BY ${JOBS_ORDER}`).all() as Row[]).map(toJob);
  }

  async deleteJob(id: string): Promise<boolean> {
    return Number(this.#sql('DELETE FROM mcp_jobs WHERE id = ?').run(id).changes) > 0;
  }

  async setJobSchedule(id: string, active: boolean, nextRunAt: string | null, expected: { active: boolean; nextRunAt: string | null }): Promise<boolean> {
    return Number(this.#sql('UPDATE mcp_jobs SET active = ?, next_run_at = ? WHERE id = ? AND active = ? AND next_run_at IS ?')
      .run(active ? 1 : 0, nextRunAt, id, expected.active ? 1 : 0, expected.nextRunAt).changes) === 1;
  }

  async dueJobs(at: string): Promise<Job[]> {
    return (this.#sql('SELECT * FROM mcp_jobs WHERE active = 1 AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at, id').all(at) as Row[]).map(toJob);
  }

  async nextJobRunAt(): Promise<string | undefined> {
    const row = this.#sql('SELECT MIN(next_run_at) AS next FROM mcp_jobs WHERE active = 1 AND next_run_at IS NOT NULL').get() as Row;
    return row.next ?? undefined;
  }

  async claimJobRun(id: string, expectedNextRunAt: string, next: { nextRunAt: string | null; lastRunAt: string; active: boolean }, data: Record<string, unknown>): Promise<LaresEvent | undefined> {
    return this.#transaction(() => {
      const result = this.#sql('UPDATE mcp_jobs SET next_run_at = ?, last_run_at = ?, active = ? WHERE id = ? AND next_run_at = ? AND active = 1')
        .run(next.nextRunAt, next.lastRunAt, next.active ? 1 : 0, id, expectedNextRunAt);
      return Number(result.changes) === 1 ? this.#appendEvent('job_due', data) : undefined;
    });
  }

  // ---- shell allowlist

  async addAllowedCommand(command: AllowedCommand): Promise<void> {
    this.#addAllowedCommand(command);
  }

  #addAllowedCommand(command: AllowedCommand): boolean {
    const result = this.#sql('INSERT INTO mcp_shell_allowlist (argv_json, approval_id, created_at) VALUES (?, ?, ?) ON CONFLICT (argv_json) DO NOTHING')
      .run(JSON.stringify(command.argv), command.approvalId, command.createdAt);
    return Number(result.changes) === 1;
  }

  async allowedCommands(): Promise<AllowedCommand[]> {
    return (this.#sql('SELECT * FROM mcp_shell_allowlist ORDER BY created_at, argv_json').all() as Row[]).map(toAllowedCommand);
  }

  // ---- workers and leases

  async heartbeat(worker: WorkerInfo): Promise<void> {
    this.#sql(`INSERT INTO lares_workers (id, host, pid, role, started_at, seen_at, identity) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, role = excluded.role, started_at = excluded.started_at, seen_at = excluded.seen_at, identity = excluded.identity`)
      .run(worker.id, worker.host, worker.pid, worker.role, worker.startedAt, worker.seenAt, worker.identity ?? null);
  }

  async removeWorker(id: string): Promise<void> {
    this.#sql('DELETE FROM lares_workers WHERE id = ?').run(id);
  }

  async pruneWorkers(before: string): Promise<number> {
    return Number(this.#sql('DELETE FROM lares_workers WHERE seen_at < ?').run(before).changes);
  }

  async listWorkers(seenSince?: string): Promise<WorkerInfo[]> {
    return (this.#sql('SELECT * FROM lares_workers WHERE ? IS NULL OR seen_at >= ? ORDER BY started_at, id').all(seenSince ?? null, seenSince ?? null) as Row[]).map(toWorker);
  }

  async tryLease(name: string, workerId: string, options: { ttlMs?: number } = {}): Promise<Lease | undefined> {
    const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    const now = new Date();
    this.#freeIfHolderDied(name, workerId);
    // taken when free, expired, or already this worker's (then its `since` is kept)
    const result = this.#sql(`INSERT INTO lares_leases (name, worker_id, since, expires_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET
        since = CASE WHEN lares_leases.worker_id = excluded.worker_id THEN lares_leases.since ELSE excluded.since END,
        worker_id = excluded.worker_id, expires_at = excluded.expires_at
      WHERE lares_leases.expires_at IS NULL OR lares_leases.expires_at < ? OR lares_leases.worker_id = excluded.worker_id`)
      .run(name, workerId, now.toISOString(), new Date(now.getTime() + ttlMs).toISOString(), now.toISOString());
    if (Number(result.changes) !== 1) return undefined;
    const lease = new SqliteLease(name, ttlMs, {
      renew: () => Number(this.#sql('UPDATE lares_leases SET expires_at = ? WHERE name = ? AND worker_id = ?')
        .run(new Date(Date.now() + ttlMs).toISOString(), name, workerId).changes) === 1,
      release: () => { this.#sql('DELETE FROM lares_leases WHERE name = ? AND worker_id = ?').run(name, workerId); },
      forget: () => this.#leases.delete(lease),
    });
    this.#leases.add(lease);
    return lease;
  }

  /**
   * A SQLite file is shared by processes of one machine: a holder on this host whose process is
   * gone (killed, crashed) frees its lease at once, without waiting for its time to run out.
   */
  #freeIfHolderDied(name: string, workerId: string): void {
    const holder = this.#sql(`SELECT l.worker_id, w.identity FROM lares_leases l JOIN lares_workers w ON w.id = l.worker_id
      WHERE l.name = ? AND l.worker_id != ?`).get(name, workerId) as Row | undefined;
    if (!holder || !processGone(holder.identity)) return;
    this.#sql('DELETE FROM lares_leases WHERE name = ? AND worker_id = ?').run(name, holder.worker_id);
  }

  async listLeases(): Promise<LeaseInfo[]> {
    return (this.#sql('SELECT * FROM lares_leases WHERE expires_at >= ? ORDER BY name').all(nowIso()) as Row[]).map(toLease);
  }

  // ---- portability

  async importToolState(batch: ToolStateBatch): Promise<ToolStateImportResult> {
    return this.#transaction(() => {
      const added: ToolStateImportResult = { approvals: 0, events: 0, jobs: 0, allowlist: 0 };
      for (const approval of batch.approvals ?? []) if (this.#insertApproval(approval)) added.approvals++;
      // explicit ids: channel cursors in meta refer to them (AUTOINCREMENT moves past them by itself)
      const insertEvent = this.#sql('INSERT INTO mcp_events (id, type, data_json, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING');
      for (const event of batch.events ?? []) {
        if (Number(insertEvent.run(event.id, event.type, JSON.stringify(event.data), event.createdAt).changes) === 1) added.events++;
      }
      for (const job of batch.jobs ?? []) if (this.#insertJob(job, true)) added.jobs++;
      for (const command of batch.allowlist ?? []) if (this.#addAllowedCommand(command)) added.allowlist++;
      return added;
    });
  }

  /** Stops renewing this process's leases (the store is closing); their rows expire after their TTL. */
  close(): void {
    for (const lease of this.#leases) lease.abandon();
    this.#leases.clear();
  }
}

interface LeaseRow {
  /** true while the row is still this worker's */
  renew(): boolean;
  release(): void;
  forget(): void;
}

class SqliteLease extends LeaseBase {
  readonly #row: LeaseRow;
  readonly #timer: NodeJS.Timeout;
  readonly #ttlMs: number;
  #renewedAt = Date.now();

  constructor(name: string, ttlMs: number, row: LeaseRow) {
    super(name);
    this.#row = row;
    this.#ttlMs = ttlMs;
    this.#timer = setInterval(() => this.#renew(), Math.max(1, Math.floor(ttlMs / 3)));
    this.#timer.unref();
  }

  async release(): Promise<void> {
    if (this.#stop()) this.#row.release();
  }

  /** Ends the lease without deleting its row or telling anyone (the store is closing). */
  abandon(): void {
    this.#stop();
  }

  #renew(): void {
    let stillOurs: boolean;
    try {
      stillOurs = this.#row.renew();
      this.#renewedAt = Date.now();
    } catch {
      // a busy database is not a lost lease: nobody can take it before its time runs out
      if (Date.now() - this.#renewedAt < this.#ttlMs) return;
      stillOurs = false;
    }
    if (!stillOurs && this.#stop()) this.notifyLost();
  }

  #stop(): boolean {
    if (!this.end()) return false;
    clearInterval(this.#timer);
    this.#row.forget();
    return true;
  }
}
