// Shared pieces of the Discord tests: a scripted agent that runs turns one at a time like the
// real one, the approval queue of `lares mcp` (real, on a temp SQLite file) behind the
// ApprovalsClient interface, an in-memory meta store, and a log capture that can be awaited.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import type { AgentBackend, TurnEvents, TurnInput, TurnResult } from '../../src/agent/types.ts';
import { startDiscordChannel, type DiscordChannel, type DiscordStateStore } from '../../src/channels/discord/discord-channel.ts';
import { createLogger, setLogger, type Logger } from '../../src/log.ts';
import { ApprovalError, ApprovalQueue } from '../../src/mcp-server/approvals.ts';
import { SqliteStore } from '../../src/memory/sqlite/sqlite-store.ts';
import { EventLog } from '../../src/mcp-server/events.ts';
import type { LaresToolRuntime } from '../../src/mcp-server/runtime.ts';
import { createLocalApprovalsClient, type ApprovalsClient } from '../../src/tools/approvals-client.ts';
import { startFakeDiscord, type FakeDiscord, type FakeUser } from '../fakes/discord.ts';

// the approval queue logs through the process logger: keep test output clean
setLogger(createLogger({ level: 'silent', pretty: false }));

export type Script = (input: TurnInput, index: number) => Promise<string | Partial<TurnResult>> | string | Partial<TurnResult>;

/** An AgentBackend whose replies come from a script; turns run one at a time, in send() order. */
export class ScriptedAgent implements AgentBackend {
  readonly mode = 'direct' as const;
  /** every send(), in call order */
  readonly calls: TurnInput[] = [];
  /** "start <source>" / "end <source>" as turns run */
  readonly timeline: string[] = [];
  script: Script;
  readonly #events = new EventEmitter();
  #chain: Promise<unknown> = Promise.resolve();
  #running = 0;
  maxConcurrent = 0;

  constructor(script: Script = (input) => `echo: ${typeof input.content === 'string' ? input.content : '(blocks)'}`) {
    this.script = script;
  }

  send(input: TurnInput, _events?: TurnEvents): Promise<TurnResult> {
    const index = this.calls.length;
    this.calls.push(input);
    this.#events.emit('change');
    const run = async (): Promise<TurnResult> => {
      this.#running += 1;
      this.maxConcurrent = Math.max(this.maxConcurrent, this.#running);
      this.timeline.push(`start ${input.source}`);
      this.#events.emit('change');
      try {
        const out = await this.script(input, index);
        const result = typeof out === 'string' ? { reply: out } : out;
        return { reply: '', stopReason: 'end_turn', toolCalls: 0, incomplete: false, pendingApprovals: [], ...result };
      } finally {
        this.#running -= 1;
        this.timeline.push(`end ${input.source}`);
        this.#events.emit('change');
      }
    };
    const turn = this.#chain.then(run, run);
    this.#chain = turn.catch(() => undefined);
    return turn;
  }

  async close(): Promise<void> {
    await this.#chain;
  }

  waitFor<T>(predicate: () => T | undefined | null | false, what = 'an agent condition', timeoutMs = 15_000): Promise<T> {
    return waitOn(this.#events, predicate, what, timeoutMs);
  }
}

/** Clean-ups run last-in first-out after the test: Lares closes before the fake Discord it talks to. */
export function cleanup(t: TestContext): (fn: () => unknown) => void {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    while (stack.length > 0) await stack.pop()!();
  });
  return (fn) => { stack.push(fn); };
}

/** A fake Discord and the real approval queue, both closed after the test (with `defer`red clean-ups, last first). */
export async function discordWithApprovals(t: TestContext): Promise<{ defer: (fn: () => unknown) => void; fake: FakeDiscord; approvals: TestApprovals }> {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const approvals = new TestApprovals();
  defer(() => approvals.close());
  return { defer, fake, approvals };
}

