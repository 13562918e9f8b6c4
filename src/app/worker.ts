// A `lares run` process as one of possibly several workers on one store. Each worker reports a
// heartbeat (for `lares status`); exactly one holds the channel connections at a time, by a lease
// in the database (PostgreSQL: an advisory lock, freed by the server the moment its holder's
// connection dies; SQLite: a row renewed while held). The others stand by and try again every few
// seconds, so when the holder dies another takes over: it replays what the holder had not handled
// from the positions stored in the database (channel cursors, update offsets, the event log).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MemoryStore } from '../memory/store.ts';
import type { Lease, WorkerInfo } from '../memory/tool-state.ts';
import { processIdentity } from '../process-alive.ts';
import { nowIso } from '../time.ts';

/** The lease whose holder runs the channels (and with them perch, job posts and approval cards). */
export const CHANNELS_LEASE = 'channels';
const HEARTBEAT_MS = 10_000;
/** A worker silent for this long is shown as gone by `lares status`. */
export const WORKER_STALE_MS = 30_000;

/** This process's heartbeat in the store. */
export class WorkerPresence {
  readonly info: WorkerInfo;
  readonly #store: MemoryStore;
  #timer?: NodeJS.Timeout;

  constructor(store: MemoryStore, role: string) {
    this.#store = store;
    const startedAt = nowIso();
    this.info = { id: `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`, host: hostname(), pid: process.pid, role, startedAt, seenAt: startedAt, identity: processIdentity() };
  }

  async start(logger: Logger): Promise<void> {
    await this.#beat();
    // rows of workers that were killed (they never remove their own) go after a day
    await this.#store.toolState.pruneWorkers(new Date(Date.now() - 86_400_000).toISOString()).catch(() => undefined);
    this.#timer = setInterval(() => { this.#beat().catch((error: unknown) => logger.warn({ event: 'heartbeat_failed', err: errorMessage(error) }, 'could not record this worker\'s heartbeat')); }, HEARTBEAT_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#store.toolState.removeWorker(this.info.id).catch(() => undefined);
  }

  #beat(): Promise<void> {
    return this.#store.toolState.heartbeat({ ...this.info, seenAt: nowIso() });
  }
}

export interface LeasedService<T> {
  /** the service while this worker holds the lease */
  current(): T | undefined;
  /** 'active' while holding the lease, 'standby' while another worker does */
  readonly role: 'active' | 'standby';
  close(): Promise<void>;
}

/**
 * Runs `start` while this worker holds the named lease: takes it when free (now, or when the
 * holder goes), stops the service if the lease is lost (the database connection dropped), and
 * stands by again. The first start's failure (a bad token) is thrown: nothing would fix it by waiting.
 */
export async function runWhileLeased<T extends { close(): Promise<void> }>(options: {
  store: MemoryStore;
  workerId: string;
  lease: string;
  start: () => Promise<T>;
  logger: Logger;
  /** how often a standby worker tries to take the lease */
  retryMs?: number;
}): Promise<LeasedService<T>> {
  const { store, workerId, logger } = options;
  const retryMs = options.retryMs ?? 2_000;
  let lease: Lease | undefined;
  let service: T | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let saidStandby = false;
  let transition: Promise<void> = Promise.resolve();

  const acquire = async (first: boolean): Promise<void> => {
    if (closed || lease) return;
    // SQLite: a holder on this machine that died frees the lease at once; the time-out (renewed a
    // third of the way) only matters across machines, which SQLite is not for
    const taken = await store.toolState.tryLease(options.lease, workerId, { ttlMs: store.kind === 'sqlite' ? 30_000 : undefined });
    if (!taken) {
      if (!saidStandby) {
        const holder = (await store.toolState.listLeases()).find((l) => l.name === options.lease);
        logger.info({ event: 'standby', lease: options.lease, holder: holder?.workerId ?? null }, `standing by: another worker${holder ? ` (${holder.workerId})` : ''} holds the ${options.lease}; taking over if it stops`);
        saidStandby = true;
      }
      return;
    }
    lease = taken;
    saidStandby = false;
    logger.info({ event: 'lease_taken', lease: options.lease, workerId }, `this worker holds the ${options.lease}`);
    // listened to before starting: a lease lost while the channels connect must stop them too
    taken.onLost(() => {
      logger.error({ event: 'lease_lost', lease: options.lease }, `lost the ${options.lease} lease (database connection dropped): stopping them; another worker takes over`);
      transition = transition.then(() => stopService());
    });
    try {
      service = await options.start();
    } catch (error) {
      lease = undefined;
      await taken.release().catch(() => undefined);
      if (first) throw error;
      logger.error({ event: 'lease_start_failed', lease: options.lease, err: errorMessage(error) }, `could not start the ${options.lease}; another worker may take them`);
      return;
    }
    // lost during the start (the lost handler found nothing to stop yet): stop what was started
    if (!taken.held) await stopService();
  };

  const stopService = async (): Promise<void> => {
    const running = service;
    service = undefined;
    lease = undefined;
    await running?.close().catch((error: unknown) => logger.warn({ event: 'lease_stop_failed', err: errorMessage(error) }, 'stopping after the lease was lost failed'));
  };

  const tick = () => {
    if (closed) return;
    transition = transition.then(() => acquire(false)).catch((error: unknown) => {
      logger.warn({ event: 'lease_check_failed', lease: options.lease, err: errorMessage(error) }, 'could not check the lease; trying again');
    }).finally(() => {
      if (!closed) { timer = setTimeout(tick, retryMs); timer.unref(); }
    });
  };

  await acquire(true);
  timer = setTimeout(tick, retryMs);
  timer.unref();

  return {
    current: () => service,
    get role() { return lease ? 'active' : 'standby'; },
    async close() {
      closed = true;
      clearTimeout(timer);
      await transition.catch(() => undefined);
      const held = lease;
      await stopService();
      await held?.release().catch(() => undefined);
    },
  };
}
