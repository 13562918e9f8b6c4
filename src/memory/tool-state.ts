// The tools' and channels' state, kept by the memory store beside memory (MemoryStore.toolState):
// the approval queue, its event log, scheduled jobs, the shell allowlist, and the workers with the
// leases they hold. SQLite by default, PostgreSQL with MEMORY_PROVIDER=postgres: several
// `lares run` workers on one database share one queue, one event log and one set of jobs.
//
// Every state change that must happen once (an approval claimed, a job slot fired) is one
// conditional write that reports whether it happened: whichever worker wins does the work.

export type ApprovalStatus = 'pending' | 'approved' | 'executed' | 'failed' | 'denied' | 'expired';

export interface ToolRunResult { text: string; isError: boolean }

export interface ApprovalRecord {
  id: string;
  tool: string;
  args: Record<string, unknown>;
  /** why the call needs the owner */
  reason: string;
  status: ApprovalStatus;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  finishedAt: string | null;
  /** the tool's result, once executed (or failed) */
  result: ToolRunResult | null;
  error: string | null;
  denyReason: string | null;
  alwaysAllowed: boolean;
}

/** The fields a state change may set (the others keep their value). */
export type ApprovalChange = Partial<Pick<ApprovalRecord, 'status' | 'decidedAt' | 'finishedAt' | 'result' | 'error' | 'denyReason' | 'alwaysAllowed'>>;

/** The condition a change needs: the request still has `status`, and (when given) expires after `expiresAfter` / was decided before `decidedBefore`. */
export interface ApprovalExpectation { status: ApprovalStatus; expiresAfter?: string; decidedBefore?: string }

export type LaresEventType = 'approval_needed' | 'approval_result' | 'job_due';

export interface LaresEvent {
  /** increasing in the order events were committed; the SSE `id:` */
  id: number;
  type: LaresEventType;
  data: Record<string, unknown>;
  createdAt: string;
}

export type JobKind = 'once' | 'interval' | 'cron';

export interface Job {
  id: string; kind: JobKind; spec: string; message: string; nextRunAt: string | null; lastRunAt: string | null; active: boolean; createdAt: string;
  /** paused by the owner (inactive with a next run kept); a finished one-off job is inactive with none */
  paused: boolean;
}

/** A command the owner chose to "always allow" (its exact argv). */
export interface AllowedCommand { argv: string[]; approvalId: string | null; createdAt: string }

/** A running Lares process, as it last reported itself. */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  /** what it runs: 'run', 'mcp', 'chat', 'web' */
  role: string;
  startedAt: string;
  /** its last heartbeat */
  seenAt: string;
  /** host|boot|pid namespace|pid (src/process-alive.ts), to tell on its machine that it is gone */
  identity?: string | null;
}

/** Who holds a lease (a channel connection, ...) and since when. */
export interface LeaseInfo { name: string; workerId: string; since: string }

/** A lease this process holds until it releases it, or loses it (its database connection dropped, its time ran out). */
export interface Lease {
  readonly name: string;
  /** false once lost or released */
  readonly held: boolean;
  /** called once when the lease is lost without being released (closing the store ends its leases without calling it) */
  onLost(listener: () => void): void;
  release(): Promise<void>;
}

/** Rows for export / import / `lares db copy` (ids kept: channel cursors in meta refer to event ids). */
export interface ToolStateBatch {
  approvals?: ApprovalRecord[];
  events?: LaresEvent[];
  jobs?: Job[];
  allowlist?: AllowedCommand[];
}

export interface ToolStateImportResult { approvals: number; events: number; jobs: number; allowlist: number }

export interface ToolStateStore {
  // ---- approval queue
  /** Adds a pending request; false when the id exists already (the caller picks another). */
  insertApproval(record: ApprovalRecord): Promise<boolean>;
  getApproval(id: string): Promise<ApprovalRecord | undefined>;
  /** Requests with this status, oldest first; for 'pending' only those expiring at or before `expiresAtOrBefore` when given, for 'approved' only those decided before `decidedBefore`. */
  approvalsWithStatus(status: ApprovalStatus, filter?: { expiresAtOrBefore?: string; decidedBefore?: string }): Promise<ApprovalRecord[]>;
  /** The latest decided requests, newest first (by finished, decided or expiry time). */
  recentApprovals(limit: number): Promise<ApprovalRecord[]>;
  countApprovals(status: ApprovalStatus): Promise<number>;
  /** One conditional write: applies `change` only if the request matches `expect`; true when it did. */
  updateApproval(id: string, change: ApprovalChange, expect: ApprovalExpectation): Promise<boolean>;
  /** Every request, by creation time then id, a page at a time (export). */
  approvalsPage(afterId: string | undefined, limit: number): Promise<ApprovalRecord[]>;

