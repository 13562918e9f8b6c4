// The Lares tools with their policy and approval queue, independent of transport:
// the MCP server (HTTP or stdio), the REST routes and the in-process provider all
// call into one LaresToolRuntime.
import { homedir } from 'node:os';
import { z } from 'zod';
import type { Config } from '../config/config.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import { openStore } from '../memory/open-store.ts';
import type { MemoryStore } from '../memory/store.ts';
import { ApprovalError, ApprovalQueue, type ApprovalRecord, type ToolRunResult } from './approvals.ts';
import { EventLog } from './events.ts';
import { importLegacyApprovalDb } from './legacy-approval-db.ts';
import { EVENT_CURSOR_KEYS } from '../channels/event-cursor.ts';
import { NotesVault } from './notes.ts';
import { PathGuard } from './paths.ts';
import { TOOL_POLICY, decideApproval, isLaresToolName, type LaresToolName, type PolicyAnnotations } from './policy.ts';
import { Scheduler } from './scheduler.ts';
import { ShellAllowlist, parseCommand } from './shell.ts';
import { TOOL_SPECS, type ToolDeps } from './tool-specs.ts';
import { ToolInputError } from './tool-error.ts';

export interface LaresToolDefinition {
  name: LaresToolName;
  description: string;
  inputSchema: { type: 'object'; properties?: Record<string, unknown>; required?: string[]; [key: string]: unknown };
  annotations: PolicyAnnotations;
  /** the zod shape (the MCP server registers it; the SDK validates with it) */
  inputShape: z.ZodRawShape;
}

export type ToolCallResult =
  | { kind: 'done'; text: string; isError: boolean }
  | { kind: 'pending'; approval: ApprovalRecord };

export interface RuntimeOptions {
  /** run the job scheduler in this process (default true) */
  startScheduler?: boolean;
}

/** Replay after a reconnect needs only recent events; a month is plenty. */
const EVENT_RETENTION_MS = 30 * 86_400_000;

export class LaresToolRuntime {
  /** the memory store that keeps the queue, events, jobs and allowlist (toolState) */
  readonly store: MemoryStore;
  readonly events: EventLog;
  readonly queue: ApprovalQueue;
  readonly scheduler: Scheduler;
  readonly allowlist: ShellAllowlist;
  readonly version: string;
  readonly #deps: ToolDeps;
  readonly #ownsStore: boolean;
  #expiryTimer?: NodeJS.Timeout;

  /**
   * The tools on the configured store: `store` when the caller has it open (it stays the
   * caller's), else opened here (and closed by close()). With PostgreSQL nothing is written to
   * any local file.
   */
  static async open(config: Config, options: RuntimeOptions & { version?: string; store?: MemoryStore } = {}): Promise<LaresToolRuntime> {
    const store = options.store ?? await openStore(config);
    let runtime: LaresToolRuntime;
    try {
      runtime = new LaresToolRuntime(config, store, !options.store, options);
      // earlier versions kept the queue in a SQLite file: LARES_APPROVAL_DB, or SQLITE_DB_PATH beside PostgreSQL memory
      if (config.mcp.legacyApprovalDbPath) await importLegacyApprovalDb(config.mcp.legacyApprovalDbPath, store, 'LARES_APPROVAL_DB');
      else if (store.kind === 'postgres') await importLegacyApprovalDb(config.sqlitePath, store, 'SQLITE_DB_PATH');
      // channels' stored positions must not point past the log (a log that started again, an old export)
      const cursors = await Promise.all(EVENT_CURSOR_KEYS.map((key) => store.getMeta(key)));
      await store.toolState.ensureEventIdsAbove(Math.max(0, ...cursors.map((c) => Number(c ?? 0) || 0)));
      await store.toolState.pruneEvents(new Date(Date.now() - EVENT_RETENTION_MS).toISOString());
      await runtime.queue.failInterrupted();
    } catch (error) {
      if (!options.store) await store.close().catch(() => undefined);
      throw error;
    }
    runtime.#startTimers(options.startScheduler !== false);
    return runtime;
  }

  private constructor(config: Config, store: MemoryStore, ownsStore: boolean, options: { version?: string }) {
    this.version = options.version ?? '0.1.0';
    this.store = store;
    this.#ownsStore = ownsStore;
    const state = store.toolState;
    this.events = new EventLog(state);
    this.allowlist = new ShellAllowlist(state, config.mcp.allowlistFile);
    this.scheduler = new Scheduler(state, this.events);
    const files = new PathGuard(config.mcp.allowedPaths, config.mcp.blockedFiles);
    if (config.mcp.allowedPaths.length > files.roots.length) {
      log().warn({ allowed: config.mcp.allowedPaths, usable: files.roots }, 'some LARES_ALLOWED_PATHS entries do not exist and allow nothing');
    }
    this.#deps = { files, vault: new NotesVault(config.mcp.vaultPath, config.mcp.blockedFiles), scheduler: this.scheduler, allowlist: this.allowlist };
    this.queue = new ApprovalQueue(state, this.events, {
      ttlMs: config.mcp.approvalTtlMs,
      execute: (tool, args) => this.execute(tool, args),
      allowAlways: (record) => {
        if (record.tool !== 'run_shell_command') throw new ApprovalError(400, `"always allow" applies to shell commands only, not ${record.tool}`);
        const parsed = parseCommand(String(record.args.command));
        if (parsed.shellSyntax.length > 0) throw new ApprovalError(400, `"always allow" cannot cover a command with shell syntax (${parsed.shellSyntax.join(', ')}); approve it once instead`);
        return () => this.allowlist.addExact(parsed.argv, record.id);
      },
    });
  }

