// schedule_job / list_jobs / remove_job. Jobs live in the memory store (MemoryStore.toolState);
// when one is due the scheduler appends a `job_due` event, which the agent turns into a message.
// Every worker may run a scheduler: each firing is claimed by one conditional write, so a slot
// fires once whichever worker sees it first.
import { randomBytes } from 'node:crypto';
import { Cron } from 'croner';
import { log } from '../log.ts';
import type { Job, JobKind, ToolStateStore } from '../memory/tool-state.ts';
import { nowIso } from '../time.ts';
import type { EventLog } from './events.ts';
import { ToolInputError } from './tool-error.ts';

export type { Job, JobKind };

const MIN_INTERVAL_MS = 60_000;
// at most this long between looks at the jobs: another worker may add one, or die before firing its own
const MAX_TIMER_MS = 15_000;
const DURATION = /^(\d+)\s*(s|m|h|d)$/;

export class Scheduler {
  readonly #state: ToolStateStore;
  readonly #events: EventLog;
  #timer?: NodeJS.Timeout;
  #running = false;

  constructor(state: ToolStateStore, events: EventLog) {
    this.#state = state;
    this.#events = events;
  }

  async schedule(args: { kind: JobKind; spec: string; message: string }, now = new Date()): Promise<Job> {
    const next = nextRunAfter(args.kind, args.spec, now, true);
    const job: Job = { id: `job_${randomBytes(4).toString('hex')}`, kind: args.kind, spec: args.spec.trim(), message: args.message, nextRunAt: next, lastRunAt: null, active: true, createdAt: nowIso(), paused: false };
    await this.#state.insertJob(job);
    this.#arm();
    return job;
  }

  list(includeInactive = false): Promise<Job[]> {
    return this.#state.listJobs(includeInactive);
  }

  get(id: string): Promise<Job | undefined> {
    return this.#state.getJob(id);
  }

  remove(id: string): Promise<boolean> {
    return this.#state.deleteJob(id);
  }

  /**
   * Pauses a job (it keeps its next run time but never fires) or resumes it; a resumed
   * recurring job whose time passed while paused runs next at its next time from now.
   * Returns undefined when there is no such job; a finished one-off job cannot be resumed.
   */
  async setPaused(id: string, paused: boolean, now = new Date()): Promise<Job | undefined> {
    const job = await this.get(id);
    if (!job) return undefined;
    if (job.nextRunAt === null) throw new ToolInputError(`job ${id} has finished (a one-off job that already ran) and cannot be ${paused ? 'paused' : 'resumed'}`);
    let next = job.nextRunAt;
    if (!paused && job.kind !== 'once' && Date.parse(next) < now.getTime()) next = nextRunAfter(job.kind, job.spec, now, false);
    // conditional: a slot that fired meanwhile (on any worker) is not undone
    if (!await this.#state.setJobSchedule(id, !paused, next, { active: job.active, nextRunAt: job.nextRunAt })) {
      throw new ToolInputError(`job ${id} changed while it was being ${paused ? 'paused' : 'resumed'} (it may just have run); look at it again`);
    }
    log().info({ event: paused ? 'job_paused' : 'job_resumed', jobId: id }, paused ? 'job paused' : 'job resumed');
    this.#arm();
    return this.get(id);
  }

  /** Fires a job now, once, without moving its schedule (the owner's "run now"). */
  async runNow(id: string, now = new Date()): Promise<boolean> {
    const job = await this.get(id);
    if (!job) return false;
    await this.#events.append('job_due', { jobId: job.id, kind: job.kind, spec: job.spec, message: job.message, scheduledFor: now.toISOString(), nextRunAt: job.nextRunAt, manual: true });
    log().info({ event: 'job_run_now', jobId: job.id }, 'job run now by the owner');
    return true;
  }

  /** Fires every job due at `now`; each firing is claimed atomically, so two workers never fire one slot twice. */
  async fireDue(now = new Date()): Promise<number> {
    const due = await this.#state.dueJobs(now.toISOString());
    let fired = 0;
    for (const job of due) {
      let next: string | null;
      try { next = job.kind === 'once' ? null : nextRunAfter(job.kind, job.spec, now, false); } catch { next = null; }
      // the claim and its job_due event are one transaction: a slot is never fired twice, nor lost
      const event = await this.#state.claimJobRun(job.id, job.nextRunAt!, { nextRunAt: next, lastRunAt: now.toISOString(), active: next !== null },
        { jobId: job.id, kind: job.kind, spec: job.spec, message: job.message, scheduledFor: job.nextRunAt, nextRunAt: next });
      if (!event) continue;
      fired++;
      this.#events.announce(event);
      log().info({ event: 'job_due', jobId: job.id, kind: job.kind }, 'scheduled job is due');
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

  /** Sleeps until the soonest job (at most MAX_TIMER_MS), fires, repeats. */
  #arm(): void {
    if (!this.#running) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#state.nextJobRunAt().then((next) => {
      if (!this.#running) return;
      if (this.#timer) clearTimeout(this.#timer);
      const wait = next === undefined ? MAX_TIMER_MS : Math.max(0, Math.min(Date.parse(next) - Date.now(), MAX_TIMER_MS));
      this.#timer = setTimeout(() => {
        this.fireDue()
          .catch((error: unknown) => log().error({ err: error }, 'scheduler: firing due jobs failed'))
          .finally(() => this.#arm());
      }, wait);
      this.#timer.unref();
    }, (error: unknown) => {
      log().warn({ err: error }, 'scheduler: could not read the next job; trying again in a minute');
      if (!this.#running) return;
      this.#timer = setTimeout(() => this.#arm(), MAX_TIMER_MS);
      this.#timer.unref();
    });
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
