// The tools' and channels' state on PostgreSQL (tables of migration 5), shared by every worker on
// the database. Every once-only change is one conditional UPDATE; event appends are serialised by
// an advisory lock so ids increase in commit order, and announced with NOTIFY (event-watch.ts);
// leases are advisory locks on connections of their own (lease.ts).
import type { ClientConfig, Pool, PoolClient } from 'pg';
import { nowIso } from '../../time.ts';
import {
  APPROVAL_COLUMNS, JOB_COLUMNS, JOBS_ORDER, RECENT_APPROVALS_ORDER,
  approvalChangeColumns, approvalValues, jobValues, toAllowedCommand, toApproval, toEvent, toJob, toWorker,
} from '../tool-state-rows.ts';
import type {
  AllowedCommand, ApprovalChange, ApprovalExpectation, ApprovalRecord, ApprovalStatus, Job, LaresEvent, LaresEventType, Lease, LeaseInfo,
  ToolStateBatch, ToolStateImportResult, ToolStateStore, WorkerInfo,
} from '../tool-state.ts';
import { STATE_LOCK_CLASS } from './conversation-lock.ts';
import { withTransaction } from './transaction.ts';
import { EVENTS_CHANNEL, EventWatcher } from './event-watch.ts';
import { type PostgresLease, livePostgresLeases, postgresLeaseHeld, tryPostgresLease } from './lease.ts';
import { advanceIdSequenceSql } from './schema.ts';

type Queryable = Pick<PoolClient, 'query'>;

/** Taken by every event append until it commits: the next append gets its id only after this one is visible. */
const LOCK_EVENTS = `SELECT pg_advisory_xact_lock(${STATE_LOCK_CLASS | 0}, hashtext('lares.events'))`;

const placeholders = (count: number, from = 1): string => Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ');

