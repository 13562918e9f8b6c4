// Approval cards, for every channel. Each pending approval is posted once in the channel (tool,
// the whole arguments, why it needs the owner, when it expires) with buttons (Approve / Deny /
// Always allow) and, on Discord, the ✅ ❌ 🔓 reactions too; only the owner's press or reaction
// decides. The decision goes to the approval queue (exactly once: a press after a decision made
// elsewhere, or after expiry, changes nothing and says so); the card is edited to show the
// outcome, the outcome is posted, and it is fed into the conversation as a new turn.
// The approval id ↔ message mapping is kept in the store's meta table under the channel's name,
// so a restart neither loses a card nor posts it twice, and requests decided elsewhere (terminal,
// CLI, console, the other channel) update their card.
import { randomUUID } from 'node:crypto';
import type { AgentBackend, TurnResult } from '../agent/types.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MemoryStore } from '../memory/store.ts';
import type { ApprovalsClient } from '../tools/approvals-client.ts';
import { DISCORD_MESSAGE_LIMIT } from './split-message.ts';
import { approvalOutcomeRef, outcomeForConversation } from '../agent/approval-outcome.ts';
import { parseCommand } from '../mcp-server/shell.ts';

export type ApprovalState = 'pending' | 'approved' | 'executed' | 'failed' | 'denied' | 'expired';

/** An event of the approval queue's stream (LaresEvent fits). */
export interface QueueEvent { id?: number; type: string; data: Record<string, unknown>; createdAt?: string }

/** What the bridge needs to know of an approval request (the queue's ApprovalRecord fits). */
export interface ApprovalView {
  id: string;
  tool: string;
  args?: Record<string, unknown>;
  reason?: string | null;
  status: ApprovalState | string;
  result?: { text: string; isError: boolean } | null;
  error?: string | null;
  denyReason?: string | null;
  expiresAt?: string | null;
}

/** What a button on a card does. */
export type ApprovalAction = 'approve' | 'deny' | 'always';

/** A card's button: the channel turns it into a Discord component or a Telegram inline button. */
export interface ApprovalButton { action: ApprovalAction; label: string; approvalId: string }

/** The button's data as sent to the platform and back (Telegram allows 64 bytes). */
export function approvalButtonData(action: ApprovalAction, approvalId: string): string {
  return `lares:${action}:${approvalId}`;
}

export function parseApprovalButtonData(data: string): { action: ApprovalAction; approvalId: string } | undefined {
  const match = /^lares:(approve|deny|always):([\w-]{1,40})$/.exec(data);
  return match ? { action: match[1] as ApprovalAction, approvalId: match[2] } : undefined;
}

/** Where the bridge speaks: the Lares channel. */
export interface ApprovalOutlet {
  /** posts (split if needed) and returns the message ids; buttons go on the (single) card message */
  post(content: string, options?: { replyTo?: string; buttons?: ApprovalButton[] }): Promise<string[]>;
  /** replaces a card's text and removes its buttons */
  edit(messageId: string, content: string): Promise<void>;
  /** channels without reactions leave it out */
  react?(messageId: string, emoji: string): Promise<void>;
}

export type MetaStore = Pick<MemoryStore, 'getMeta' | 'setMeta'> & Partial<Pick<MemoryStore, 'claimMeta'>>;

/** A claim older than this whose post never appeared (its worker died) is taken over. */
const STALE_CLAIM_MS = 120_000;

export const APPROVE_EMOJI = '✅';
export const DENY_EMOJI = '❌';
export const ALWAYS_EMOJI = '🔓';
/**
 * Whether "always allow this exact command" can be offered: only for a shell command that is
 * plain argv (the queue refuses to allowlist anything a shell would interpret, such as `&&`).
 */
export function canAlwaysAllow(view: Pick<ApprovalView, 'tool' | 'args'>): boolean {
  if (view.tool !== 'run_shell_command') return false;
  try { return parseCommand(String(view.args?.command ?? '')).shellSyntax.length === 0; } catch { return false; }
}

const openKey = (channel: string) => `${channel}.approvals.open`;
const metaKey = (channel: string, id: string) => `${channel}.approval.${id}`;

