// Stored events (approval_needed, approval_result, job_due), in the memory store's event log
// (MemoryStore.toolState). Stored so that an SSE client that reconnects with Last-Event-ID misses
// nothing, and so that every process sharing the database sees them: listeners here hear this
// process's events at once and other processes' on the store's notification (PostgreSQL) or poll.
import type { LaresEvent, LaresEventType, ToolStateStore } from '../memory/tool-state.ts';

export type { LaresEvent, LaresEventType };

type Listener = (event: LaresEvent | undefined) => void;

export class EventLog {
  readonly #state: ToolStateStore;
  readonly #listeners = new Set<Listener>();
  #unwatch?: () => void;

  constructor(state: ToolStateStore) {
    this.#state = state;
  }

  async append(type: LaresEventType, data: Record<string, unknown>): Promise<LaresEvent> {
    const event = await this.#state.appendEvent(type, data);
    this.#notify(event);
    return event;
  }

  /** Tells this process's listeners of an event the store appended within another write (a job's firing). */
  announce(event: LaresEvent): void {
    this.#notify(event);
  }

  /** Events after `afterId`, oldest first. */
  since(afterId: number, limit = 1000): Promise<LaresEvent[]> {
    return this.#state.eventsSince(afterId, limit);
  }

  lastId(): Promise<number> {
    return this.#state.lastEventId();
  }

  /**
   * Called when an event is appended: by this process (with the event) or by another process
   * sharing the database (undefined: read `since` your cursor).
   */
  onEvent(listener: Listener): () => void {
    this.#listeners.add(listener);
    if (!this.#unwatch && this.#state.watchEvents) this.#unwatch = this.#state.watchEvents(() => this.#notify(undefined));
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#unwatch) { this.#unwatch(); this.#unwatch = undefined; }
    };
  }

  close(): void {
    this.#listeners.clear();
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  #notify(event: LaresEvent | undefined): void {
    for (const listener of this.#listeners) {
      try { listener(event); } catch { /* a listener's failure is its own */ }
    }
  }
}

export interface EventFollower { close(): void }

/**
 * Delivers every event after `afterId`, in order and once, to `deliver`: at once for this
 * process's events and another's announced by the store, and by a poll every `pollMs` otherwise.
 * Reads are serialised, so the cursor only moves forward.
 */
export function followEvents(events: EventLog, afterId: number, deliver: (event: LaresEvent) => void, options: { pollMs: number; onError?(error: unknown): void }): EventFollower {
  let cursor = afterId;
  let closed = false;
  let reading: Promise<void> | undefined;
  let again = false;
  const read = async () => {
    do {
      again = false;
      for (const event of await events.since(cursor)) {
        if (closed) return;
        cursor = event.id;
        deliver(event);
      }
    } while (again && !closed);
  };
  const flush = () => {
    if (closed) return;
    if (reading) { again = true; return; }
    reading = read().catch((error: unknown) => options.onError?.(error)).finally(() => {
      reading = undefined;
      // a wake-up that came after the last look but before this point would otherwise wait for the poll
      if (again) flush();
    });
  };
  const unsubscribe = events.onEvent(() => flush());
  const poll = setInterval(flush, options.pollMs);
  poll.unref();
  queueMicrotask(flush);
  return {
    close() {
      closed = true;
      unsubscribe();
      clearInterval(poll);
    },
  };
}
