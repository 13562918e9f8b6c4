// Where words nobody asked for go (perch time, scheduled jobs, approval outcomes): the channel
// the owner last wrote on, or LARES_HOME_CHANNEL when set. The last channel is kept in the store's
// meta table, so it survives a restart. When the chosen channel is down, another connected one
// is used: a reminder is better late on another messenger than lost.
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MemoryStore } from '../memory/store.ts';
import type { Channel, ChannelName } from './channel.ts';

export const LAST_CHANNEL_KEY = 'channels.owner_last_channel';

export class HomeChannel {
  readonly #channels = new Map<ChannelName, Channel>();
  readonly #store: Pick<MemoryStore, 'getMeta' | 'setMeta'>;
  readonly #fixed: ChannelName | undefined;
  readonly #log: Logger;
  #last: ChannelName | undefined;

  constructor(options: { store: Pick<MemoryStore, 'getMeta' | 'setMeta'>; home?: ChannelName; logger: Logger }) {
    this.#store = options.store;
    this.#fixed = options.home;
    this.#log = options.logger;
  }

  async load(): Promise<void> {
    const stored = await this.#store.getMeta(LAST_CHANNEL_KEY);
    if (stored) this.#last = stored as ChannelName;
  }

  add(channel: Channel): void {
    this.#channels.set(channel.name, channel);
  }

  /** The owner just used `name`: it becomes home (unless LARES_HOME_CHANNEL pins one). */
  noteOwnerActivity(name: ChannelName): void {
    if (this.#last === name) return;
    this.#last = name;
    this.#store.setMeta(LAST_CHANNEL_KEY, name).catch((error: unknown) => {
      this.#log.warn({ event: 'home_channel_save_failed', err: errorMessage(error) }, 'could not store the channel the owner last used');
    });
  }

  /** The channel unprompted posts go to now. */
  current(): Channel | undefined {
    const preferred = this.#fixed ?? this.#last;
    const first = preferred ? this.#channels.get(preferred) : undefined;
    if (first?.isConnected()) return first;
    return [...this.#channels.values()].find((c) => c.isConnected()) ?? first ?? this.#channels.values().next().value;
  }

  async post(text: string): Promise<string[]> {
    const channel = this.current();
    if (!channel) throw new Error('no channel to post on');
    return channel.post(text);
  }
}