  #startTimers(scheduler: boolean): void {
    if (scheduler) this.scheduler.start();
    // every minute: expire what waited too long, and fail calls a worker that died was running
    this.#expiryTimer = setInterval(() => {
      this.queue.expireDue().then(() => this.queue.failInterrupted()).catch(() => { /* next time */ });
    }, 60_000);
    this.#expiryTimer.unref();
  }

  /** the first allowed directory, or the home directory: where commands run by default */
  get defaultWorkingDir(): string { return this.#deps.files.roots[0] ?? homedir(); }

  definitions(): LaresToolDefinition[] {
    return (Object.keys(TOOL_SPECS) as LaresToolName[]).map((name) => {
      const spec = TOOL_SPECS[name];
      const json = z.toJSONSchema(z.object(spec.input), { io: 'input' }) as Record<string, unknown>;
      delete json.$schema;
      return { name, description: spec.description, inputSchema: { ...json, type: 'object' }, annotations: TOOL_POLICY[name].annotations, inputShape: spec.input };
    });
  }

  /** Validates arguments; a ToolInputError names every bad field. */
  validate(name: string, args: unknown): { name: LaresToolName; args: Record<string, unknown> } {
    if (!isLaresToolName(name)) throw new ToolInputError(`unknown tool ${name}; known tools: ${Object.keys(TOOL_SPECS).join(', ')}`);
    const parsed = z.object(TOOL_SPECS[name].input).safeParse(args ?? {});
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => `${i.path.join('.') || '(arguments)'}: ${i.message}`);
      throw new ToolInputError(`invalid arguments for ${name}: ${fields.join('; ')}`);
    }
    return { name, args: parsed.data as Record<string, unknown> };
  }

  /** A call from the agent: runs at once, or is queued for approval as the policy says. */
  async call(name: string, rawArgs: unknown): Promise<ToolCallResult> {
    try {
      const { name: tool, args } = this.validate(name, rawArgs);
      const spec = TOOL_SPECS[tool];
      const facts = spec.facts ? await spec.facts(args, this.#deps) : {};
      const decision = decideApproval(tool, facts);
      if (decision.needsApproval) return { kind: 'pending', approval: await this.queue.enqueue(tool, args, decision.reason) };
      const result = await this.execute(tool, args);
      return { kind: 'done', ...result };
    } catch (error) {
      return { kind: 'done', text: errorMessage(error), isError: true };
    }
  }

  /** Runs a call without asking the policy: only for calls the owner approved (or the policy allowed). */
  async execute(name: string, rawArgs: unknown): Promise<ToolRunResult> {
    try {
      const { name: tool, args } = this.validate(name, rawArgs);
      const text = await TOOL_SPECS[tool].run(args, this.#deps);
      return { text, isError: false };
    } catch (error) {
      if (!(error instanceof ToolInputError)) log().warn({ err: error, tool: name }, 'tool failed');
      return { text: errorMessage(error), isError: true };
    }
  }

  /** POST /approvals: queue a call for the owner whatever the policy says (the seed's executor does this). */
  request(name: string, rawArgs: unknown): Promise<ApprovalRecord> {
    const { name: tool, args } = this.validate(name, rawArgs);
    return this.queue.enqueue(tool, args, 'requested for approval by the client');
  }

  async close(): Promise<void> {
    this.scheduler.stop();
    if (this.#expiryTimer) clearInterval(this.#expiryTimer);
    this.events.close();
    if (this.#ownsStore) await this.store.close().catch(() => undefined);
  }
}

/** The text a model sees for a queued call: it must not mistake it for done. */
export function pendingText(approval: ApprovalRecord): string {
  return [
    `PENDING APPROVAL — NOT DONE. The call ${approval.tool} was NOT executed.`,
    `It is waiting for the owner's approval as request ${approval.id} (why: ${approval.reason}).`,
    `Do not assume it happened. The outcome (result or denial) will arrive in a later message. The request expires at ${approval.expiresAt}.`,
  ].join('\n');
}

export function pendingStructured(approval: ApprovalRecord): Record<string, unknown> {
  return { status: 'pending_approval', approvalId: approval.id, tool: approval.tool, reason: approval.reason, expiresAt: approval.expiresAt };
}
