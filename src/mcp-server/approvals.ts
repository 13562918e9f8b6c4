// The approval queue: calls that need the owner wait here, persisted in SQLite.
// pending → approved → executed | failed, or pending → denied | expired.
// Every state change is a single conditional UPDATE, so a request runs at most
// once even if two processes (or two clicks) approve it at the same moment.
import { randomBytes } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { LaresError, errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import { nowIso } from '../time.ts';
import type { EventLog } from './events.ts';

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

/** A request that cannot be served: 404 unknown id, 409 not pending, 400 bad request. */
export class ApprovalError extends LaresError {
  readonly httpStatus: 400 | 404 | 409;
  constructor(httpStatus: 400 | 404 | 409, message: string) {
    super('APPROVAL_ERROR', message);
    this.httpStatus = httpStatus;
  }
}

export interface ApprovalQueueOptions {
  ttlMs: number;
  /** runs an approved call with exactly its stored arguments */
  execute(tool: string, args: Record<string, unknown>): Promise<ToolRunResult>;
  /**
   * Prepares "always allow this exact call": throws ApprovalError(400) when the call
   * cannot be allowlisted, else returns the commit step, run once the approval is claimed.
   */
  allowAlways?(record: ApprovalRecord): () => void;
}

interface Row {
  id: string; tool: string; args_json: string; reason: string; status: ApprovalStatus; created_at: string; expires_at: string;
  decided_at: string | null; finished_at: string | null; result_json: string | null; error: string | null; deny_reason: string | null; always_allowed: number;
}

export class ApprovalQueue {
  readonly #db: DatabaseSync;
  readonly #events: EventLog;
  readonly #options: ApprovalQueueOptions;

  constructor(db: DatabaseSync, events: EventLog, options: ApprovalQueueOptions) {
    this.#db = db;
    this.#events = events;
    this.#options = options;
  }

  enqueue(tool: string, args: Record<string, unknown>, reason: string): ApprovalRecord {
    const created = new Date();
    const expiresAt = new Date(created.getTime() + this.#options.ttlMs).toISOString();
    for (let attempt = 0; ; attempt++) {
      const id = randomBytes(4).toString('hex');
      try {
        this.#db.prepare(`INSERT INTO approval_requests (id, tool, args_json, reason, status, created_at, expires_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)`)
          .run(id, tool, JSON.stringify(args), reason, created.toISOString(), expiresAt);
      } catch (error) {
        if (attempt < 5 && /UNIQUE/.test(errorMessage(error))) continue;
        throw error;
      }
      const record = this.#find(id)!;
      this.#events.append('approval_needed', { id, tool, args, reason, expiresAt, summary: describeCall(tool, args) });
      log().info({ event: 'approval_needed', approvalId: id, tool }, 'tool call queued for approval');
      return record;
    }
  }

  get(id: string): ApprovalRecord {
    this.expireDue();
    const record = this.#find(id);
    if (!record) throw new ApprovalError(404, `no approval request with id ${id}; list them with GET /approvals/pending or \`lares approvals list\``);
    return record;
  }

  listPending(): ApprovalRecord[] {
    this.expireDue();
    const rows = this.#db.prepare(`SELECT * FROM approval_requests WHERE status = 'pending' ORDER BY created_at`).all() as unknown as Row[];
    return rows.map(toRecord);
  }

  /** The latest decided requests (approved, executed, failed, denied, expired), newest first. */
  listRecent(limit = 20): ApprovalRecord[] {
    const rows = this.#db.prepare(`SELECT * FROM approval_requests WHERE status != 'pending' ORDER BY COALESCE(finished_at, decided_at, expires_at) DESC LIMIT ?`).all(limit) as unknown as Row[];
    return rows.map(toRecord);
  }

  countPending(): number {
    this.expireDue();
    return Number((this.#db.prepare(`SELECT COUNT(*) AS n FROM approval_requests WHERE status = 'pending'`).get() as { n: number }).n);
  }

  /** Approves and runs the stored call, exactly once. 409 unless the request is still pending. */
  async approve(id: string, options: { always?: boolean } = {}): Promise<ApprovalRecord> {
    const current = this.get(id);
    if (current.status !== 'pending') throw this.#notPending(current);
    let commitAlways: (() => void) | undefined;
    if (options.always) {
      if (!this.#options.allowAlways) throw new ApprovalError(400, '"always allow" is not available here');
      commitAlways = this.#options.allowAlways(current);
    }
    const decidedAt = nowIso();
    const claimed = this.#db.prepare(`UPDATE approval_requests SET status = 'approved', decided_at = ?, always_allowed = ? WHERE id = ? AND status = 'pending' AND expires_at > ?`)
      .run(decidedAt, options.always ? 1 : 0, id, decidedAt);
    if (Number(claimed.changes) !== 1) throw this.#notPending(this.get(id));
    commitAlways?.();
    let result: ToolRunResult;
    try {
      result = await this.#options.execute(current.tool, current.args);
    } catch (error) {
      result = { text: errorMessage(error), isError: true };
    }
    const status: ApprovalStatus = result.isError ? 'failed' : 'executed';
    this.#db.prepare(`UPDATE approval_requests SET status = ?, finished_at = ?, result_json = ?, error = ? WHERE id = ? AND status = 'approved'`)
      .run(status, nowIso(), JSON.stringify(result), result.isError ? result.text : null, id);
    const record = this.#find(id)!;
    this.#events.append('approval_result', { id, tool: record.tool, status, result, summary: describeCall(record.tool, record.args) });
    log().info({ event: 'approval_result', approvalId: id, tool: record.tool, status }, 'approved tool call finished');
    return record;
  }

  deny(id: string, reason?: string): ApprovalRecord {
    const current = this.get(id);
    if (current.status !== 'pending') throw this.#notPending(current);
    const decidedAt = nowIso();
    const changed = this.#db.prepare(`UPDATE approval_requests SET status = 'denied', decided_at = ?, deny_reason = ? WHERE id = ? AND status = 'pending'`)
      .run(decidedAt, reason ?? null, id);
    if (Number(changed.changes) !== 1) throw this.#notPending(this.get(id));
    const record = this.#find(id)!;
    this.#events.append('approval_result', { id, tool: record.tool, status: 'denied', reason: reason ?? null, summary: describeCall(record.tool, record.args) });
    log().info({ event: 'approval_result', approvalId: id, tool: record.tool, status: 'denied' }, 'tool call denied');
    return record;
  }

  /** Marks pending requests past their TTL as expired (and tells the event stream). */
  expireDue(now = new Date()): number {
    const at = now.toISOString();
    const due = this.#db.prepare(`SELECT id, tool, args_json FROM approval_requests WHERE status = 'pending' AND expires_at <= ?`).all(at) as Array<{ id: string; tool: string; args_json: string }>;
    let expired = 0;
    for (const row of due) {
      const changed = this.#db.prepare(`UPDATE approval_requests SET status = 'expired', decided_at = ? WHERE id = ? AND status = 'pending'`).run(at, row.id);
      if (Number(changed.changes) !== 1) continue;
      expired++;
      this.#events.append('approval_result', { id: row.id, tool: row.tool, status: 'expired', summary: describeCall(row.tool, JSON.parse(row.args_json) as Record<string, unknown>) });
    }
    return expired;
  }

  /**
   * Requests left 'approved' by a process that stopped while running them: marked failed,
   * because nobody can tell whether they completed. Tools time out long before `olderThanMs`.
   */
  failInterrupted(olderThanMs = 10 * 60_000): number {
    const cutoff = new Date(Date.now() - olderThanMs).toISOString();
    const message = 'interrupted: the server stopped while this call ran; it may or may not have completed';
    const result = { text: message, isError: true };
    const rows = this.#db.prepare(`SELECT id, tool FROM approval_requests WHERE status = 'approved' AND decided_at < ?`).all(cutoff) as Array<{ id: string; tool: string }>;
    for (const row of rows) {
      const changed = this.#db.prepare(`UPDATE approval_requests SET status = 'failed', finished_at = ?, result_json = ?, error = ? WHERE id = ? AND status = 'approved'`)
        .run(nowIso(), JSON.stringify(result), message, row.id);
      if (Number(changed.changes) === 1) this.#events.append('approval_result', { id: row.id, tool: row.tool, status: 'failed', result });
    }
    return rows.length;
  }

  #find(id: string): ApprovalRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM approval_requests WHERE id = ?').get(id) as unknown as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  #notPending(record: ApprovalRecord): ApprovalError {
    return new ApprovalError(409, `approval ${record.id} is ${record.status}, not pending; only a pending request can be approved or denied`);
  }
}

/**
 * One line a person can read: `run_shell_command: ls; touch x`. Control and bidi
 * characters are shown escaped (\r, \u001b, \u202e): in a terminal they could
 * otherwise redraw the line and make a command look like another one.
 */
export function describeCall(tool: string, args: Record<string, unknown>): string {
  if (tool === 'run_shell_command' && typeof args.command === 'string') return visible(`run_shell_command: ${args.command}${typeof args.working_dir === 'string' ? ` (in ${args.working_dir})` : ''}`);
  if (typeof args.path === 'string') return visible(`${tool}: ${args.path}`);
  const json = JSON.stringify(args);
  return visible(`${tool} ${json.length > 200 ? `${json.slice(0, 200)}…` : json}`);
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Text with control, bidi and zero-width characters written as escapes. */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g,
    (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function toRecord(row: Row): ApprovalRecord {
  return {
    id: row.id, tool: row.tool, args: JSON.parse(row.args_json) as Record<string, unknown>, reason: row.reason, status: row.status,
    createdAt: row.created_at, expiresAt: row.expires_at, decidedAt: row.decided_at, finishedAt: row.finished_at,
    result: row.result_json ? JSON.parse(row.result_json) as ToolRunResult : null, error: row.error, denyReason: row.deny_reason,
    alwaysAllowed: row.always_allowed === 1,
  };
}
