// schedule_job / list_jobs / remove_job. Jobs live in mcp_jobs; when one is due the
// scheduler appends a `job_due` event, which the agent turns into a message.
import { randomBytes } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { Cron } from 'croner';
import { log } from '../log.ts';
import { nowIso } from '../time.ts';
import type { EventLog } from './events.ts';
import { ToolInputError } from './tool-error.ts';

export type JobKind = 'once' | 'interval' | 'cron';
export interface Job {
  id: string; kind: JobKind; spec: string; message: string; nextRunAt: string | null; lastRunAt: string | null; active: boolean; createdAt: string;
  /** paused by the owner (inactive with a next run kept); a finished one-off job is inactive with none */
  paused: boolean;
}

const MIN_INTERVAL_MS = 60_000;
const MAX_TIMER_MS = 60_000;
const DURATION = /^(\d+)\s*(s|m|h|d)$/;

interface JobRow { id: string; kind: JobKind; spec: string; message: string; next_run_at: string | null; last_run_at: string | null; active: number; created_at: string }

export class Scheduler {
  readonly #db: DatabaseSync;
  readonly #events: EventLog;
  #timer?: NodeJS.Timeout;
  #running = false;

  constructor(db: DatabaseSync, events: EventLog) {
    this.#db = db;
    this.#events = events;
  }

  schedule(args: { kind: JobKind; spec: string; message: string }, now = new Date()): Job {
    const next = nextRunAfter(args.kind, args.spec, now, true);
    const job: Job = { id: `job_${randomBytes(4).toString('hex')}`, kind: args.kind, spec: args.spec.trim(), message: args.message, nextRunAt: next, lastRunAt: null, active: true, createdAt: nowIso(), paused: false };
    this.#db.prepare('INSERT INTO mcp_jobs (id, kind, spec, message, next_run_at, last_run_at, active, created_at) VALUES (?, ?, ?, ?, ?, NULL, 1, ?)')
      .run(job.id, job.kind, job.spec, job.message, job.nextRunAt, job.createdAt);
    this.#arm();
    return job;
  }

  list(includeInactive = false): Job[] {
    const rows = this.#db.prepare(`SELECT * FROM mcp_jobs ${includeInactive ? '' : 'WHERE active = 1'} ORDER BY next_run_at`).all() as unknown as JobRow[];
    return rows.map(toJob);
  }