interface PostedApproval { messageId: string; tool: string; content: string; state: 'posted' | 'resolved'; always?: boolean }

export interface ApprovalBridgeOptions {
  approvals: ApprovalsClient;
  outlet: ApprovalOutlet;
  store: MetaStore;
  agent: AgentBackend;
  ownerId: string;
  logger: Logger;
  /** the channel's name: meta keys and log lines (default 'discord') */
  channel?: string;
  /** the channel's message limit (default Discord's 2,000) */
  limit?: number;
  /** add ✅ ❌ 🔓 reactions to each card (default: when the outlet can react) */
  reactions?: boolean;
  /** put Approve / Deny / Always allow buttons on each card (default true) */
  buttons?: boolean;
  /** posts the agent's answer to an outcome turn (the channel's outbox) */
  postAgentReply(result: TurnResult): Promise<void>;
  /** feed outcomes into the conversation as `source: 'approval'` turns (default true) */
  feedOutcomes?: boolean;
}

/** What a press did: `notice` for the presser; `explained` when the bridge already said it in the channel. */
export interface ButtonOutcome { decided: boolean; notice: string; explained?: boolean }

export class ApprovalBridge {
  readonly #o: ApprovalBridgeOptions;
  readonly #byMessage = new Map<string, string>();
  /** who this bridge is, for claims among several `lares run` workers sharing one database */
  readonly #workerId = randomUUID();
  readonly #locks = new Map<string, Promise<unknown>>();
  /** approvals a press or reaction is deciding now (with who marked it): a second press is answered at once */
  readonly #deciding = new Map<string, object>();
  readonly #turns = new Set<Promise<unknown>>();
  #stopped = false;
  readonly #channel: string;
  readonly #limit: number;

  constructor(options: ApprovalBridgeOptions) {
    this.#o = options;
    this.#channel = options.channel ?? 'discord';
    this.#limit = options.limit ?? DISCORD_MESSAGE_LIMIT;
  }

  /** Posts what is pending (once) and catches up on decisions made while Lares was away. */
  async start(): Promise<void> {
    await this.sync();
  }