  // ---- events (approval_needed, approval_result, job_due)
  /** Appends an event; ids increase in commit order, so a reader that saw id N never later finds a smaller new one. */
  appendEvent(type: LaresEventType, data: Record<string, unknown>): Promise<LaresEvent>;
  /** Events after `afterId`, oldest first. */
  eventsSince(afterId: number, limit?: number): Promise<LaresEvent[]>;
  lastEventId(): Promise<number>;
  /** Makes the next event id larger than `id` (stored channel cursors point there: a new log must not hide events behind them). */
  ensureEventIdsAbove(id: number): Promise<void>;
  /** Deletes events created before `before` (replay after a reconnect needs only recent ones); returns how many. */
  pruneEvents(before: string): Promise<number>;
  /**
   * Calls `listener` soon after any process sharing the database appends an event (PostgreSQL:
   * LISTEN/NOTIFY); undefined where only polling can tell (SQLite). Also called once after the
   * listening connection came back from a drop (read what you may have missed). Returns an unsubscribe.
   */
  watchEvents?(listener: () => void): () => void;

  // ---- scheduled jobs
  insertJob(job: Job): Promise<void>;
  getJob(id: string): Promise<Job | undefined>;
  /** Active jobs (or all), by next run time. */
  listJobs(includeInactive?: boolean): Promise<Job[]>;
  deleteJob(id: string): Promise<boolean>;
  /** Sets a job's active flag and next run (pause, resume) if it still has the `expected` ones (a slot fired meanwhile: false). */
  setJobSchedule(id: string, active: boolean, nextRunAt: string | null, expected: { active: boolean; nextRunAt: string | null }): Promise<boolean>;
  /** Active jobs whose next run is at or before `at`, soonest first. */
  dueJobs(at: string): Promise<Job[]>;
  /** The soonest next run of an active job. */
  nextJobRunAt(): Promise<string | undefined>;
  /**
   * Claims one firing and records it: moves the job on from `expectedNextRunAt` to `next` only if it
   * is still active and due at that time, and appends the `job_due` event with `data` in the same
   * transaction. The event for exactly one caller per slot, whichever worker; undefined for the others.
   */
  claimJobRun(id: string, expectedNextRunAt: string, next: { nextRunAt: string | null; lastRunAt: string; active: boolean }, data: Record<string, unknown>): Promise<LaresEvent | undefined>;

  // ---- shell allowlist ("always allow" decisions)
  addAllowedCommand(command: AllowedCommand): Promise<void>;
  allowedCommands(): Promise<AllowedCommand[]>;

  // ---- workers and leases
  /** Records (or refreshes) a worker's heartbeat. */
  heartbeat(worker: WorkerInfo): Promise<void>;
  removeWorker(id: string): Promise<void>;
  /** Forgets workers not seen since `before` (a process killed never removes its own row). */
  pruneWorkers(before: string): Promise<number>;
  /** Workers seen since `seenSince`, oldest start first. */
  listWorkers(seenSince?: string): Promise<WorkerInfo[]>;
  /**
   * Takes the named lease for this worker if nobody holds it; undefined when another does.
   * PostgreSQL: an advisory lock on a connection of its own, released by the server the moment
   * the holder's connection dies (`ttlMs` unused). SQLite: a row renewed every ttlMs/3 while held, free
   * `ttlMs` (default 15 s) after the last renewal; the worker that holds it may take it again.
   */
  tryLease(name: string, workerId: string, options?: { ttlMs?: number }): Promise<Lease | undefined>;
  /** The leases held now and by whom. */
  listLeases(): Promise<LeaseInfo[]>;

  // ---- portability
  importToolState(batch: ToolStateBatch): Promise<ToolStateImportResult>;
}
