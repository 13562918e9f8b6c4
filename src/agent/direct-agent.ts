// Direct mode's AgentBackend: one turn at a time per conversation (messages that arrive
// meanwhile wait their turn, in order), and a note to the model on its first turn after a restart.
import { DEFAULT_CONVERSATION } from '../memory/store.ts';
import type { AgentBackend, TurnEvents, TurnInput, TurnResult } from './types.ts';
import type { Orchestrator } from './orchestrator.ts';

export class DirectAgent implements AgentBackend {
  readonly mode = 'direct' as const;
  private readonly orchestrator: Orchestrator;
  private readonly queues = new Map<string, Promise<unknown>>();
  private restartNote: string | undefined;
  private closed = false;

  constructor(orchestrator: Orchestrator, options: { restartNote?: string } = {}) {
    this.orchestrator = orchestrator;
    this.restartNote = options.restartNote;
  }

  send(input: TurnInput, events?: TurnEvents): Promise<TurnResult> {
    if (this.closed) return Promise.reject(new Error('Lares is shutting down; the message was not taken.'));
    const key = input.conversationId ?? DEFAULT_CONVERSATION;
    const previous = this.queues.get(key) ?? Promise.resolve();
    const turn = previous.catch(() => undefined).then(async () => {
      const note = this.restartNote;
      const result = await this.orchestrator.runTurn(this.withRestartNote(input), events);
      // a duplicate stores nothing: keep the note for the first message that is really handled
      if (result.stopReason === 'duplicate' && note && this.restartNote === undefined) this.restartNote = note;
      return result;
    });
    const settled = turn.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return turn;
  }

  /** Resolves when every queued turn has finished (used for a clean shutdown). */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  private withRestartNote(input: TurnInput): TurnInput {
    const note = this.restartNote;
    if (!note) return input;
    this.restartNote = undefined;
    const blocks = typeof input.content === 'string' ? [{ type: 'text' as const, text: input.content }] : input.content;
    return { ...input, content: [{ type: 'text', text: note }, ...blocks] };
  }
}
