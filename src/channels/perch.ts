// Perch time and scheduled jobs: turns nobody typed. Every LARES_PERCH_INTERVAL_MINUTES an
// autonomous `perch` turn lets Lares reflect, tidy its memory or act; a reply that is empty
// or "(silent)" posts nothing. A scheduler `job_due` event becomes a `job` turn whose reply is
// posted (a reminder). Both go through agent.send, the same per-conversation queue as
// messages, so they wait for the turn in progress and never run beside it.
import type { AgentBackend, TurnResult } from '../agent/types.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { nowIso } from '../time.ts';
import type { QueueEvent } from './approval-bridge.ts';

export const SILENT_REPLY = '(silent)';

/** True when the model chose to say nothing: empty, or the sentinel with or without decoration. */
export function isSilentReply(reply: string): boolean {
  const text = reply.trim().replace(/^[*_`"']+|[*_`"'.]+$/g, '').trim().toLowerCase();
  return text === '' || text === '(silent)' || text === 'silent' || text === '(no reply)' || text === '(nothing to say)';
}

export function perchPrompt(at: string): string {
  return [
    `[perch time ${at}] No one wrote this: it is your perch time, a quiet moment of your own.`,
    'You may reflect on recent conversations, tidy or update your memory blocks, check on things you said you would do, or act with your tools.',
    'Speak to your person only if there is something worth their attention now.',
    `If there is nothing to say, reply with exactly ${SILENT_REPLY} and nothing will be posted.`,
  ].join('\n');
}

export interface PerchLoop {
  /** Runs one perch turn now (skipped while the previous one is still waiting or running). */
  tick(options?: { scheduled?: boolean }): Promise<void>;
  /** when the last tick started (UTC ISO), for /health */
  lastTickAt(): string | undefined;
  readonly intervalMs: number;
  stop(): Promise<void>;
}

export interface PerchOptions {
  agent: AgentBackend;
  /** 0 disables the timer (tick() still works) */
  intervalMs: number;
  /** posts a reply in the channel */
  post(text: string): Promise<unknown>;
  logger: Logger;
}

export function startPerch(options: PerchOptions): PerchLoop {
  const { agent, intervalMs, post, logger } = options;
  let last: string | undefined;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  /**
   * A timer tick carries its interval slot as sourceRef: several workers sharing one database run
   * one perch turn per slot (the others see a duplicate and stay silent). A tick asked for by hand
   * (SIGUSR2) always runs.
   */
  const tick = (options: { scheduled?: boolean } = {}): Promise<void> => {
    if (running) {
      logger.info({ event: 'perch_skipped' }, 'perch tick skipped: the previous one has not finished');
      return running;
    }
    last = nowIso();
    logger.info({ event: 'perch_tick', at: last }, 'perch time');
    running = (async () => {
      try {
        const slot = options.scheduled && intervalMs > 0 ? `perch:${intervalMs}:${Math.floor(Date.parse(last!) / intervalMs)}` : undefined;
        const result = await agent.send({ source: 'perch', content: perchPrompt(last!), metadata: { perchAt: last }, skipIfIdle: options.scheduled === true, ...(slot ? { sourceRef: slot } : {}) });
        if (isSilentReply(result.reply)) {
          logger.info({ event: 'perch_silent', toolCalls: result.toolCalls, stopReason: result.stopReason }, result.stopReason === 'idle' ? 'perch time: nothing new, no model call' : result.stopReason === 'budget_reached' ? 'perch time skipped: daily budget reached' : 'perch time: nothing to say');
          return;
        }
        await post(result.reply);
      } catch (error) {
        logger.error({ event: 'perch_failed', err: errorMessage(error) }, 'perch turn failed');
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const arm = () => {
    if (stopped || intervalMs <= 0) return;
    timer = setTimeout(() => { void tick({ scheduled: true }).finally(arm); }, intervalMs);
  };
  arm();

  return {
    tick,
    lastTickAt: () => last,
    intervalMs,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

export interface JobRunner {
  /** handles one event; ignores everything but job_due */
  handle(event: QueueEvent): Promise<void>;
  stop(): Promise<void>;
}

/** Turns scheduler `job_due` events into `job` turns whose replies are posted. */
export function startJobRunner(options: {
  agent: AgentBackend;
  post(text: string): Promise<unknown>;
  logger: Logger;
}): JobRunner {
  const { agent, post, logger } = options;
  const inflight = new Set<Promise<void>>();
  const handle = (event: QueueEvent): Promise<void> => {
    if (event.type !== 'job_due') return Promise.resolve();
    const job = event.data;
    const message = String(job.message ?? '');
    const jobId = String(job.jobId ?? job.id ?? '');
    const scheduledFor = String(job.scheduledFor ?? nowIso());
    logger.info({ event: 'job_turn', jobId }, 'scheduled job is due: starting a turn');
    const run = (async () => {
      let result: TurnResult | undefined;
      try {
        result = await agent.send({
          source: 'job',
          content: `[scheduled job ${jobId} due at ${scheduledFor}${job.kind ? `, ${String(job.kind)} ${String(job.spec ?? '')}` : ''}] ${message}\n`
            + 'You scheduled this earlier. Act on it now; your reply is posted to your person.',
          sourceRef: `job:${jobId}:${scheduledFor}`,
          metadata: { jobId, scheduledFor },
        });
      } catch (error) {
        logger.error({ event: 'job_turn_failed', jobId, err: errorMessage(error) }, 'scheduled job turn failed; posting the reminder as it was written');
      }
      if (result?.stopReason === 'duplicate') {
        logger.info({ event: 'job_duplicate', jobId }, 'scheduled job was already handled (event replayed); nothing posted');
        return;
      }
      // a reminder is never lost: if the model says nothing, the job's own text is posted
      const text = result && !isSilentReply(result.reply) ? result.reply : `⏰ ${message}`;
      try { await post(text); } catch (error) {
        logger.error({ event: 'job_post_failed', jobId, err: errorMessage(error) }, 'could not post the scheduled job reply');
      }
    })();
    inflight.add(run);
    void run.finally(() => inflight.delete(run));
    return run;
  };
  return {
    handle,
    async stop() {
      await Promise.allSettled([...inflight]);
    },
  };
}
