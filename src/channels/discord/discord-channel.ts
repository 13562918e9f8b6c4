// The Discord channel of `lares run`: discord.js in, agent turns, replies out.
// - listens in DISCORD_CHANNEL_ID and in direct messages from the owner; accepts the owner and
//   DISCORD_ALLOWED_USER_IDS; everyone and everything else (bots, itself) is ignored with a log line
// - each message becomes a turn ("[author at time] text" + images + small text files), handed
//   to the agent in arrival order (the agent runs one turn at a time); typing while it works
// - replies are split under 2,000 characters and sent as replies, in order
// - the last answered message id is stored; on start (and after a reconnect that could not
//   resume) the messages after it are fetched and answered, so nothing said is lost
// - approval cards with buttons and reactions (../approval-bridge.ts), perch time and scheduled jobs (perch.ts)
import {
  ActionRowBuilder, ButtonBuilder, ButtonStyle, ChannelType, Client, Events, GatewayIntentBits, MessageFlags, Partials,
  type Interaction, type Message, type MessageReaction, type PartialMessageReaction, type PartialUser, type SendableChannels, type User,
} from 'discord.js';
import type { AgentBackend, TurnInput, TurnResult } from '../../agent/types.ts';
import type { Config } from '../../config/config.ts';
import { LaresError, errorMessage } from '../../errors.ts';
import type { ContentBlock } from '../../llm/content.ts';
import type { Logger } from '../../log.ts';
import type { MemoryStore } from '../../memory/store.ts';
import { nowIso } from '../../time.ts';
import type { ApprovalSubscription, ApprovalsClient } from '../../tools/approvals-client.ts';
import { ApprovalBridge, approvalButtonData, parseApprovalButtonData, type ApprovalButton, type QueueEvent } from '../approval-bridge.ts';
import type { Channel, ChannelName } from '../channel.ts';
import { DiscordTools, type DiscordToolOutlet } from './discord-tools.ts';
import { startJobRunner, startPerch, type JobRunner, type PerchLoop } from './perch.ts';
import { splitMessage } from './split-message.ts';
import { drainTurns } from '../drain.ts';
import { EventCursor, eventCursorKey } from '../event-cursor.ts';

/** The store as the channel uses it: small state, and (optionally) the history's source refs. */
export type DiscordStateStore = Pick<MemoryStore, 'getMeta' | 'setMeta'> & Partial<Pick<MemoryStore, 'findMessageBySourceRef' | 'claimMeta'>>;

export interface DiscordChannelOptions {
  config: Pick<Config, 'discord' | 'perchIntervalMinutes'>;
  agent: AgentBackend;
  store: DiscordStateStore;
  logger: Logger;
  /** the approval queue; without it no approvals are posted and no jobs arrive */
  approvals?: ApprovalsClient;
  /** the discord_* tool provider already registered with the agent; attached once connected */
  tools?: DiscordTools;
  /** overrides LARES_PERCH_INTERVAL_MINUTES (tests); 0 disables the timer */
  perchIntervalMs?: number;
  /** feed approval outcomes into the conversation (default true) */
  feedApprovalOutcomes?: boolean;
  /** how long close() waits for turns in progress (default 120 s) */
  closeGraceMs?: number;
  /** where perch and job replies go (the home channel); default this channel */
  postUnprompted?(text: string): Promise<unknown>;
  /** run perch time (its timer) and scheduled jobs here (default true; lares run: one channel does) */
  schedule?: boolean;
  /** told of every accepted owner message and button press (the home-channel router) */
  onOwnerActivity?(channel: ChannelName): void;
}

export interface DiscordChannel extends Channel {
  readonly client: Client;
  readonly tools: DiscordTools;
  readonly perch: PerchLoop;
  readonly jobs: JobRunner;
  readonly approvalBridge: ApprovalBridge | undefined;
  /** the gateway is connected and ready */
  isConnected(): boolean;
  /** posts in the Lares channel (split if long); returns the message ids */
  post(text: string, options?: { replyTo?: string; buttons?: ApprovalButton[] }): Promise<string[]>;
  /** stops taking messages, waits for the turns in progress to be answered, disconnects */
  close(): Promise<void>;
}

