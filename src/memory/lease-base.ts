// What every Lease (tool-state.ts) shares, whatever keeps it: held until it ends, and the
// listeners told once when it is lost (not when it is released).
import type { Lease } from './tool-state.ts';

export abstract class LeaseBase implements Lease {
  readonly name: string;
  #held = true;
  readonly #lostListeners: Array<() => void> = [];

  constructor(name: string) {
    this.name = name;
  }

  get held(): boolean {
    return this.#held;
  }

  onLost(listener: () => void): void {
    this.#lostListeners.push(listener);
  }

  abstract release(): Promise<void>;

  /** Marks the lease ended; false when it had ended already. */
  protected end(): boolean {
    if (!this.#held) return false;
    this.#held = false;
    return true;
  }

  /** Tells the listeners that the lease was lost, once. */
  protected notifyLost(): void {
    for (const listener of this.#lostListeners.splice(0)) {
      try { listener(); } catch { /* a listener's failure is its own */ }
    }
  }
}
