// Where a channel stopped in the event log (approval cards, reminders), stored in meta so that the
// next start — or another worker taking over — replays what was not handled. Events are handled
// concurrently; the stored position only moves over the finished prefix, so an earlier event still
// running (a long job turn) is replayed after a crash even if a later one finished first.
import type { MemoryStore } from '../memory/store.ts';
import type { ChannelName } from './channel.ts';

/** The meta key of a channel's position in the event log. */
export const eventCursorKey = (channel: ChannelName): string => `${channel}.events.last_id`;
export const EVENT_CURSOR_KEYS = [eventCursorKey('discord'), eventCursorKey('telegram')];

export class EventCursor {
  readonly #store: Pick<MemoryStore, 'setMeta'>;
  readonly #key: string;
  #position: number;
  readonly #inFlight: Array<{ id: number; finished: boolean }> = [];

  constructor(store: Pick<MemoryStore, 'setMeta'>, key: string, position: number) {
    this.#store = store;
    this.#key = key;
    this.#position = position;
  }

  /** The last event id handled, with every earlier one. */
  get position(): number { return this.#position; }

  /** Waits for an event's handling, then moves the stored position as far as the finished prefix allows. */
  async track(eventId: number | undefined, handled: Promise<void>): Promise<void> {
    const entry = typeof eventId === 'number' && eventId > this.#position ? { id: eventId, finished: false } : undefined;
    if (entry) this.#inFlight.push(entry);
    try {
      await handled;
    } finally {
      if (entry) entry.finished = true;
    }
    let next = this.#position;
    while (this.#inFlight.length > 0 && this.#inFlight[0].finished) next = Math.max(next, this.#inFlight.shift()!.id);
    if (next <= this.#position) return;
    this.#position = next;
    await this.#store.setMeta(this.#key, String(next));
  }
}