  get(id: string): Job | undefined {
    const row = this.#db.prepare('SELECT * FROM mcp_jobs WHERE id = ?').get(id) as unknown as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  remove(id: string): boolean {
    return Number(this.#db.prepare('DELETE FROM mcp_jobs WHERE id = ?').run(id).changes) > 0;
  }

  /**
   * Pauses a job (it keeps its next run time but never fires) or resumes it; a resumed
   * recurring job whose time passed while paused runs next at its next time from now.
   * Returns undefined when there is no such job; a finished one-off job cannot be resumed.
   */
  setPaused(id: string, paused: boolean, now = new Date()): Job | undefined {
    const job = this.get(id);
    if (!job) return undefined;
    if (job.nextRunAt === null) throw new ToolInputError(`job ${id} has finished (a one-off job that already ran) and cannot be ${paused ? 'paused' : 'resumed'}`);
    let next = job.nextRunAt;
    if (!paused && job.kind !== 'once' && Date.parse(next) < now.getTime()) next = nextRunAfter(job.kind, job.spec, now, false);
    this.#db.prepare('UPDATE mcp_jobs SET active = ?, next_run_at = ? WHERE id = ?').run(paused ? 0 : 1, next, id);
    log().info({ event: paused ? 'job_paused' : 'job_resumed', jobId: id }, paused ? 'job paused' : 'job resumed');
    this.#arm();
    return this.get(id);
  }

  /** Fires a job now, once, without moving its schedule (the owner's "run now"). */
  runNow(id: string, now = new Date()): boolean {
    const job = this.get(id);
    if (!job) return false;
    this.#events.append('job_due', { jobId: job.id, kind: job.kind, spec: job.spec, message: job.message, scheduledFor: now.toISOString(), nextRunAt: job.nextRunAt, manual: true });
    log().info({ event: 'job_run_now', jobId: job.id }, 'job run now by the owner');
    return true;
  }

  /** Fires every job due at `now`; each firing is claimed atomically, so two processes never fire one twice. */
  fireDue(now = new Date()): number {
    const due = this.#db.prepare('SELECT * FROM mcp_jobs WHERE active = 1 AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at').all(now.toISOString()) as unknown as JobRow[];
    let fired = 0;
    for (const row of due) {
      let next: string | null;
      try { next = row.kind === 'once' ? null : nextRunAfter(row.kind, row.spec, now, false); } catch { next = null; }
      const claimed = this.#db.prepare('UPDATE mcp_jobs SET next_run_at = ?, last_run_at = ?, active = ? WHERE id = ? AND next_run_at = ? AND active = 1')
        .run(next, now.toISOString(), next === null ? 0 : 1, row.id, row.next_run_at);
      if (Number(claimed.changes) !== 1) continue;
      fired++;
      this.#events.append('job_due', { jobId: row.id, kind: row.kind, spec: row.spec, message: row.message, scheduledFor: row.next_run_at, nextRunAt: next });
      log().info({ event: 'job_due', jobId: row.id, kind: row.kind }, 'scheduled job is due');
    }
    return fired;
  }

  start(): void {
    this.#running = true;
    this.#arm();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (!this.#running) return;
    if (this.#timer) clearTimeout(this.#timer);
    const row = this.#db.prepare('SELECT MIN(next_run_at) AS next FROM mcp_jobs WHERE active = 1 AND next_run_at IS NOT NULL').get() as { next: string | null };
    const wait = row.next === null ? MAX_TIMER_MS : Math.max(0, Math.min(Date.parse(row.next) - Date.now(), MAX_TIMER_MS));
    this.#timer = setTimeout(() => {
      try { this.fireDue(); } catch (error) { log().error({ err: error }, 'scheduler: firing due jobs failed'); }
      this.#arm();
    }, wait);
    this.#timer.unref();
  }
}

/** The next run time (ISO) of a job; validates the spec and explains what is wrong. */
export function nextRunAfter(kind: JobKind, spec: string, now: Date, creating: boolean): string {
  const value = spec.trim();
  if (kind === 'once') {
    const relative = DURATION.exec(value);
    const at = relative ? new Date(now.getTime() + durationMs(value)) : new Date(value);
    if (Number.isNaN(at.getTime())) throw new ToolInputError(`spec: for kind "once" expected a time like 2026-12-01T09:00:00Z or a delay like 30m, got "${spec}"`);
    if (creating && at.getTime() < now.getTime() - 1000) throw new ToolInputError(`spec: ${at.toISOString()} is in the past`);
    return at.toISOString();
  }
  if (kind === 'interval') {
    if (!DURATION.exec(value)) throw new ToolInputError(`spec: for kind "interval" expected a duration like 90s, 30m, 6h or 1d, got "${spec}"`);
    const ms = durationMs(value);
    if (ms < MIN_INTERVAL_MS) throw new ToolInputError('spec: the shortest interval is 1m');
    const next = new Date(now.getTime() + ms);
    if (Number.isNaN(next.getTime())) throw new ToolInputError(`spec: the interval "${spec}" is too long; use at most a few years, e.g. 365d`);
    return next.toISOString();
  }
  let cron: Cron;
  try { cron = new Cron(value, { paused: true }); } catch (error) {
    throw new ToolInputError(`spec: not a valid cron pattern "${spec}" (${(error as Error).message}); e.g. "0 9 * * 1-5" for 09:00 on weekdays`);
  }
  const next = cron.nextRun(now);
  cron.stop();
  if (!next) throw new ToolInputError(`spec: the cron pattern "${spec}" never runs again`);
  return next.toISOString();
}

function durationMs(value: string): number {
  const [, n, unit] = DURATION.exec(value)!;
  return Number(n) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 's'];
}

function toJob(row: JobRow): Job {
  return { id: row.id, kind: row.kind, spec: row.spec, message: row.message, nextRunAt: row.next_run_at, lastRunAt: row.last_run_at, active: row.active === 1, createdAt: row.created_at, paused: row.active !== 1 && row.next_run_at !== null };
}