  /**
   * Brings Discord in line with the queue: posts pending approvals not posted yet and finishes
   * requests decided meanwhile. Idempotent; the channel runs it periodically and after a
   * reconnect, so a request whose post failed (Discord briefly down) is still shown.
   */
  async sync(): Promise<void> {
    if (this.#stopped) return;
    const open = await this.#openIds();
    for (const id of open) {
      const posted = await this.#posted(id);
      if (posted) this.#byMessage.set(posted.messageId, id);
    }
    const pending = await this.#o.approvals.listPending();
    for (const view of pending) await this.ensurePosted(view);
    const pendingIds = new Set(pending.map((p) => p.id));
    for (const id of open) {
      if (pendingIds.has(id)) continue;
      try {
        const view = await this.#o.approvals.get(id);
        if (view.status !== 'pending' && view.status !== 'approved') await this.#lock(id, () => this.#finish(view));
      } catch (error) {
        this.#o.logger.warn({ event: 'approval_sync_failed', approvalId: id, err: errorMessage(error) }, 'could not read an approval decided while Lares was away');
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#locks.values(), ...this.#turns]);
  }

  /** Posts a pending approval unless it was posted before (now or in an earlier run). */
  ensurePosted(view: ApprovalView): Promise<void> {
    return this.#lock(view.id, async () => {
      const existing = await this.#posted(view.id);
      if (existing) { this.#byMessage.set(existing.messageId, view.id); return; }
      if (view.status !== 'pending') return;
      if (!(await this.#claim(view.id))) return;
      const reactions = this.#o.reactions ?? this.#o.outlet.react !== undefined;
      const buttons = this.#o.buttons ?? true;
      const content = formatApprovalRequest(view, this.#limit, { reactions, buttons });
      const always = canAlwaysAllow(view);
      const actions: ApprovalButton[] = [
        { action: 'approve', label: 'Approve', approvalId: view.id },
        { action: 'deny', label: 'Deny', approvalId: view.id },
        ...(always ? [{ action: 'always' as const, label: 'Always allow', approvalId: view.id }] : []),
      ];
      const [messageId] = await this.#o.outlet.post(content, buttons ? { buttons: actions } : {});
      // remembered before the reactions, so a crash in between never posts it again
      await this.#save(view.id, { messageId, tool: view.tool, content, state: 'posted', always });
      await this.#setOpen(view.id, true);
      this.#byMessage.set(messageId, view.id);
      this.#o.logger.info({ event: 'approval_posted', approvalId: view.id, tool: view.tool, messageId, channel: this.#channel }, `approval request posted in ${this.#channel}`);
      const emojis = reactions && this.#o.outlet.react ? [APPROVE_EMOJI, DENY_EMOJI, ...(always ? [ALWAYS_EMOJI] : [])] : [];
      for (const emoji of emojis) {
        try { await this.#o.outlet.react!(messageId, emoji); } catch (error) {
          this.#o.logger.warn({ event: 'approval_react_failed', approvalId: view.id, err: errorMessage(error) }, 'could not add a reaction to the approval message');
        }
      }
    });
  }

  /** Whether a Discord message is one of the approval requests. */
  isApprovalMessage(messageId: string): boolean {
    return this.#byMessage.has(messageId);
  }

  /** A reaction on any message: decides an approval when it is the owner's ✅ ❌ 🔓 on a request. */
  async handleReaction(messageId: string, emoji: string, userId: string): Promise<void> {
    const id = this.#byMessage.get(messageId);
    if (!id) return;
    const action: ApprovalAction | undefined = emoji === APPROVE_EMOJI ? 'approve' : emoji === DENY_EMOJI ? 'deny' : emoji === ALWAYS_EMOJI ? 'always' : undefined;
    if (userId !== this.#o.ownerId) {
      this.#o.logger.info({ event: 'approval_reaction_ignored', approvalId: id, userId, emoji }, 'ignored a reaction on an approval request: only the owner decides');
      return;
    }
    if (!action) return;
    await this.#decide(id, action, 'reaction');
  }

  /**
   * A button press on a card. Returns what to tell the presser (an ephemeral reply or a toast):
   * "not yours" for anyone but the owner, "already decided" or "expired" when the press came
   * late, "being decided" at once while another press is deciding it (its tool may run long), else
   * the outcome. Only the owner's first press on a pending request decides.
   */
  async handleButton(approvalId: string, action: ApprovalAction, userId: string, options: { beforeDecision?: () => Promise<unknown> } = {}): Promise<ButtonOutcome> {
    if (userId !== this.#o.ownerId) {
      this.#o.logger.info({ event: 'approval_press_ignored', approvalId, userId, action, channel: this.#channel }, 'ignored a button press on an approval request: only the owner decides');
      return { decided: false, notice: 'Not yours: only the owner decides approvals.' };
    }
    return this.#decide(approvalId, action, 'button', options.beforeDecision);
  }

  /**
   * The owner's decision, under the approval's lock; exactly once whatever arrives when. A second
   * press while the first is deciding (an approved tool may run for minutes) is answered at once:
   * waiting behind the lock would miss Discord's three seconds and Telegram's query lifetime.
   */
  #decide(id: string, action: ApprovalAction, how: 'reaction' | 'button', beforeDecision?: () => Promise<unknown>): Promise<ButtonOutcome> {
    // a reaction has no deadline: it waits its turn behind the lock
    if (how === 'button' && this.#deciding.has(id)) {
      this.#o.logger.info({ event: 'approval_press_busy', approvalId: id, action, how }, 'approval is being decided; second press answered at once');
      return Promise.resolve({ decided: false, notice: 'This request is being decided already: the outcome follows.' });
    }
    const mark = {};
    this.#deciding.set(id, mark);
    const release = () => { if (this.#deciding.get(id) === mark) this.#deciding.delete(id); };
    return this.#decideLocked(id, action, how, release, beforeDecision).finally(release);
  }

  #decideLocked(id: string, action: ApprovalAction, how: 'reaction' | 'button', release: () => void, beforeDecision?: () => Promise<unknown>): Promise<ButtonOutcome> {
    return this.#lock(id, async (): Promise<ButtonOutcome> => {
      const posted = await this.#posted(id);
      if (!posted || posted.state === 'resolved') {
        this.#o.logger.info({ event: 'approval_reaction_late', approvalId: id, action, how }, 'approval already decided; press or reaction ignored');
        const now = await this.#o.approvals.get(id).catch(() => undefined);
        return { decided: false, notice: lateNotice(now?.status) };
      }
      // requests posted by an older Lares have no `always`: the tool decides as it did then
      if (action === 'always' && !(posted.always ?? posted.tool === 'run_shell_command')) {
        this.#o.logger.info({ event: 'approval_reaction_ignored', approvalId: id, action }, '"always allow" is not offered for this request');
        return { decided: false, notice: '"Always allow" is not offered for this request.' };
      }
      // decided elsewhere or expired while its event is still on the way: show it, change nothing
      const current = await this.#o.approvals.get(id).catch(() => undefined);
      if (current && current.status !== 'pending') {
        this.#o.logger.info({ event: 'approval_reaction_late', approvalId: id, action, how, status: current.status }, 'approval no longer pending; press or reaction ignored');
        if (current.status !== 'approved') await this.#finish(current);
        return { decided: false, notice: current.status === 'approved' ? 'Already approved elsewhere; it is running.' : lateNotice(current.status) };
      }
      // the platform wants an answer within seconds; running the tool may take longer
      if (beforeDecision) await beforeDecision().catch((error: unknown) => this.#o.logger.warn({ event: 'approval_ack_failed', approvalId: id, err: errorMessage(error) }, 'could not acknowledge the button press'));
      const where = this.#channel === 'discord' ? 'Discord' : this.#channel === 'telegram' ? 'Telegram' : this.#channel;
      let view: ApprovalView;
      try {
        view = action === 'deny'
          ? await this.#o.approvals.deny(id, `denied by the owner on ${where}`)
          : await this.#o.approvals.approve(id, { always: action === 'always' });
        this.#o.logger.info({ event: 'approval_decided', approvalId: id, status: view.status, via: this.#channel, how }, `approval decided by the owner on ${where}`);
      } catch (error) {
        // most often a 409: decided elsewhere first, or expired; show what it is now
        this.#o.logger.warn({ event: 'approval_decision_failed', approvalId: id, err: errorMessage(error) }, 'the approval queue refused the decision');
        try { view = await this.#o.approvals.get(id); } catch { return { decided: false, notice: `That decision was not recorded: ${truncate(errorMessage(error), 150)}` }; }
        if (view.status === 'approved') return { decided: false, notice: 'Already approved elsewhere; it is running.' };
        if (view.status === 'pending') {
          // still waiting (and no longer being decided): tell the owner why the press did nothing, or it looks ignored
          release();
          try {
            await this.#o.outlet.post(`⚠️ That decision was not recorded: ${truncate(errorMessage(error), 500)}\nThe request is still waiting: ${how === 'button' ? 'press Approve or Deny' : `react ${APPROVE_EMOJI} to approve or ${DENY_EMOJI} to deny`}.`, { replyTo: posted.messageId });
          } catch (postError) {
            this.#o.logger.warn({ event: 'approval_outcome_post_failed', approvalId: id, err: errorMessage(postError) }, 'could not explain the refused decision');
          }
          return { decided: false, notice: `That decision was not recorded: ${truncate(errorMessage(error), 150)}`, explained: true };
        }
        await this.#finish(view);
        return { decided: false, notice: lateNotice(view.status) };
      }
      await this.#finish(view);
      return { decided: true, notice: STATUS_TEXT[view.status] ?? view.status };
    });
  }

  /** An approval_needed / approval_result event (events may be replayed: both are idempotent). */
  async handleEvent(event: QueueEvent): Promise<void> {
    if (this.#stopped) return;
    if (event.type !== 'approval_needed' && event.type !== 'approval_result') return;
    const id = String(event.data.id ?? '');
    if (!id) return;
    try {
      // the queue's current state decides: a replayed request may have been decided since
      let view: ApprovalView;
      try {
        view = await this.#o.approvals.get(id);
      } catch (error) {
        if (event.type === 'approval_needed') throw error;
        view = {
          id, tool: String(event.data.tool ?? ''), status: String(event.data.status ?? ''),
          result: (event.data.result as ApprovalView['result']) ?? null, denyReason: (event.data.reason as string | null) ?? null,
        };
      }
      if (view.status === 'pending') { await this.ensurePosted(view); return; }
      if (view.status === 'approved') return; // running now: its approval_result follows
      await this.#lock(id, async () => {
        const posted = await this.#posted(id);
        if (posted?.state === 'posted') await this.#finish(view);
      });
    } catch (error) {
      this.#o.logger.error({ event: 'approval_event_failed', type: event.type, approvalId: id, err: errorMessage(error) }, `could not bring an approval event to ${this.#channel}`);
    }
  }

  /** Under the approval's lock: edits the request, posts the outcome, feeds it to the conversation. */
  async #finish(view: ApprovalView): Promise<void> {
    const posted = await this.#posted(view.id);
    if (!posted || posted.state === 'resolved') return;
    await this.#save(view.id, { ...posted, state: 'resolved' });
    await this.#setOpen(view.id, false);
    try {
      await this.#o.outlet.edit(posted.messageId, markDecided(posted.content, view, this.#limit));
    } catch (error) {
      this.#o.logger.warn({ event: 'approval_edit_failed', approvalId: view.id, err: errorMessage(error) }, 'could not update the approval message');
    }
    try {
      await this.#o.outlet.post(formatApprovalOutcome(view, this.#limit), { replyTo: posted.messageId });
    } catch (error) {
      this.#o.logger.warn({ event: 'approval_outcome_post_failed', approvalId: view.id, err: errorMessage(error) }, 'could not post the approval outcome');
    }
    if (this.#o.feedOutcomes === false) return;
    const turn = this.#o.agent.send({
      source: 'approval',
      content: outcomeForConversation(view),
      sourceRef: approvalOutcomeRef(view.id),
      metadata: { approvalId: view.id, tool: view.tool, status: view.status },
    }).then((result) => this.#o.postAgentReply(result)).catch((error: unknown) => {
      this.#o.logger.error({ event: 'approval_turn_failed', approvalId: view.id, err: errorMessage(error) }, 'the approval outcome turn failed');
    });
    this.#turns.add(turn);
    void turn.finally(() => this.#turns.delete(turn));
  }

  #lock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.#locks.set(id, settled);
    void settled.then(() => { if (this.#locks.get(id) === settled) this.#locks.delete(id); });
    return next;
  }

  /**
   * Workers sharing a database each see every pending approval: only the one that claims it
   * posts it. Stores without claims (a single process) always post.
   */
  async #claim(id: string): Promise<boolean> {
    const store = this.#o.store;
    if (!store.claimMeta) return true;
    const key = `${metaKey(this.#channel, id)}.claim`;
    const mine = JSON.stringify({ by: this.#workerId, at: Date.now() });
    if (await store.claimMeta(key, mine)) return true;
    let claim: { by?: string; at?: number } = {};
    try { claim = JSON.parse((await store.getMeta(key)) ?? '{}'); } catch { /* a broken claim is stale */ }
    if (claim.by === this.#workerId || Date.now() - (claim.at ?? 0) > STALE_CLAIM_MS) {
      await store.setMeta(key, mine);
      return true;
    }
    this.#o.logger.info({ event: 'approval_claimed_elsewhere', approvalId: id }, 'another worker is posting this approval');
    return false;
  }

  async #posted(id: string): Promise<PostedApproval | undefined> {
    const raw = await this.#o.store.getMeta(metaKey(this.#channel, id));
    if (!raw) return undefined;
    try { return JSON.parse(raw) as PostedApproval; } catch { return undefined; }
  }

  async #save(id: string, posted: PostedApproval): Promise<void> {
    await this.#o.store.setMeta(metaKey(this.#channel, id), JSON.stringify(posted));
  }

  async #openIds(): Promise<string[]> {
    const raw = await this.#o.store.getMeta(openKey(this.#channel));
    try { return raw ? (JSON.parse(raw) as string[]) : []; } catch { return []; }
  }

  async #setOpen(id: string, open: boolean): Promise<void> {
    const ids = new Set(await this.#openIds());
    if (open) ids.add(id); else ids.delete(id);
    await this.#o.store.setMeta(openKey(this.#channel), JSON.stringify([...ids]));
  }
}

/**
 * The card as posted: the whole call (tool, every argument, why, when it expires) in one message
 * of the channel's limit; only arguments too long for one message are shortened, and say so.
 * The text is the channels' common Markdown (Telegram's sender turns it into safe HTML).
 */
export function formatApprovalRequest(view: ApprovalView, limit = DISCORD_MESSAGE_LIMIT, how: { reactions?: boolean; buttons?: boolean } = { reactions: true, buttons: true }): string {
  const alwaysOk = canAlwaysAllow(view);
  const head = `🔐 **Approval needed** · \`${view.id}\`\nTool: \`${view.tool}\``;
  const why = view.reason ? `\nWhy: ${truncate(view.reason, 300)}` : '';
  const expires = view.expiresAt ? `\nExpires: ${view.expiresAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}` : '';
  const ways = [
    how.buttons ? `press Approve or Deny${alwaysOk ? ' (Always allow: this exact command from now on)' : ''}` : '',
    how.reactions ? `react ${APPROVE_EMOJI} to approve, ${DENY_EMOJI} to deny${alwaysOk ? `, ${ALWAYS_EMOJI} to always allow this exact command` : ''}` : '',
  ].filter(Boolean).join(', or ');
  const footer = `\n${ways.charAt(0).toUpperCase()}${ways.slice(1)}.`;
  const fixed = `${head}${why}${expires}\nArguments:\n\`\`\`json\n\n\`\`\`${footer}`;
  const args = JSON.stringify(view.args ?? {}, null, 2).replace(/```/g, '`\u200b`\u200b`');
  return `${head}${why}${expires}\nArguments:\n\`\`\`json\n${truncate(args, limit - fixed.length - 40)}\n\`\`\`${footer}`;
}

const STATUS_LINE: Record<string, string> = {
  executed: `${APPROVE_EMOJI} **Approved** — it ran.`,
  failed: '⚠️ **Approved** — it ran and failed.',
  denied: `${DENY_EMOJI} **Denied** — it did not run.`,
  expired: '⌛ **Expired** — no decision in time; it did not run.',
};

/** Short outcome texts for a button's acknowledgement. */
const STATUS_TEXT: Record<string, string> = {
  executed: 'Approved: it ran.',
  failed: 'Approved: it ran and failed.',
  denied: 'Denied: it did not run.',
  expired: 'Expired: it did not run.',
};

function lateNotice(status: string | undefined): string {
  if (status === 'expired') return 'This request has expired: nothing was changed.';
  if (status) return `Already decided (${status}): nothing was changed.`;
  return 'This request is no longer open: nothing was changed.';
}

function markDecided(content: string, view: ApprovalView, limit = DISCORD_MESSAGE_LIMIT): string {
  const lines = content.split('\n');
  const status = STATUS_LINE[view.status] ?? `**${view.status}**`;
  const body = lines.slice(0, -1).join('\n').replace('🔐 **Approval needed**', '🔐 Approval');
  return truncate(`${body}\n${status}`, limit);
}

export function formatApprovalOutcome(view: ApprovalView, limit = DISCORD_MESSAGE_LIMIT): string {
  const head = `${STATUS_LINE[view.status] ?? `**${view.status}**`} \`${view.tool}\` (\`${view.id}\`)`;
  if (view.status === 'denied' && view.denyReason) return `${head}\nReason: ${truncate(view.denyReason, 500)}`;
  const output = view.status === 'failed' ? (view.error ?? view.result?.text) : view.result?.text;
  if (!output) return head;
  const escaped = output.replace(/```/g, '`\u200b`\u200b`');
  return `${head}\n\`\`\`\n${truncate(escaped, limit - head.length - 20)}\n\`\`\``;
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const keep = Math.max(0, max - 32);
  return `${text.slice(0, keep)}… (${text.length - keep} more characters)`;
}
