// Tool-state rows ↔ records, shared by the SQLite and PostgreSQL tool state (same column names).
// SQLite keeps booleans as 0/1 and ids as numbers or bigints, PostgreSQL as booleans and strings.
import type { AllowedCommand, ApprovalChange, ApprovalRecord, Job, LaresEvent, LeaseInfo, ToolRunResult, WorkerInfo } from './tool-state.ts';

type Row = Record<string, any>;

const bool = (value: unknown): boolean => value === true || Number(value) === 1;

export function toApproval(r: Row): ApprovalRecord {
  return {
    id: r.id, tool: r.tool, args: JSON.parse(r.args_json) as Record<string, unknown>, reason: r.reason, status: r.status,
    createdAt: r.created_at, expiresAt: r.expires_at, decidedAt: r.decided_at ?? null, finishedAt: r.finished_at ?? null,
    result: r.result_json ? JSON.parse(r.result_json) as ToolRunResult : null, error: r.error ?? null, denyReason: r.deny_reason ?? null,
    alwaysAllowed: bool(r.always_allowed),
  };
}

export function toEvent(r: Row): LaresEvent {
  return { id: Number(r.id), type: r.type, data: JSON.parse(r.data_json) as Record<string, unknown>, createdAt: r.created_at };
}

export function toJob(r: Row): Job {
  const active = bool(r.active);
  const nextRunAt = r.next_run_at ?? null;
  return {
    id: r.id, kind: r.kind, spec: r.spec, message: r.message, nextRunAt, lastRunAt: r.last_run_at ?? null, active, createdAt: r.created_at,
    // not stored: an inactive job that still has a next run was paused, one without has finished
    paused: !active && nextRunAt !== null,
  };
}

export function toAllowedCommand(r: Row): AllowedCommand {
  return { argv: JSON.parse(r.argv_json) as string[], approvalId: r.approval_id ?? null, createdAt: r.created_at };
}

export function toWorker(r: Row): WorkerInfo {
  return { id: r.id, host: r.host, pid: Number(r.pid), role: r.role, startedAt: r.started_at, seenAt: r.seen_at, ...(r.identity ? { identity: r.identity } : {}) };
}

export function toLease(r: Row): LeaseInfo {
  return { name: r.name, workerId: r.worker_id, since: r.since };
}

/** The approval_requests columns an ApprovalChange sets, with their stored values (booleans left for the store to encode). */
export function approvalChangeColumns(change: ApprovalChange): Array<[column: string, value: string | boolean | null]> {
  const columns: Array<[string, string | boolean | null]> = [];
  if (change.status !== undefined) columns.push(['status', change.status]);
  if (change.decidedAt !== undefined) columns.push(['decided_at', change.decidedAt]);
  if (change.finishedAt !== undefined) columns.push(['finished_at', change.finishedAt]);
  if (change.result !== undefined) columns.push(['result_json', change.result === null ? null : JSON.stringify(change.result)]);
  if (change.error !== undefined) columns.push(['error', change.error]);
  if (change.denyReason !== undefined) columns.push(['deny_reason', change.denyReason]);
  if (change.alwaysAllowed !== undefined) columns.push(['always_allowed', change.alwaysAllowed]);
  return columns;
}

/** approval_requests' columns, in the order approvalValues gives their values. */
export const APPROVAL_COLUMNS = ['id', 'tool', 'args_json', 'reason', 'status', 'created_at', 'expires_at', 'decided_at', 'finished_at', 'result_json', 'error', 'deny_reason', 'always_allowed'] as const;

export function approvalValues(a: ApprovalRecord): Array<string | boolean | null> {
  return [a.id, a.tool, JSON.stringify(a.args), a.reason, a.status, a.createdAt, a.expiresAt, a.decidedAt, a.finishedAt,
    a.result === null ? null : JSON.stringify(a.result), a.error, a.denyReason, a.alwaysAllowed];
}

/** mcp_jobs' columns, in the order jobValues gives their values. */
export const JOB_COLUMNS = ['id', 'kind', 'spec', 'message', 'next_run_at', 'last_run_at', 'active', 'created_at'] as const;

export function jobValues(j: Job): Array<string | boolean | null> {
  return [j.id, j.kind, j.spec, j.message, j.nextRunAt, j.lastRunAt, j.active, j.createdAt];
}

/** Finished, decided or expiry time: how recentApprovals orders decided requests, newest first. */
export const RECENT_APPROVALS_ORDER = 'COALESCE(finished_at, decided_at, expires_at) DESC, id DESC';

/** Active jobs by next run; finished ones (no next run) last. */
export const JOBS_ORDER = 'next_run_at IS NULL, next_run_at, created_at, id';