/** A promise with its resolve function outside, to hold a turn open. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => { open = resolve; });
  return { promise, open };
}

export class MemoryMeta implements DiscordStateStore {
  readonly values = new Map<string, string>();
  async getMeta(key: string): Promise<string | undefined> { return this.values.get(key); }
  async setMeta(key: string, value: string): Promise<void> { this.values.set(key, value); }
}

/** Log lines (parsed JSON) of a pino logger, and a way to wait for one. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly logger: Logger;
  readonly #events = new EventEmitter();
  constructor() {
    this.logger = pino({ level: 'debug' }, { write: (line: string) => { this.lines.push(JSON.parse(line)); this.#events.emit('change'); } });
  }
  has(event: string, extra: Record<string, unknown> = {}): boolean {
    return this.lines.some((l) => l.event === event && Object.entries(extra).every(([k, v]) => l[k] === v));
  }
  waitFor(event: string, extra: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<true> {
    return waitOn(this.#events, () => this.has(event, extra) || undefined, `log event ${event} ${JSON.stringify(extra)}`, timeoutMs);
  }
}

/** The real approval queue of `lares mcp` on a temp database, as an ApprovalsClient. */
export class TestApprovals {
  readonly dir = mkdtempSync(join(tmpdir(), 'lares-discord-approvals-'));
  readonly store = new SqliteStore(join(this.dir, 'approvals.db'));
  readonly events = new EventLog(this.store.toolState);
  /** every execution of an approved call: the tool and its arguments */
  readonly executed: Array<{ tool: string; args: Record<string, unknown> }> = [];
  readonly queue = new ApprovalQueue(this.store.toolState, this.events, {
    ttlMs: 60 * 60_000,
    execute: async (tool, args) => {
      this.executed.push({ tool, args });
      await this.hold;
      return { text: `ran ${tool} ${JSON.stringify(args)}: total 0`, isError: false };
    },
    // like the real runtime when set: "always allow" refused (e.g. a command with shell syntax)
    allowAlways: () => {
      if (this.alwaysRefusal) throw new ApprovalError(400, this.alwaysRefusal);
      return async () => undefined;
    },
  });
  alwaysRefusal: string | undefined;
  /** while set, an approved call runs until this settles (a long-running tool) */
  hold: Promise<void> | undefined;

  /** The in-process ApprovalsClient of `lares run`, over this queue and event log. */
  client(): ApprovalsClient {
    return createLocalApprovalsClient({ queue: this.queue, events: this.events } as unknown as LaresToolRuntime, { pollMs: 50 });
  }

  async close(): Promise<void> {
    this.events.close();
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Harness {
  fake: FakeDiscord;
  owner: FakeUser;
  agent: ScriptedAgent;
  store: MemoryMeta;
  logs: LogCapture;
  approvals?: TestApprovals;
  channel: DiscordChannel;
}

export async function startLares(h: Omit<Harness, 'channel' | 'logs' | 'store'> & { store?: MemoryMeta; logs?: LogCapture; allowed?: string[]; perchIntervalMs?: number }): Promise<Harness> {
  const store = h.store ?? new MemoryMeta();
  const logs = h.logs ?? new LogCapture();
  const channel = await startDiscordChannel({
    config: {
      discord: { botToken: h.fake.token, channelId: h.fake.channelId, ownerId: h.owner.id, allowedUserIds: h.allowed ?? [], apiUrl: h.fake.apiUrl },
      perchIntervalMinutes: 0,
    },
    agent: h.agent,
    store,
    logger: logs.logger,
    approvals: h.approvals?.client(),
    perchIntervalMs: h.perchIntervalMs ?? 0,
  });
  return { ...h, store, logs, channel };
}

function waitOn<T>(events: EventEmitter, predicate: () => T | undefined | null | false, what: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const check = () => {
      const value = predicate();
      if (value) { done(); resolve(value); }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); }, timeoutMs);
    const done = () => { clearTimeout(timer); events.off('change', check); };
    events.on('change', check);
    check();
  });
}
