// Hears events appended by any process on the database: one connection of its own doing
// LISTEN lares_events (appendEvent NOTIFYs in its transaction). If that connection drops it
// reconnects with backoff and then calls every listener once, so they read what they missed.
import pg from 'pg';
import type { ClientConfig } from 'pg';

export const EVENTS_CHANNEL = 'lares_events';

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

export class EventWatcher {
  readonly #config: ClientConfig;
  readonly #listeners = new Set<() => void>();
  /** the connection listening now (or connecting); undefined when nobody listens */
  #client: pg.Client | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;

  constructor(config: ClientConfig) {
    this.#config = config;
  }

  watch(listener: () => void): () => void {
    if (this.#closed) return () => {};
    this.#listeners.add(listener);
    if (!this.#client && !this.#retryTimer) void this.#connect(false);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#disconnect();
    };
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#disconnect();
  }

  async #connect(reconnecting: boolean): Promise<void> {
    this.#retryTimer = undefined;
    const client = new pg.Client(this.#config);
    this.#client = client;
    let dropped = false;
    const drop = () => {
      if (dropped) return;
      dropped = true;
      client.end().catch(() => {});
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#scheduleReconnect();
    };
    client.on('error', drop);
    client.on('end', drop);
    client.on('notification', (message) => { if (message.channel === EVENTS_CHANNEL) this.#notify(); });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch {
      drop();
      return;
    }
    if (this.#client !== client) return;
    this.#failures = 0;
    // events appended while nobody listened were announced to nobody
    if (reconnecting) this.#notify();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#listeners.size === 0) return;
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.#failures++);
    this.#retryTimer = setTimeout(() => void this.#connect(true), delay);
    this.#retryTimer.unref();
  }

  #disconnect(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const client = this.#client;
    this.#client = undefined;
    client?.end().catch(() => {});
  }

  #notify(): void {
    for (const listener of this.#listeners) {
      try { listener(); } catch { /* a listener's failure is its own */ }
    }
  }
}