/** Image types Claude accepts, and the largest image passed on (Claude's own limit is 5 MB). */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const MAX_TEXT_ATTACHMENT_BYTES = 100 * 1024;
const TEXT_EXTENSIONS = /\.(txt|md|markdown|json|csv|tsv|log|ya?ml|toml|ini|xml|html?|css|js|mjs|cjs|ts|tsx|jsx|py|rb|go|rs|java|kt|c|h|cpp|hpp|cs|sh|bash|zsh|sql|diff|patch)$/i;
const TYPING_REFRESH_MS = 8000;
const MAX_REMEMBERED_IDS = 5000;
const CATCH_UP_PAGES = 20;
/** how long close() (SIGTERM) waits for the turns in progress; lares.service's TimeoutStopSec must exceed it */
export const CLOSE_GRACE_MS = 120_000;
/** how often pending approvals are re-checked against Discord (a post may have failed) */
const APPROVAL_SYNC_MS = 60_000;

const lastSeenKey = (channelId: string) => `discord.last_seen.${channelId}`;
const DM_CHANNEL_KEY = 'discord.owner_dm_channel';
/** the id of the last approval-queue event handled, so events from while Lares was down are replayed */
const EVENT_CURSOR_KEY = eventCursorKey('discord');

export async function startDiscordChannel(options: DiscordChannelOptions): Promise<DiscordChannel> {
  const { botToken, channelId, ownerId } = options.config.discord;
  const missing = [!botToken && 'DISCORD_BOT_TOKEN', !channelId && 'DISCORD_CHANNEL_ID', !ownerId && 'DISCORD_OWNER_ID'].filter(Boolean);
  if (missing.length > 0) {
    throw new LaresError('CONFIG_INVALID', `the Discord channel needs ${missing.join(', ')}: set ${missing.length === 1 ? 'it' : 'them'} in .env (the bot token from the Discord developer portal, the channel id and your user id from Discord with developer mode on)`);
  }
  const channel = new DiscordChannelImpl(options, botToken!, channelId!, ownerId!);
  await channel.start();
  return channel;
}

class DiscordChannelImpl implements DiscordChannel {
  readonly name = 'discord' as const;
  readonly client: Client;
  readonly tools: DiscordTools;
  perch!: PerchLoop;
  jobs!: JobRunner;
  approvalBridge: ApprovalBridge | undefined;

  readonly #o: DiscordChannelOptions;
  readonly #token: string;
  readonly #channelId: string;
  readonly #ownerId: string;
  readonly #allowed: Set<string>;
  readonly #log: Logger;
  /** message id → channel id of every message Lares received or sent (the tools' whitelist) */
  readonly #seen = new Map<string, string>();
  /** ids already handed to the agent (live and catch-up may both see a message) */
  readonly #handled = new Set<string>();
  readonly #lastSeen = new Map<string, bigint>();
  readonly #inflight = new Set<Promise<unknown>>();
  /** messages are prepared and handed to the agent one at a time, in order */
  #intake: Promise<void> = Promise.resolve();
  /** what is posted goes out in order */
  #outbox: Promise<unknown> = Promise.resolve();
  #accepting = false;
  #readyOnce = false;
  #closed = false;
  #subscription: ApprovalSubscription | undefined;
  #eventCursor?: EventCursor;
  #firstRunSince: string | undefined;
  #dmChannelId: string | undefined;
  #approvalSync: NodeJS.Timeout | undefined;

  constructor(options: DiscordChannelOptions, token: string, channelId: string, ownerId: string) {
    this.#o = options;
    this.#token = token;
    this.#channelId = channelId;
    this.#ownerId = ownerId;
    this.#allowed = new Set([ownerId, ...options.config.discord.allowedUserIds]);
    this.#log = options.logger.child({ component: 'discord' });
    this.tools = options.tools ?? new DiscordTools();
    const api = options.config.discord.apiUrl;
    this.client = new Client({
      intents: [
        GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent,
        GatewayIntentBits.GuildMessageReactions, GatewayIntentBits.DirectMessages, GatewayIntentBits.DirectMessageReactions,
      ],
      // DM channels and messages from before this run (approval requests) arrive as partials
      partials: [Partials.Channel, Partials.Message, Partials.Reaction, Partials.User],
      // the model's text never pings @everyone or roles
      allowedMentions: { parse: [], repliedUser: true },
      ...(api ? { rest: { api } } : {}),
    });
  }

