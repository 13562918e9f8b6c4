// Leases on PostgreSQL: a session advisory lock held on a connection of its own. The server frees
// the lock the moment that connection dies (the holder crashed, the network went), so a lease
// never outlives its holder; the holder learns it lost the lease from the connection's end or
// from a probe that goes unanswered. lares_leases only records who took it and when.
import pg from 'pg';
import type { ClientConfig } from 'pg';
import type { LeaseInfo } from '../tool-state.ts';
import { LeaseBase } from '../lease-base.ts';
import { toLease } from '../tool-state-rows.ts';
import { STATE_LOCK_CLASS } from './conversation-lock.ts';

/** Lares's advisory lock class; a lease's second key is hashtext('lease:' || name). */
export const LEASE_LOCK_CLASS = STATE_LOCK_CLASS | 0;
const LEASE_KEY = `hashtext('lease:' || $2)`;

/** How often a held lease's connection is probed; a probe unanswered by the next one means the lease is lost. */
const PROBE_INTERVAL_MS = 5_000;

/** Takes the lease on a new connection, or returns undefined (and closes it) when another session holds it. */
export async function tryPostgresLease(config: ClientConfig, name: string, workerId: string, since: string, onGone: (lease: PostgresLease) => void): Promise<PostgresLease | undefined> {
  const client = new pg.Client({ ...config, keepAlive: true });
  // until the lease listens, a dropped connection needs no more than this
  const ignore = () => {};
  client.on('error', ignore);
  await client.connect();
  try {
    const taken = (await client.query(`SELECT pg_try_advisory_lock($1::int4, ${LEASE_KEY}) AS taken`, [LEASE_LOCK_CLASS, name])).rows[0].taken === true;
    if (!taken) {
      await client.end();
      return undefined;
    }
    // a row left by a holder that died is simply taken over
    await client.query(`INSERT INTO lares_leases (name, worker_id, since, expires_at) VALUES ($1, $2, $3, NULL)
      ON CONFLICT (name) DO UPDATE SET worker_id = excluded.worker_id, since = excluded.since, expires_at = NULL`, [name, workerId, since]);
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  client.off('error', ignore);
  return new PostgresLease(name, workerId, client, onGone);
}

/** Whether some session holds the lease's lock now. */
export async function postgresLeaseHeld(db: Pick<pg.Pool, 'query'>, name: string): Promise<boolean> {
  const result = await db.query(`SELECT EXISTS (SELECT 1 FROM pg_locks k
      WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 2
        AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND k.classid::bigint = ($1::int4::bigint & 4294967295)
        AND k.objid::bigint = (hashtext('lease:' || $2::text)::bigint & 4294967295)) AS held`, [LEASE_LOCK_CLASS, name]);
  return result.rows[0].held === true;
}

/** Leases whose lock some session holds now: a row whose holder died stays behind, but its lock does not. */
export async function livePostgresLeases(db: Pick<pg.Pool, 'query'>): Promise<LeaseInfo[]> {
  // pg_locks shows a two-key advisory lock as classid = key 1, objid = key 2, objsubid = 2, both as unsigned oids
  const result = await db.query(`SELECT l.name, l.worker_id, l.since FROM lares_leases l
    WHERE EXISTS (SELECT 1 FROM pg_locks k
      WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 2
        AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND k.classid::bigint = ($1::int4::bigint & 4294967295)
        AND k.objid::bigint = (hashtext('lease:' || l.name)::bigint & 4294967295))
    ORDER BY l.name`, [LEASE_LOCK_CLASS]);
  return result.rows.map(toLease);
}

export class PostgresLease extends LeaseBase {
  readonly #workerId: string;
  readonly #client: pg.Client;
  readonly #onGone: (lease: PostgresLease) => void;
  readonly #probe: NodeJS.Timeout;
  #probing = false;

  constructor(name: string, workerId: string, client: pg.Client, onGone: (lease: PostgresLease) => void) {
    super(name);
    this.#workerId = workerId;
    this.#client = client;
    this.#onGone = onGone;
    client.on('error', () => this.#lost());
    client.on('end', () => this.#lost());
    // a server that vanished without closing the connection is noticed by a probe left unanswered
    this.#probe = setInterval(() => {
      if (this.#probing) { this.#lost(); return; }
      this.#probing = true;
      client.query('SELECT 1').then(() => { this.#probing = false; }, () => this.#lost());
    }, PROBE_INTERVAL_MS);
    this.#probe.unref();
  }

  async release(): Promise<void> {
    if (!this.#stop()) return;
    try {
      // the row goes first, while the lock still keeps anyone else from writing theirs
      await this.#client.query('DELETE FROM lares_leases WHERE name = $1 AND worker_id = $2', [this.name, this.#workerId]);
      await this.#client.query(`SELECT pg_advisory_unlock($1::int4, ${LEASE_KEY})`, [LEASE_LOCK_CLASS, this.name]);
    } catch {
      // ending the connection below frees the lock all the same
    } finally {
      await this.#client.end().catch(() => {});
    }
  }

  /** Ends the lease without telling anyone (the store is closing): closing the connection frees the lock. */
  async abandon(): Promise<void> {
    if (!this.#stop()) return;
    await this.#client.end().catch(() => {});
  }

  #lost(): void {
    if (!this.#stop()) return;
    // a connection that still works must not keep the lock of a lease its holder gave up
    this.#client.end().catch(() => {});
    this.notifyLost();
  }

  #stop(): boolean {
    if (!this.end()) return false;
    clearInterval(this.#probe);
    this.#onGone(this);
    return true;
  }
}
