// The approval queue: calls that need the owner wait here, persisted in the memory store
// (MemoryStore.toolState: SQLite, or PostgreSQL shared by several workers).
// pending → approved → executed | failed, or pending → denied | expired.
// Every state change is a single conditional write, so a request runs at most once even if
// two workers (or two clicks) approve it at the same moment.
import { randomBytes } from 'node:crypto';
import { LaresError, errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import type { ApprovalRecord, ApprovalStatus, ToolRunResult, ToolStateStore } from '../memory/tool-state.ts';
import { nowIso } from '../time.ts';
import type { EventLog } from './events.ts';

export type { ApprovalRecord, ApprovalStatus, ToolRunResult };

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
  allowAlways?(record: ApprovalRecord): () => Promise<void>;
}

export class ApprovalQueue {
  readonly #state: ToolStateStore;
  readonly #events: EventLog;
  readonly #options: ApprovalQueueOptions;

  constructor(state: ToolStateStore, events: EventLog, options: ApprovalQueueOptions) {
    this.#state = state;
    this.#events = events;
    this.#options = options;
  }

  async enqueue(tool: string, args: Record<string, unknown>, reason: string): Promise<ApprovalRecord> {
    const created = new Date();
    const expiresAt = new Date(created.getTime() + this.#options.ttlMs).toISOString();
    for (let attempt = 0; ; attempt++) {
      const record: ApprovalRecord = {
        id: randomBytes(4).toString('hex'), tool, args, reason, status: 'pending', createdAt: created.toISOString(), expiresAt,
        decidedAt: null, finishedAt: null, result: null, error: null, denyReason: null, alwaysAllowed: false,
      };
      if (!await this.#state.insertApproval(record)) {
        if (attempt < 5) continue;
        throw new LaresError('APPROVAL_ERROR', 'could not pick a free approval id');
      }
      await this.#events.append('approval_needed', { id: record.id, tool, args, reason, expiresAt, summary: describeCall(tool, args) });
      log().info({ event: 'approval_needed', approvalId: record.id, tool }, 'tool call queued for approval');
      return record;
    }
  }

  async get(id: string): Promise<ApprovalRecord> {
    await this.expireDue();
    const record = await this.#state.getApproval(id);
    if (!record) throw new ApprovalError(404, `no approval request with id ${id}; list them with GET /approvals/pending or \`lares approvals list\``);
    return record;
  }

  async listPending(): Promise<ApprovalRecord[]> {
    await this.expireDue();
    return this.#state.approvalsWithStatus('pending');
  }

  /** The latest decided requests (approved, executed, failed, denied, expired), newest first. */
  listRecent(limit = 20): Promise<ApprovalRecord[]> {
    return this.#state.recentApprovals(limit);
  }

  async countPending(): Promise<number> {
    await this.expireDue();
    return this.#state.countApprovals('pending');
  }

  /** Approves and runs the stored call, exactly once. 409 unless the request is still pending. */
  async approve(id: string, options: { always?: boolean } = {}): Promise<ApprovalRecord> {
    const current = await this.get(id);
    if (current.status !== 'pending') throw this.#notPending(current);
    let commitAlways: (() => Promise<void>) | undefined;
    if (options.always) {
      if (!this.#options.allowAlways) throw new ApprovalError(400, '"always allow" is not available here');
      commitAlways = this.#options.allowAlways(current);
    }
    const decidedAt = nowIso();
    const claimed = await this.#state.updateApproval(id, { status: 'approved', decidedAt, alwaysAllowed: options.always === true }, { status: 'pending', expiresAfter: decidedAt });
    if (!claimed) throw this.#notPending(await this.get(id));
    await commitAlways?.();
    let result: ToolRunResult;
    try {
      result = await this.#options.execute(current.tool, current.args);
    } catch (error) {
      result = { text: errorMessage(error), isError: true };
    }
    const status: ApprovalStatus = result.isError ? 'failed' : 'executed';
    await this.#state.updateApproval(id, { status, finishedAt: nowIso(), result, error: result.isError ? result.text : null }, { status: 'approved' });
    const record = (await this.#state.getApproval(id))!;
    await this.#events.append('approval_result', { id, tool: record.tool, status, result, summary: describeCall(record.tool, record.args) });
    log().info({ event: 'approval_result', approvalId: id, tool: record.tool, status }, 'approved tool call finished');
    return record;
  }

  async deny(id: string, reason?: string): Promise<ApprovalRecord> {
    const current = await this.get(id);
    if (current.status !== 'pending') throw this.#notPending(current);
    const changed = await this.#state.updateApproval(id, { status: 'denied', decidedAt: nowIso(), denyReason: reason ?? null }, { status: 'pending' });
    if (!changed) throw this.#notPending(await this.get(id));
    const record = (await this.#state.getApproval(id))!;
    await this.#events.append('approval_result', { id, tool: record.tool, status: 'denied', reason: reason ?? null, summary: describeCall(record.tool, record.args) });
    log().info({ event: 'approval_result', approvalId: id, tool: record.tool, status: 'denied' }, 'tool call denied');
    return record;
  }

  /** Marks pending requests past their TTL as expired (and tells the event stream). */
  async expireDue(now = new Date()): Promise<number> {
    const at = now.toISOString();
    const due = await this.#state.approvalsWithStatus('pending', { expiresAtOrBefore: at });
    let expired = 0;
    for (const record of due) {
      if (!await this.#state.updateApproval(record.id, { status: 'expired', decidedAt: at }, { status: 'pending' })) continue;
      expired++;
      await this.#events.append('approval_result', { id: record.id, tool: record.tool, status: 'expired', summary: describeCall(record.tool, record.args) });
    }
    return expired;
  }

  /**
   * Requests left 'approved' by a process that stopped while running them: marked failed,
   * because nobody can tell whether they completed. Tools time out long before `olderThanMs`,
   * so a request another worker is running now is never touched.
   */
  async failInterrupted(olderThanMs = 10 * 60_000): Promise<number> {
    const cutoff = new Date(Date.now() - olderThanMs).toISOString();
    const message = 'interrupted: the server stopped while this call ran; it may or may not have completed';
    const result = { text: message, isError: true };
    const stuck = await this.#state.approvalsWithStatus('approved', { decidedBefore: cutoff });
    let failed = 0;
    for (const record of stuck) {
      if (!await this.#state.updateApproval(record.id, { status: 'failed', finishedAt: nowIso(), result, error: message }, { status: 'approved', decidedBefore: cutoff })) continue;
      failed++;
      await this.#events.append('approval_result', { id: record.id, tool: record.tool, status: 'failed', result });
    }
    return failed;
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