  async start(): Promise<void> {
    const client = this.client;
    client.on(Events.MessageCreate, (message) => this.#onMessage(message));
    client.on(Events.MessageReactionAdd, (reaction, user) => { void this.#onReaction(reaction, user); });
    client.on(Events.InteractionCreate, (interaction) => { void this.#onInteraction(interaction); });
    client.on(Events.ShardReady, () => {
      // a new session (not a resume) may have missed messages: fetch what came after the last one
      if (this.#readyOnce) { this.#queueCatchUp('reconnected'); this.#syncApprovals(); }
    });
    client.on(Events.ShardDisconnect, (event) => this.#log.warn({ event: 'discord_disconnected', code: event.code }, 'Discord gateway closed and will not reconnect'));
    client.on(Events.ShardReconnecting, () => this.#log.info({ event: 'discord_reconnecting' }, 'reconnecting to the Discord gateway'));
    client.on(Events.ShardResume, (_id, replayed) => this.#log.info({ event: 'discord_resumed', replayed }, 'Discord session resumed'));
    client.on(Events.Error, (error) => this.#log.error({ event: 'discord_error', err: errorMessage(error) }, 'Discord client error'));
    client.on(Events.Warn, (message) => this.#log.warn({ event: 'discord_warning' }, message));

    const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
    try {
      await client.login(this.#token);
    } catch (error) {
      const text = errorMessage(error);
      const hint = /token/i.test(text) ? 'Discord refused DISCORD_BOT_TOKEN: copy the bot token again from the developer portal (Bot → Reset Token)'
        : /intent/i.test(text) ? 'Discord refused the intents: enable "Message Content Intent" for the bot in the developer portal (Bot → Privileged Gateway Intents)'
          : 'could not connect to Discord';
      throw new LaresError('DISCORD_ERROR', `${hint} (${text})`, { cause: error });
    }
    await ready;
    // Missed messages are queued before any live one (same tick), so everything is answered in order.
    this.#readyOnce = true;
    this.#accepting = true;
    this.#queueCatchUp('start');
    const me = client.user!;
    this.#log.info({ event: 'discord_ready', user: me.username, userId: me.id, channelId: this.#channelId }, 'connected to Discord');
    try {
      await this.#sendableChannel(this.#channelId);
    } catch (error) {
      this.#accepting = false;
      this.#closed = true;
      await client.destroy();
      throw new LaresError('CONFIG_INVALID', `DISCORD_CHANNEL_ID ${this.#channelId} is not a text channel the bot can see (${errorMessage(error)}): invite the bot to the server and check the id`, { cause: error });
    }

    this.tools.attach(this.#toolOutlet());
    const post = this.#o.postUnprompted ?? ((text: string) => this.post(text));
    this.perch = startPerch({
      agent: this.#o.agent,
      intervalMs: this.#o.schedule === false ? 0 : this.#o.perchIntervalMs ?? this.#o.config.perchIntervalMinutes * 60_000,
      post,
      logger: this.#log,
    });
    this.jobs = startJobRunner({ agent: this.#o.agent, post, logger: this.#log });
    if (this.#o.approvals) {
      const approvals = this.#o.approvals;
      this.approvalBridge = new ApprovalBridge({
        approvals,
        outlet: {
          post: (content, opts) => this.post(content, opts),
          edit: (messageId, content) => this.#edit(this.#channelId, messageId, content),
          react: (messageId, emoji) => this.#react(this.#channelId, messageId, emoji),
        },
        store: this.#o.store,
        agent: this.#o.agent,
        ownerId: this.#ownerId,
        logger: this.#log,
        // the answer to an outcome goes home (where the owner is), like perch and jobs
        postAgentReply: (result) => (this.#o.postUnprompted && result.reply.trim() !== '' ? this.#o.postUnprompted(result.reply).then(() => undefined) : this.#postTurnReply(result)),
        feedOutcomes: this.#o.feedApprovalOutcomes,
      });
      // Events are replayed from the stored cursor, so reminders fired while Lares was down are
      // posted. The very first run replays everything too (approvals are idempotent) but skips
      // reminders older than itself: they were due before Lares ever spoke on Discord.
      const stored = await this.#o.store.getMeta(EVENT_CURSOR_KEY);
      this.#firstRunSince = stored === undefined ? nowIso() : undefined;
      if (stored === undefined) await this.#o.store.setMeta(EVENT_CURSOR_KEY, '0');
      this.#eventCursor = new EventCursor(this.#o.store, EVENT_CURSOR_KEY, Number(stored ?? 0) || 0);
      this.#subscription = approvals.subscribe((event) => this.#onQueueEvent(event), {
        lastEventId: this.#eventCursor.position,
        onStatus: (status, detail) => this.#log.info({ event: 'approval_events', status, detail }, `approval event stream ${status}`),
      });
      try {
        await this.approvalBridge.start();
      } catch (error) {
        this.#log.error({ event: 'approval_bridge_start_failed', err: errorMessage(error) }, 'could not read pending approvals; new ones will still be posted');
      }
      this.#approvalSync = setInterval(() => this.#syncApprovals(), APPROVAL_SYNC_MS);
      this.#approvalSync.unref();
    }
    await this.#intake;
  }

  isConnected(): boolean {
    return !this.#closed && this.client.isReady();
  }

  post(text: string, options: { replyTo?: string; buttons?: ApprovalButton[] } = {}): Promise<string[]> {
    return this.#send(this.#channelId, text, options.replyTo, options.buttons);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#accepting = false;
    this.#closed = true;
    this.#subscription?.close();
    clearInterval(this.#approvalSync);
    await this.perch?.stop();
    await this.approvalBridge?.stop();
    await this.jobs?.stop();
    const grace = this.#o.closeGraceMs ?? CLOSE_GRACE_MS;
    const waited = await drainTurns(this.#intake, () => this.#inflight, grace);
    if (!waited) this.#log.warn({ event: 'discord_close_timeout', graceMs: grace }, 'turns still running at shutdown; their messages will be answered after the next start');
    await this.#outbox.catch(() => undefined);
    this.tools.attach(undefined);
    await this.client.destroy();
    this.#log.info({ event: 'discord_closed' }, 'Discord channel closed');
  }

  /** Re-checks pending approvals against what was posted (see ApprovalBridge.sync). */
  #syncApprovals(): void {
    if (this.#closed || !this.approvalBridge) return;
    void this.#track(this.approvalBridge.sync()).catch((error: unknown) => {
      this.#log.warn({ event: 'approval_sync_failed', err: errorMessage(error) }, 'could not re-check pending approvals; trying again later');
    });
  }

  /** approval_needed / approval_result → the bridge; job_due → a job turn. The cursor moves over what is handled. */
  #onQueueEvent(event: QueueEvent): void {
    if (this.#closed) return;
    const stale = event.type === 'job_due' && this.#firstRunSince !== undefined && typeof event.createdAt === 'string' && event.createdAt < this.#firstRunSince;
    if (stale) this.#log.info({ event: 'job_skipped', eventId: event.id }, 'scheduled job fired before Lares first connected to Discord; not posted');
    const handled = stale || (event.type === 'job_due' && this.#o.schedule === false) ? Promise.resolve()
      : event.type === 'job_due' ? this.jobs.handle(event) : this.approvalBridge?.handleEvent(event) ?? Promise.resolve();
    void this.#track(this.#eventCursor!.track(event.id, handled)).catch((error: unknown) => this.#log.error({ event: 'queue_event_failed', type: event.type, err: errorMessage(error) }, 'could not handle an approval-queue event'));
  }

  // ---- incoming ----------------------------------------------------------------------

  #onMessage(message: Message): void {
    if (!this.#accepting) return;
    if (!this.#accepts(message)) { this.#passOver(message); return; }
    this.#intake = this.#intake.then(() => this.#handle(message)).catch((error: unknown) => {
      this.#log.error({ event: 'discord_message_failed', messageId: message.id, err: errorMessage(error) }, 'could not hand a Discord message to the agent');
    });
  }

  /** Whether a message is one Lares answers; logs why not. */
  #accepts(message: Message): boolean {
    const author = message.author;
    const meta = { messageId: message.id, channelId: message.channelId, authorId: author.id };
    if (author.id === this.client.user?.id) return false; // its own messages
    const isDm = message.channel.type === ChannelType.DM;
    if (!isDm && message.channelId !== this.#channelId) {
      this.#log.debug({ event: 'discord_ignored', reason: 'other channel', ...meta }, 'ignored a message in another channel');
      return false;
    }
    if (author.bot || message.webhookId) {
      this.#log.info({ event: 'discord_ignored', reason: 'bot', ...meta }, 'ignored a message from a bot');
      return false;
    }
    if (isDm && author.id !== this.#ownerId) {
      this.#log.info({ event: 'discord_ignored', reason: 'direct message from someone other than the owner', ...meta }, 'ignored a direct message: only the owner can write to Lares directly');
      return false;
    }
    if (!this.#allowed.has(author.id)) {
      this.#log.info({ event: 'discord_ignored', reason: 'author not allowed', ...meta }, 'ignored a message from someone who is not the owner or in DISCORD_ALLOWED_USER_IDS');
      return false;
    }
    if (message.system) return false;
    if (message.content.trim() === '' && message.attachments.size === 0) {
      this.#log.info({ event: 'discord_ignored', reason: 'empty', ...meta }, 'ignored an empty message (is "Message Content Intent" enabled for the bot?)');
      return false;
    }
    return true;
  }

  /** Prepares the turn and hands it to the agent; the reply is posted when the turn ends. */
  async #handle(message: Message): Promise<void> {
    if (this.#handled.has(message.id)) return;
    remember(this.#handled, message.id);
    this.#remember(message.id, message.channelId);
    if (message.channel.type === ChannelType.DM && this.#dmChannelId !== message.channelId) {
      this.#dmChannelId = message.channelId;
      // the DM's position starts just before this message: if this worker dies before answering
      // it, the next one catches it up (a missing position would mean "start from the newest")
      if (this.#o.store.claimMeta) await this.#o.store.claimMeta(lastSeenKey(message.channelId), String(BigInt(message.id) - 1n));
      await this.#o.store.setMeta(DM_CHANNEL_KEY, message.channelId);
    }
    const input = await this.#toTurn(message);
    this.#log.info({ event: 'discord_message', messageId: message.id, authorId: message.author.id, attachments: message.attachments.size }, 'message from Discord: queued for the agent');
    if (message.author.id === this.#ownerId) this.#o.onOwnerActivity?.('discord');
    const stopTyping = this.#typing(message.channelId);
    const turn = this.#o.agent.send(input)
      .then((result) => this.#postTurnReply(result, message))
      .catch((error: unknown) => {
        this.#log.error({ event: 'turn_failed', messageId: message.id, err: errorMessage(error) }, 'the turn for a Discord message failed');
        return this.#enqueueOut(() => this.#sendNow(message.channelId, `Something went wrong on my side and I could not answer this (${errorMessage(error)}).`, message.id));
      })
      .then(() => this.#markSeen(message.channelId, message.id))
      .finally(stopTyping);
    this.#track(turn);
  }

  async #toTurn(message: Message): Promise<TurnInput> {
    const author = message.member?.displayName ?? message.author.globalName ?? message.author.username;
    const where = message.channel.type === ChannelType.DM ? ' (direct message)' : '';
    const header = `[${author} at ${message.createdAt.toISOString()}${where}]`;
    const blocks: ContentBlock[] = [{ type: 'text', text: message.content ? `${header} ${message.content}` : header }];
    for (const attachment of message.attachments.values()) {
      blocks.push(await this.#attachmentBlock(attachment.url, attachment.name, attachment.contentType ?? '', attachment.size));
    }
    return {
      source: 'discord',
      content: blocks.length === 1 ? (blocks[0] as { text: string }).text : blocks,
      replyToMessageId: message.id,
      sourceRef: `discord:${message.id}`,
      metadata: { channel: 'discord', author, authorId: message.author.id, channelId: message.channelId, messageId: message.id, createdAt: message.createdAt.toISOString() },
    };
  }

  /** An image as image content, a small text file as text, anything else as a note. */
  async #attachmentBlock(url: string, name: string, contentType: string, size: number): Promise<ContentBlock> {
    const type = contentType.split(';')[0].trim().toLowerCase();
    const isImage = IMAGE_TYPES.has(type);
    const isText = type.startsWith('text/') || type === 'application/json' || TEXT_EXTENSIONS.test(name);
    const note = (why: string): ContentBlock => ({ type: 'text', text: `[attachment ${name} (${type || 'unknown type'}, ${size} bytes): ${why}]` });
    if (!isImage && !isText) return note('not shown (only images and small text files are passed on)');
    const max = isImage ? MAX_IMAGE_BYTES : MAX_TEXT_ATTACHMENT_BYTES;
    if (size > max) return note(`too large to pass on (limit ${max} bytes)`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      if (!response.ok) return note(`could not be downloaded (HTTP ${response.status})`);
      const data = Buffer.from(await response.arrayBuffer());
      if (data.length > max) return note(`too large to pass on (limit ${max} bytes)`);
      if (isImage) return { type: 'image', source: { type: 'base64', media_type: type, data: data.toString('base64') } };
      return { type: 'text', text: `[attachment ${name}]\n${data.toString('utf8')}` };
    } catch (error) {
      this.#log.warn({ event: 'attachment_download_failed', name, err: errorMessage(error) }, 'could not download a Discord attachment');
      return note(`could not be downloaded (${errorMessage(error)})`);
    }
  }

  #typing(channelId: string): () => void {
    let stopped = false;
    const beat = () => {
      if (stopped) return;
      this.#sendableChannel(channelId).then((channel) => channel.sendTyping()).catch((error: unknown) => {
        this.#log.debug({ event: 'typing_failed', err: errorMessage(error) }, 'could not show the typing indicator');
      });
    };
    beat();
    const timer = setInterval(beat, TYPING_REFRESH_MS);
    return () => { stopped = true; clearInterval(timer); };
  }

  async #onReaction(reaction: MessageReaction | PartialMessageReaction, user: User | PartialUser): Promise<void> {
    if (user.id === this.client.user?.id || this.#closed) return;
    const emoji = reaction.emoji.name ?? '';
    const messageId = reaction.message.id;
    if (!this.approvalBridge?.isApprovalMessage(messageId)) {
      this.#log.debug({ event: 'reaction_ignored', messageId, userId: user.id }, 'reaction on a message that is not an approval request');
      return;
    }
    await this.#track(this.approvalBridge.handleReaction(messageId, emoji, user.id).catch((error: unknown) => {
      this.#log.error({ event: 'approval_reaction_failed', messageId, err: errorMessage(error) }, 'could not act on an approval reaction');
    }));
  }

  /**
   * A button on an approval card. Only the owner's press decides; anyone else, and a press after
   * the request was decided or expired, gets an ephemeral answer and nothing changes. The press is
   * acknowledged (deferred update) before the decision, whose tool may run longer than the three
   * seconds Discord waits; the card is then edited by the bridge.
   */
  async #onInteraction(interaction: Interaction): Promise<void> {
    if (!interaction.isButton() || this.#closed) return;
    const parsed = parseApprovalButtonData(interaction.customId);
    if (!parsed || !this.approvalBridge) return;
    const bridge = this.approvalBridge;
    const ephemeral = (content: string) => interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    await this.#track((async () => {
      if (interaction.user.id === this.#ownerId) this.#o.onOwnerActivity?.('discord');
      const outcome = await bridge.handleButton(parsed.approvalId, parsed.action, interaction.user.id, { beforeDecision: () => interaction.deferUpdate() });
      if (!interaction.deferred && !interaction.replied) await ephemeral(outcome.notice);
      // acknowledged, but the queue had it decided elsewhere: say so (the update was deferred)
      else if (!outcome.decided && !outcome.explained) await interaction.followUp({ content: outcome.notice, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    })().catch((error: unknown) => {
      this.#log.error({ event: 'approval_button_failed', approvalId: parsed.approvalId, err: errorMessage(error) }, 'could not act on an approval button');
    }));
  }

  // ---- missed messages ---------------------------------------------------------------

  #queueCatchUp(why: string): void {
    this.#intake = this.#intake.then(() => this.#catchUp(why)).catch((error: unknown) => {
      this.#log.error({ event: 'discord_catch_up_failed', err: errorMessage(error) }, 'could not fetch messages missed while away');
    });
  }

  async #catchUp(why: string): Promise<void> {
    const channels = [this.#channelId];
    const dm = await this.#o.store.getMeta(DM_CHANNEL_KEY);
    if (dm) { channels.push(dm); this.#dmChannelId = dm; }
    for (const channelId of channels) {
      // each channel on its own: the DM's catch-up must not depend on the main channel's
      try {
        await this.#catchUpChannel(channelId, why);
      } catch (error) {
        this.#log.error({ event: 'discord_catch_up_failed', channelId, err: errorMessage(error) }, 'could not fetch messages missed while away in one channel');
      }
    }
  }

  async #catchUpChannel(channelId: string, why: string): Promise<void> {
    const stored = await this.#o.store.getMeta(lastSeenKey(channelId));
    const channel = await this.#sendableChannel(channelId).catch(() => undefined);
    if (!channel || !('messages' in channel)) return;
    if (!stored) {
      // first run: nothing was missed, but from here on a message not yet answered when this
      // worker stops must be found by the next one (another worker after a failover)
      const [newest] = (await channel.messages.fetch({ limit: 1 })).values();
      await this.#o.store.setMeta(lastSeenKey(channelId), newest?.id ?? '0');
      return;
    }
    this.#lastSeen.set(channelId, maxId(this.#lastSeen.get(channelId), BigInt(stored)));
    let after = stored;
    let found = 0;
    for (let page = 0; page < CATCH_UP_PAGES; page++) {
      const batch = await channel.messages.fetch({ after, limit: 100 });
      const ordered = [...batch.values()].sort((a, b) => compareIds(a.id, b.id));
      for (const message of ordered) {
        if (!this.#accepts(message)) { this.#passOver(message); continue; }
        if (!this.#handled.has(message.id)) { found++; await this.#handle(message); }
      }
      if (ordered.length > 0) after = ordered[ordered.length - 1].id;
      if (batch.size < 100) break;
      if (page === CATCH_UP_PAGES - 1) this.#log.warn({ event: 'discord_catch_up_capped', channelId }, 'more missed messages than fetched; the rest are skipped');
    }
    if (found > 0) this.#log.info({ event: 'discord_caught_up', channelId, messages: found, why }, 'answering messages that arrived while Lares was away');
  }

  /**
   * An ignored message (a stranger's, a bot's, Lares's own) in a channel Lares catches up on
   * moves the stored position past it too, or a busy channel would be fetched again from the
   * owner's last message on every start (and past CATCH_UP_PAGES, newer messages be skipped).
   * Queued on the intake and after the turns already handed to the agent, so the position never
   * passes a message whose answer is still pending.
   */
  #passOver(message: Message): void {
    const isDm = message.channel.type === ChannelType.DM;
    if (message.channelId !== this.#channelId && !(isDm && message.channelId === this.#dmChannelId)) return;
    this.#intake = this.#intake.then(() => {
      const earlier = Promise.allSettled([...this.#inflight]);
      void this.#track(earlier.then(() => this.#markSeen(message.channelId, message.id)));
    });
  }

  async #markSeen(channelId: string, messageId: string): Promise<void> {
    const id = BigInt(messageId);
    const current = this.#lastSeen.get(channelId);
    if (current !== undefined && current >= id) return;
    this.#lastSeen.set(channelId, id);
    try { await this.#o.store.setMeta(lastSeenKey(channelId), messageId); } catch (error) {
      this.#log.error({ event: 'discord_last_seen_failed', err: errorMessage(error) }, 'could not store the last answered message id');
    }
  }

  // ---- outgoing ----------------------------------------------------------------------

  /** Posts the reply of a turn (as a reply to `message` when there is one). */
  #postTurnReply(result: TurnResult, message?: Message): Promise<void> {
    let text = result.reply.trim();
    if (text === '' && result.incomplete) text = `(I could not finish this turn: ${result.stopReason}.)`;
    if (text === '') {
      this.#log.info({ event: 'turn_without_text', messageId: message?.id, toolCalls: result.toolCalls }, 'the turn ended without text; nothing to post');
      return Promise.resolve();
    }
    return this.#send(message?.channelId ?? this.#channelId, text, message?.id).then(() => undefined);
  }

  #send(channelId: string, text: string, replyTo?: string, buttons?: ApprovalButton[]): Promise<string[]> {
    return this.#enqueueOut(() => this.#sendNow(channelId, text, replyTo, buttons));
  }

  #enqueueOut<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#outbox.then(fn, fn);
    this.#outbox = next.catch(() => undefined);
    return next;
  }

  async #sendNow(channelId: string, text: string, replyTo?: string, buttons?: ApprovalButton[]): Promise<string[]> {
    const channel = await this.#sendableChannel(channelId);
    const ids: string[] = [];
    const parts = splitMessage(text);
    for (const [index, part] of parts.entries()) {
      const last = index === parts.length - 1;
      const sent = await channel.send({
        content: part,
        ...(buttons && buttons.length > 0 && last ? { components: [buttonRow(buttons)] } : {}),
        ...(replyTo ? { reply: { messageReference: replyTo, failIfNotExists: false } } : {}),
        allowedMentions: { parse: [], repliedUser: index === 0 },
      });
      this.#remember(sent.id, channelId);
      ids.push(sent.id);
    }
    return ids;
  }

  async #edit(channelId: string, messageId: string, content: string): Promise<void> {
    const channel = await this.#sendableChannel(channelId);
    if (!('messages' in channel)) throw new Error(`channel ${channelId} has no messages`);
    // an edited card loses its buttons: the decision is made
    await channel.messages.edit(messageId, { content, components: [], allowedMentions: { parse: [] } });
  }

  async #react(channelId: string, messageId: string, emoji: string): Promise<void> {
    const channel = await this.#sendableChannel(channelId);
    if (!('messages' in channel)) throw new Error(`channel ${channelId} has no messages`);
    await channel.messages.react(messageId, emoji);
  }

  async #sendableChannel(channelId: string): Promise<SendableChannels> {
    const channel = await this.client.channels.fetch(channelId);
    if (!channel || !channel.isSendable()) throw new Error(`channel ${channelId} is not a text channel Lares can write in`);
    return channel;
  }

  #toolOutlet(): DiscordToolOutlet {
    return {
      channelOf: async (messageId) => {
        const known = this.#seen.get(messageId);
        if (known) return known;
        // a message from an earlier run, recorded in the history
        const stored = await this.#o.store.findMessageBySourceRef?.(`discord:${messageId}`);
        if (!stored) return undefined;
        const channelId = stored.metadata?.channelId;
        return typeof channelId === 'string' ? channelId : this.#channelId;
      },
      send: (channelId, content, replyTo) => this.#send(channelId ?? this.#channelId, content, replyTo),
      react: (channelId, messageId, emoji) => this.#enqueueOut(() => this.#react(channelId, messageId, emoji)),
    };
  }

  #remember(messageId: string, channelId: string): void {
    this.#seen.set(messageId, channelId);
    if (this.#seen.size > MAX_REMEMBERED_IDS) this.#seen.delete(this.#seen.keys().next().value!);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    void promise.finally(() => this.#inflight.delete(promise)).catch(() => undefined);
    return promise;
  }
}

/** Approve (green), Deny (red), Always allow (grey), as one row of message components. */
function buttonRow(buttons: ApprovalButton[]): ActionRowBuilder<ButtonBuilder> {
  const style = { approve: ButtonStyle.Success, deny: ButtonStyle.Danger, always: ButtonStyle.Secondary } as const;
  return new ActionRowBuilder<ButtonBuilder>().addComponents(buttons.map((b) =>
    new ButtonBuilder().setCustomId(approvalButtonData(b.action, b.approvalId)).setLabel(b.label).setStyle(style[b.action])));
}

function remember(set: Set<string>, id: string): void {
  set.add(id);
  if (set.size > MAX_REMEMBERED_IDS) set.delete(set.values().next().value!);
}

function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function maxId(a: bigint | undefined, b: bigint): bigint {
  return a === undefined || b > a ? b : a;
}