export class PostgresToolState implements ToolStateStore {
  readonly #pool: Pool;
  #watcher: EventWatcher | undefined;
  readonly #leases = new Set<PostgresLease>();

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** Connection settings for the connections of its own a watcher or a lease needs: the pool's. */
  get #clientConfig(): ClientConfig {
    return this.#pool.options;
  }

  #transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.#pool, fn);
  }


  // ---- approval queue

  async insertApproval(record: ApprovalRecord): Promise<boolean> {
    return insertApproval(this.#pool, record);
  }

  async getApproval(id: string): Promise<ApprovalRecord | undefined> {
    const row = (await this.#pool.query('SELECT * FROM approval_requests WHERE id = $1', [id])).rows[0];
    return row ? toApproval(row) : undefined;
  }

  async approvalsWithStatus(status: ApprovalStatus, filter: { expiresAtOrBefore?: string; decidedBefore?: string } = {}): Promise<ApprovalRecord[]> {
    const result = await this.#pool.query(`SELECT * FROM approval_requests WHERE status = $1
      AND ($2::text IS NULL OR expires_at <= $2) AND ($3::text IS NULL OR decided_at < $3) ORDER BY created_at, id`,
    [status, filter.expiresAtOrBefore ?? null, filter.decidedBefore ?? null]);
    return result.rows.map(toApproval);
  }

  async recentApprovals(limit: number): Promise<ApprovalRecord[]> {
    return (await this.#pool.query(`SELECT * FROM approval_requests WHERE status != 'pending' ORDER BY ${RECENT_APPROVALS_ORDER} LIMIT $1`, [limit])).rows.map(toApproval);
  }

  async countApprovals(status: ApprovalStatus): Promise<number> {
    return Number((await this.#pool.query('SELECT COUNT(*) AS n FROM approval_requests WHERE status = $1', [status])).rows[0].n);
  }

  async updateApproval(id: string, change: ApprovalChange, expect: ApprovalExpectation): Promise<boolean> {
    const columns = approvalChangeColumns(change);
    const set = columns.length > 0 ? columns.map(([column], i) => `${column} = $${i + 1}`).join(', ') : 'status = status';
    const n = columns.length;
    const result = await this.#pool.query(`UPDATE approval_requests SET ${set} WHERE id = $${n + 1} AND status = $${n + 2}
      AND ($${n + 3}::text IS NULL OR expires_at > $${n + 3}) AND ($${n + 4}::text IS NULL OR decided_at < $${n + 4})`,
    [...columns.map(([, value]) => value), id, expect.status, expect.expiresAfter ?? null, expect.decidedBefore ?? null]);
    return result.rowCount === 1;
  }

  async approvalsPage(afterId: string | undefined, limit: number): Promise<ApprovalRecord[]> {
    const result = afterId === undefined
      ? await this.#pool.query('SELECT * FROM approval_requests ORDER BY created_at, id LIMIT $1', [limit])
      : await this.#pool.query(`SELECT * FROM approval_requests WHERE (created_at, id) > (SELECT created_at, id FROM approval_requests WHERE id = $1)
          ORDER BY created_at, id LIMIT $2`, [afterId, limit]);
    return result.rows.map(toApproval);
  }

  // ---- events

  async appendEvent(type: LaresEventType, data: Record<string, unknown>): Promise<LaresEvent> {
    return this.#transaction((client) => appendEventIn(client, type, data));
  }

  async eventsSince(afterId: number, limit = 1000): Promise<LaresEvent[]> {
    return (await this.#pool.query('SELECT * FROM mcp_events WHERE id > $1 ORDER BY id LIMIT $2', [afterId, limit])).rows.map(toEvent);
  }

  async lastEventId(): Promise<number> {
    return Number((await this.#pool.query('SELECT COALESCE(MAX(id), 0) AS id FROM mcp_events')).rows[0].id);
  }

  async ensureEventIdsAbove(id: number): Promise<void> {
    // the next id the sequence hands out, read from the sequence itself (pg_sequence_last_value is
    // null right after a setval(…, false)); moved only forward
    const sequence = (await this.#pool.query(`SELECT pg_get_serial_sequence('mcp_events', 'id') AS name`)).rows[0].name as string;
    const state = (await this.#pool.query(`SELECT last_value, is_called FROM ${sequence}`)).rows[0] as { last_value: string; is_called: boolean };
    const next = Number(state.last_value) + (state.is_called ? 1 : 0);
    if (next <= id) await this.#pool.query('SELECT setval($1::regclass, $2, false)', [sequence, id + 1]);
  }

  async pruneEvents(before: string): Promise<number> {
    return (await this.#pool.query('DELETE FROM mcp_events WHERE created_at < $1', [before])).rowCount ?? 0;
  }

  watchEvents(listener: () => void): () => void {
    this.#watcher ??= new EventWatcher(this.#clientConfig);
    return this.#watcher.watch(listener);
  }

  // ---- scheduled jobs

  async insertJob(job: Job): Promise<void> {
    await insertJob(this.#pool, job, false);
  }

  async getJob(id: string): Promise<Job | undefined> {
    const row = (await this.#pool.query('SELECT * FROM mcp_jobs WHERE id = $1', [id])).rows[0];
    return row ? toJob(row) : undefined;
  }

  async listJobs(includeInactive = false): Promise<Job[]> {
    return (await this.#pool.query(`SELECT * FROM mcp_jobs ${includeInactive ? '' : 'WHERE active'} ORDER BY ${JOBS_ORDER}`)).rows.map(toJob);
  }

  async deleteJob(id: string): Promise<boolean> {
    return ((await this.#pool.query('DELETE FROM mcp_jobs WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async setJobSchedule(id: string, active: boolean, nextRunAt: string | null, expected: { active: boolean; nextRunAt: string | null }): Promise<boolean> {
    const result = await this.#pool.query('UPDATE mcp_jobs SET active = $1, next_run_at = $2 WHERE id = $3 AND active = $4 AND next_run_at IS NOT DISTINCT FROM $5',
      [active, nextRunAt, id, expected.active, expected.nextRunAt]);
    return result.rowCount === 1;
  }

  async dueJobs(at: string): Promise<Job[]> {
    return (await this.#pool.query('SELECT * FROM mcp_jobs WHERE active AND next_run_at IS NOT NULL AND next_run_at <= $1 ORDER BY next_run_at, id', [at])).rows.map(toJob);
  }

  async nextJobRunAt(): Promise<string | undefined> {
    return (await this.#pool.query('SELECT MIN(next_run_at) AS next FROM mcp_jobs WHERE active AND next_run_at IS NOT NULL')).rows[0].next ?? undefined;
  }

  async claimJobRun(id: string, expectedNextRunAt: string, next: { nextRunAt: string | null; lastRunAt: string; active: boolean }, data: Record<string, unknown>): Promise<LaresEvent | undefined> {
    return this.#transaction(async (client) => {
      const result = await client.query('UPDATE mcp_jobs SET next_run_at = $1, last_run_at = $2, active = $3 WHERE id = $4 AND next_run_at = $5 AND active',
        [next.nextRunAt, next.lastRunAt, next.active, id, expectedNextRunAt]);
      return result.rowCount === 1 ? appendEventIn(client, 'job_due', data) : undefined;
    });
  }

  // ---- shell allowlist

  async addAllowedCommand(command: AllowedCommand): Promise<void> {
    await addAllowedCommand(this.#pool, command);
  }

  async allowedCommands(): Promise<AllowedCommand[]> {
    return (await this.#pool.query('SELECT * FROM mcp_shell_allowlist ORDER BY created_at, argv_json')).rows.map(toAllowedCommand);
  }

  // ---- workers and leases

  async heartbeat(worker: WorkerInfo): Promise<void> {
    await this.#pool.query(`INSERT INTO lares_workers (id, host, pid, role, started_at, seen_at, identity) VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, role = excluded.role, started_at = excluded.started_at, seen_at = excluded.seen_at, identity = excluded.identity`,
    [worker.id, worker.host, worker.pid, worker.role, worker.startedAt, worker.seenAt, worker.identity ?? null]);
  }

  async removeWorker(id: string): Promise<void> {
    await this.#pool.query('DELETE FROM lares_workers WHERE id = $1', [id]);
  }

  async pruneWorkers(before: string): Promise<number> {
    return (await this.#pool.query('DELETE FROM lares_workers WHERE seen_at < $1', [before])).rowCount ?? 0;
  }

  async listWorkers(seenSince?: string): Promise<WorkerInfo[]> {
    return (await this.#pool.query('SELECT * FROM lares_workers WHERE $1::text IS NULL OR seen_at >= $1 ORDER BY started_at, id', [seenSince ?? null])).rows.map(toWorker);
  }

  /** ttlMs does not apply: the lease lasts as long as its connection. */
  async tryLease(name: string, workerId: string): Promise<Lease | undefined> {
    // a standby worker asks every few seconds: while the lock is held, answer from the pool
    // rather than opening a connection of its own each time
    if (await postgresLeaseHeld(this.#pool, name)) return undefined;
    const lease = await tryPostgresLease(this.#clientConfig, name, workerId, nowIso(), (gone) => this.#leases.delete(gone));
    if (lease) this.#leases.add(lease);
    return lease;
  }

  listLeases(): Promise<LeaseInfo[]> {
    return livePostgresLeases(this.#pool);
  }

  // ---- portability

  async importToolState(batch: ToolStateBatch): Promise<ToolStateImportResult> {
    return this.#transaction(async (client) => {
      const added: ToolStateImportResult = { approvals: 0, events: 0, jobs: 0, allowlist: 0 };
      for (const approval of batch.approvals ?? []) if (await insertApproval(client, approval)) added.approvals++;
      if ((batch.events ?? []).length > 0) {
        // no append may take an id while explicit ones go in
        await client.query(LOCK_EVENTS);
        for (const event of batch.events!) {
          const result = await client.query('INSERT INTO mcp_events (id, type, data_json, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING',
            [event.id, event.type, JSON.stringify(event.data), event.createdAt]);
          if (result.rowCount === 1) added.events++;
        }
        await client.query(advanceIdSequenceSql('mcp_events'));
      }
      for (const job of batch.jobs ?? []) if (await insertJob(client, job, true)) added.jobs++;
      for (const command of batch.allowlist ?? []) if (await addAllowedCommand(client, command)) added.allowlist++;
      return added;
    });
  }

  /** Stops listening and gives up this process's leases (their connections close, freeing the locks). */
  async close(): Promise<void> {
    this.#watcher?.close();
    this.#watcher = undefined;
    await Promise.all([...this.#leases].map((lease) => lease.abandon()));
    this.#leases.clear();
  }
}

async function insertApproval(db: Queryable, record: ApprovalRecord): Promise<boolean> {
  const result = await db.query(`INSERT INTO approval_requests (${APPROVAL_COLUMNS.join(', ')}) VALUES (${placeholders(APPROVAL_COLUMNS.length)})
    ON CONFLICT (id) DO NOTHING`, approvalValues(record));
  return result.rowCount === 1;
}

async function insertJob(db: Queryable, job: Job, skipExisting: boolean): Promise<boolean> {
  const result = await db.query(`INSERT INTO mcp_jobs (${JOB_COLUMNS.join(', ')}) VALUES (${placeholders(JOB_COLUMNS.length)})
    ${skipExisting ? 'ON CONFLICT (id) DO NOTHING' : ''}`, jobValues(job));
  return result.rowCount === 1;
}

async function addAllowedCommand(db: Queryable, command: AllowedCommand): Promise<boolean> {
  const result = await db.query('INSERT INTO mcp_shell_allowlist (argv_json, approval_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (argv_json) DO NOTHING',
    [JSON.stringify(command.argv), command.approvalId, command.createdAt]);
  return result.rowCount === 1;
}

/** Appends an event inside the caller's transaction: appends are serialised so ids commit in order; the NOTIFY is delivered at commit. */
async function appendEventIn(client: PoolClient, type: LaresEventType, data: Record<string, unknown>): Promise<LaresEvent> {
  await client.query(LOCK_EVENTS);
  const createdAt = nowIso();
  const id = Number((await client.query('INSERT INTO mcp_events (type, data_json, created_at) VALUES ($1, $2, $3) RETURNING id', [type, JSON.stringify(data), createdAt])).rows[0].id);
  await client.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, String(id)]);
  return { id, type, data, createdAt };
}
