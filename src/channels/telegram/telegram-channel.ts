// The Telegram channel of `lares run`: grammY in, agent turns, replies out.
// - long polling (getUpdates): no public address needed at home; or a webhook when
//   TELEGRAM_WEBHOOK_URL is set (telegram-webhook.ts). Each update is written to a small inbox
//   in the store before Telegram is told it arrived (the next getUpdates, or the webhook's 200),
//   and the offset is stored too (per bot: `telegram.<botId>.update_offset`): a restart neither
//   loses a message (the inbox is replayed) nor repeats one (the offset, the inbox, and each turn's
//   sourceRef `telegram:<chat>:<message_id>`). What Telegram sends is trusted over the stored
//   offset: its ids restart after a week idle, and another token or Bot API server has others
// - answers the owner (TELEGRAM_OWNER_ID) in a private chat, and in the groups of
//   TELEGRAM_ALLOWED_CHAT_IDS; everyone else, other groups and bots are ignored with a log line
// - text, photos (as image content), images and small text files sent as documents; forwarded
//   messages say whom they are from; voice notes, stickers, locations... are answered "cannot read yet"
// - replies as HTML made from Lares's Markdown, split under 4,096 characters; when Telegram
//   refuses the formatting the same text goes out plain, so nothing is lost
// - /start, /help, /memory, /approvals, /context (a `bot_command` at the start naming one of
//   them); any other "/word" ("/tmp is full again") goes to the agent
// - approval cards with an inline keyboard (../approval-bridge.ts); perch time and scheduled
//   jobs when it is the channel that runs them (`schedule`)
import type { Bot } from 'grammy';
import type { CallbackQuery, Message, Update } from 'grammy/types';
import type { TurnInput, TurnResult } from '../../agent/types.ts';
import type { Config } from '../../config/config.ts';
import { LaresError } from '../../errors.ts';
import type { ContentBlock } from '../../llm/content.ts';
import type { Logger } from '../../log.ts';
import { nowIso } from '../../time.ts';
import type { ApprovalSubscription } from '../../tools/approvals-client.ts';
import { ApprovalBridge, approvalButtonData, parseApprovalButtonData, type ApprovalButton, type QueueEvent } from '../approval-bridge.ts';
import type { Channel, ChannelCommands, ChannelDeps } from '../channel.ts';
import { startJobRunner, startPerch, type JobRunner, type PerchLoop } from '../perch.ts';
import { TELEGRAM_MESSAGE_LIMIT, splitMessage } from '../split-message.ts';
import { EventCursor, eventCursorKey } from '../event-cursor.ts';
import { DEFAULT_TELEGRAM_API, createTelegramBot, isFormattingError, isNotModified, telegramErrorMessage } from './telegram-api.ts';
import { markdownToTelegramHtml } from './telegram-format.ts';
import { startTelegramWebhook, type TelegramWebhookServer } from './telegram-webhook.ts';
import { drainTurns } from '../drain.ts';

export interface TelegramChannelOptions extends ChannelDeps {
  config: Pick<Config, 'telegram' | 'perchIntervalMinutes'>;
  commands?: ChannelCommands;
  /** run perch time and scheduled jobs here (lares run: when Discord does not) */
  schedule?: boolean;
  /** overrides LARES_PERCH_INTERVAL_MINUTES (tests); 0 disables the timer */
  perchIntervalMs?: number;
  /** where perch and job replies go (the home channel); default this channel */
  postUnprompted?(text: string): Promise<unknown>;
  /** feed approval outcomes into the conversation (default true) */
  feedApprovalOutcomes?: boolean;
  /** getUpdates long-polling timeout in seconds (default 25) */
  pollTimeoutSeconds?: number;
  /** how long close() waits for turns in progress (default 120 s) */
  closeGraceMs?: number;
}

export interface TelegramChannel extends Channel {
  readonly bot: Bot;
  readonly perch: PerchLoop | undefined;
  readonly jobs: JobRunner | undefined;
  readonly approvalBridge: ApprovalBridge | undefined;
  post(text: string, options?: { chatId?: string; replyTo?: number; buttons?: ApprovalButton[] }): Promise<string[]>;
}

/** the offset of an older Lares, before it was kept per bot (read once, as a starting point) */
const LEGACY_OFFSET_KEY = 'telegram.update_offset';
/** per bot: another token on the same database has its own update ids */
const offsetKey = (botId: number | string) => `telegram.${botId}.update_offset`;
const INBOX_KEY = 'telegram.inbox';
/** the commands Lares answers itself; any other "/word" is a message for the agent */
const COMMANDS = new Set(['start', 'help', 'memory', 'approvals', 'context']);
/** message kinds Lares cannot read yet: the owner is told so instead of silence */
const UNREADABLE: Array<[keyof Message, string]> = [
  ['voice', 'voice notes'], ['audio', 'audio files'], ['video_note', 'video notes'], ['video', 'videos'], ['animation', 'GIFs'],
  ['sticker', 'stickers'], ['location', 'locations'], ['venue', 'venues'], ['contact', 'contacts'], ['poll', 'polls'], ['dice', 'dice'],
];
const EVENT_CURSOR_KEY = eventCursorKey('telegram');
const IMAGE_TYPES: Record<string, string> = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp' };
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const MAX_TEXT_FILE_BYTES = 100 * 1024;
const TEXT_EXTENSIONS = /\.(txt|md|markdown|json|csv|tsv|log|ya?ml|toml|ini|xml|html?|css|js|mjs|cjs|ts|tsx|jsx|py|rb|go|rs|java|kt|c|h|cpp|hpp|cs|sh|bash|zsh|sql|diff|patch)$/i;
/** Telegram shows "typing…" for 5 seconds */
const TYPING_REFRESH_MS = 4500;
const CLOSE_GRACE_MS = 120_000;
const COMMAND_MENU = [
  { command: 'memory', description: 'show my memory blocks (/memory label for one)' },
  { command: 'approvals', description: 'tool calls waiting for your approval' },
  { command: 'context', description: 'what my next request holds' },
  { command: 'help', description: 'what I can do here' },
];
const APPROVAL_SYNC_MS = 60_000;

export async function startTelegramChannel(options: TelegramChannelOptions): Promise<TelegramChannel> {
  const { botToken, ownerId } = options.config.telegram;
  const missing = [!botToken && 'TELEGRAM_BOT_TOKEN', !ownerId && 'TELEGRAM_OWNER_ID'].filter(Boolean);
  if (missing.length > 0) {
    throw new LaresError('CONFIG_INVALID', `the Telegram channel needs ${missing.join(', ')}: set ${missing.length === 1 ? 'it' : 'them'} in .env (the token from @BotFather, your numeric user id from @userinfobot)`);
  }
  const channel = new TelegramChannelImpl(options, botToken!, ownerId!);
  await channel.start();
  return channel;
}

/** What kind of unreadable message this is ("voice notes"), if it is one. */
function unreadableKind(message: Message): string | undefined {
  return UNREADABLE.find(([field]) => message[field] !== undefined)?.[1];
}

/** Who a forwarded message came from, as the agent should see it. */
function forwardedFrom(message: Message): string | undefined {
  const origin = message.forward_origin;
  if (!origin) return undefined;
  const name = (who: { first_name?: string; last_name?: string; username?: string; title?: string }) =>
    who.title ?? ([who.first_name, who.last_name].filter(Boolean).join(' ') || (who.username ? `@${who.username}` : 'someone'));
  switch (origin.type) {
    case 'user': return name(origin.sender_user);
    case 'hidden_user': return origin.sender_user_name;
    case 'chat': return name(origin.sender_chat);
    case 'channel': return `the channel ${name(origin.chat)}`;
    default: return 'someone';
  }
}

class TelegramChannelImpl implements TelegramChannel {
  readonly name = 'telegram' as const;
  readonly bot: Bot;
  perch: PerchLoop | undefined;
  jobs: JobRunner | undefined;
  approvalBridge: ApprovalBridge | undefined;

  readonly #o: TelegramChannelOptions;
  readonly #token: string;
  readonly #ownerId: string;
  readonly #allowedChats: Set<string>;
  readonly #apiRoot: string;
  readonly #log: Logger;
  readonly #inflight = new Set<Promise<unknown>>();
  /** updates taken from Telegram whose turn is not answered yet, by update id */
  readonly #inbox = new Map<number, Update>();
  #offset = 0;
  #offsetKey = LEGACY_OFFSET_KEY;
  /** inbox writes, one after another: an older snapshot never lands after a newer one */
  #inboxWrites: Promise<unknown> = Promise.resolve();
  /** queue events by id, in arrival order, and whether each is handled (the cursor's prefix) */
  #intake: Promise<void> = Promise.resolve();
  #outbox: Promise<unknown> = Promise.resolve();
  #polling: Promise<void> | undefined;
  #webhook: TelegramWebhookServer | undefined;
  /** updates are taken one at a time, in order */
  #taking: Promise<void> = Promise.resolve();
  readonly #abort = new AbortController();
  #connected = false;
  #closed = false;
  #subscription: ApprovalSubscription | undefined;
  #eventCursor?: EventCursor;
  #firstRunSince: string | undefined;
  #approvalSync: NodeJS.Timeout | undefined;

  constructor(options: TelegramChannelOptions, token: string, ownerId: string) {
    this.#o = options;
    this.#token = token;
    this.#ownerId = ownerId;
    this.#allowedChats = new Set(options.config.telegram.allowedChatIds);
    this.#apiRoot = options.config.telegram.apiUrl ?? DEFAULT_TELEGRAM_API;
    this.#log = options.logger.child({ component: 'telegram' });
    this.bot = createTelegramBot(token, { apiRoot: this.#apiRoot, logger: this.#log });
    this.bot.on('message', (ctx) => this.#onMessage(ctx.message, ctx.update.update_id));
    // not awaited: an approved tool may run for long, and updates keep flowing meanwhile
    this.bot.on('callback_query:data', (ctx) => { void this.#onButton(ctx.callbackQuery); });
    this.bot.catch((error) => this.#log.error({ event: 'telegram_update_failed', err: this.#err(error.error) }, 'could not handle a Telegram update'));
  }

  async start(): Promise<void> {
    try {
      await this.bot.init(); // getMe: the token works
      // a webhook set earlier would make getUpdates fail with 409; pending updates are kept
      if (!this.#o.config.telegram.webhook) await this.bot.api.deleteWebhook();
    } catch (error) {
      const text = this.#err(error);
      const hint = /401|404|unauthorized|not found/i.test(text) ? 'Telegram refused TELEGRAM_BOT_TOKEN: copy the token again from @BotFather (/mybots → your bot → API Token)' : 'could not reach Telegram';
      throw new LaresError('TELEGRAM_ERROR', `${hint} (${text})`, { cause: error });
    }
    // per bot: the bot id is the token's numeric prefix (getMe says the same)
    const botId = this.bot.botInfo?.id ?? /^(\d+):/.exec(this.#token)?.[1] ?? 'bot';
    this.#offsetKey = offsetKey(botId);
    const savedOffset = (await this.#o.store.getMeta(this.#offsetKey)) ?? (await this.#o.store.getMeta(LEGACY_OFFSET_KEY));
    this.#offset = Number(savedOffset ?? 0) || 0;
    const stored = await this.#o.store.getMeta(INBOX_KEY);
    if (stored) {
      try { for (const update of JSON.parse(stored) as Update[]) this.#inbox.set(update.update_id, update); } catch { /* a broken inbox is empty */ }
    }
    this.#connected = true;
    // the command menu Telegram shows beside the text box (cosmetic: a failure changes nothing)
    await this.bot.api.setMyCommands(COMMAND_MENU).catch((error: unknown) => this.#log.debug({ event: 'telegram_commands_failed', err: this.#err(error) }, 'could not set the command menu'));
    this.#log.info({ event: 'telegram_ready', user: this.bot.botInfo.username, offset: this.#offset, replay: this.#inbox.size }, 'connected to Telegram');
    // messages taken but not answered before the last stop come first, in order
    for (const update of [...this.#inbox.values()].sort((a, b) => a.update_id - b.update_id)) {
      if (update.message) this.#onMessage(update.message, update.update_id);
    }
    this.#startScheduleAndApprovals();
    await this.#startApprovalEvents();
    const webhook = this.#o.config.telegram.webhook;
    if (webhook) {
      // listening first, then registered: Telegram's first POST finds Lares ready
      this.#webhook = await startTelegramWebhook({ port: webhook.port, path: new URL(webhook.url).pathname, secret: webhook.secret, logger: this.#log, onUpdate: (update) => this.#take(update) });
      try {
        // one connection at a time: updates arrive in order
        await this.bot.api.setWebhook(webhook.url, { secret_token: webhook.secret, allowed_updates: ['message', 'callback_query'], max_connections: 1 });
      } catch (error) {
        await this.close();
        throw new LaresError('TELEGRAM_ERROR', `Telegram refused the webhook at TELEGRAM_WEBHOOK_URL (${this.#err(error)}): it must be a public https:// address`, { cause: error });
      }
      this.#log.info({ event: 'telegram_webhook', port: this.#webhook.port }, `taking Telegram updates by webhook on 127.0.0.1:${this.#webhook.port}`);
    } else {
      this.#polling = this.#poll().catch((error: unknown) => {
        this.#log.error({ event: 'telegram_polling_stopped', err: this.#err(error) }, 'Telegram polling stopped');
      });
    }
  }

  isConnected(): boolean {
    return this.#connected && !this.#closed;
  }

  post(text: string, options: { chatId?: string; replyTo?: number; buttons?: ApprovalButton[] } = {}): Promise<string[]> {
    return this.#send(options.chatId ?? this.#ownerId, text, options.replyTo, options.buttons);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    // the webhook stays registered: Telegram keeps what arrives while Lares is down
    await this.#webhook?.close();
    this.#subscription?.close();
    clearInterval(this.#approvalSync);
    await this.perch?.stop();
    await this.approvalBridge?.stop();
    await this.jobs?.stop();
    await this.#polling?.catch(() => undefined);
    const grace = this.#o.closeGraceMs ?? CLOSE_GRACE_MS;
    const waited = await drainTurns(this.#intake, () => this.#inflight, grace);
    if (!waited) this.#log.warn({ event: 'telegram_close_timeout', graceMs: grace }, 'turns still running at shutdown; their messages will be answered after the next start');
    await this.#outbox.catch(() => undefined);
    this.#connected = false;
    this.#log.info({ event: 'telegram_closed' }, 'Telegram channel closed');
  }

  // ---- polling -------------------------------------------------------------------------

  async #poll(): Promise<void> {
    let delay = 1000;
    while (!this.#closed) {
      let updates: Update[];
      try {
        updates = await this.bot.api.getUpdates({ offset: this.#offset, timeout: this.#o.pollTimeoutSeconds ?? 25, allowed_updates: ['message', 'callback_query'] }, this.#abort.signal as never);
        if (!this.#connected) this.#log.info({ event: 'telegram_reconnected' }, 'Telegram is reachable again');
        this.#connected = true;
        delay = 1000;
      } catch (error) {
        if (this.#closed) return;
        this.#connected = false;
        this.#log.warn({ event: 'telegram_poll_failed', err: this.#err(error), retryInMs: delay }, 'could not fetch Telegram updates; trying again');
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, 30_000);
        continue;
      }
      if (updates.length > 0 && updates.every((u) => u.update_id < this.#offset)) {
        // Telegram's ids restarted (a week idle, another token, another Bot API server): what the
        // server returns is what there is; the inbox and each turn's sourceRef prevent double answers
        this.#log.warn({ event: 'telegram_offset_reset', savedOffset: this.#offset, firstUpdateId: updates[0].update_id }, 'Telegram update ids are below the saved offset (ids restarted or another bot); starting again from what Telegram sends');
      }
      try {
        for (const update of updates) await this.#take(update, true);
      } catch (error) {
        if (this.#closed) return;
        // not stored, so not confirmed: the next getUpdates brings the update again
        this.#log.error({ event: 'telegram_update_failed', err: this.#err(error) }, 'could not take a Telegram update; trying again');
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  /**
   * One update from Telegram: stored (a message in the inbox, then the offset when polling), then
   * handled. Nothing is dropped by offset: what the server sends is trusted (its ids may restart);
   * an update already in the inbox (delivered again) is not handled twice.
   */
  #take(update: Update, polling = false): Promise<void> {
    const step = this.#taking.then(async () => {
      // closing: not taken, so Telegram keeps it (the webhook answers an error, polling stops)
      if (this.#closed) throw new Error('the Telegram channel is closing');
      const again = this.#inbox.has(update.update_id);
      // kept before Telegram is told it may forget the update
      if (update.message && !again) await this.#saveInbox(() => this.#inbox.set(update.update_id, update));
      if (polling) {
        this.#offset = update.update_id + 1;
        await this.#o.store.setMeta(this.#offsetKey, String(this.#offset));
      }
      if (!again) await this.bot.handleUpdate(update);
    });
    this.#taking = step.catch(() => undefined);
    return step;
  }

  /** Changes the inbox and writes it, each write after the one before (a snapshot taken when it runs). */
  #saveInbox(change: () => void): Promise<void> {
    change();
    const write = this.#inboxWrites.then(() => this.#o.store.setMeta(INBOX_KEY, JSON.stringify([...this.#inbox.values()])));
    this.#inboxWrites = write.catch(() => undefined);
    return write;
  }

  #done(updateId: number): Promise<void> {
    if (!this.#inbox.has(updateId)) return Promise.resolve();
    return this.#saveInbox(() => this.#inbox.delete(updateId)).catch((error: unknown) => {
      this.#log.error({ event: 'telegram_inbox_failed', err: this.#err(error) }, 'could not update the Telegram inbox');
    });
  }

  // ---- incoming ------------------------------------------------------------------------

  #onMessage(message: Message, updateId: number): void {
    // closing: the message stays in the inbox, and the next start answers it
    if (this.#closed) return;
    if (!this.#accepts(message)) { void this.#done(updateId); return; }
    this.#o.onOwnerActivity?.('telegram');
    this.#intake = this.#intake.then(() => this.#handle(message, updateId)).catch((error: unknown) => {
      this.#log.error({ event: 'telegram_message_failed', messageId: message.message_id, err: this.#err(error) }, 'could not hand a Telegram message to the agent');
    });
  }

  #accepts(message: Message): boolean {
    const from = message.from;
    const chatId = String(message.chat.id);
    const meta = { messageId: message.message_id, chatId, fromId: from?.id };
    if (!from || from.is_bot || message.sender_chat) {
      this.#log.info({ event: 'telegram_ignored', reason: 'bot', ...meta }, 'ignored a message from a bot or a channel');
      return false;
    }
    if (String(from.id) !== this.#ownerId) {
      this.#log.info({ event: 'telegram_ignored', reason: 'not the owner', ...meta }, 'ignored a Telegram message from someone who is not TELEGRAM_OWNER_ID');
      return false;
    }
    if (message.chat.type !== 'private' && !this.#allowedChats.has(chatId)) {
      this.#log.info({ event: 'telegram_ignored', reason: 'group not allowed', ...meta }, 'ignored a message in a group that is not in TELEGRAM_ALLOWED_CHAT_IDS');
      return false;
    }
    if (!message.text && !message.caption && !message.photo && !message.document && !unreadableKind(message)) {
      this.#log.info({ event: 'telegram_ignored', reason: 'unsupported', ...meta }, 'ignored a Telegram message without text, photo or file');
      return false;
    }
    return true;
  }

  async #handle(message: Message, updateId: number): Promise<void> {
    const chatId = String(message.chat.id);
    const kind = !message.text && !message.caption && !message.photo && !message.document ? unreadableKind(message) : undefined;
    if (kind) {
      this.#log.info({ event: 'telegram_unreadable', kind, messageId: message.message_id, chatId }, 'a kind of Telegram message Lares cannot read yet');
      await this.#send(chatId, `I cannot read ${kind} yet: please write it as text (or send a photo or a small text file).`, message.message_id, undefined, { plain: true });
      await this.#done(updateId);
      return;
    }
    const command = this.#commandOf(message);
    if (command) {
      // memory and approvals are the owner's business: never shown to a group
      if (message.chat.type !== 'private') await this.#send(chatId, 'Commands work in our private chat only.', message.message_id, undefined, { plain: true });
      else await this.#command(chatId, message.message_id, command.name, command.args);
      await this.#done(updateId);
      return;
    }
    const input = await this.#toTurn(message);
    this.#log.info({ event: 'telegram_message', messageId: message.message_id, chatId, photo: Boolean(message.photo) }, 'message from Telegram: queued for the agent');
    const stopTyping = this.#typing(chatId);
    const turn = this.#o.agent.send(input)
      .then((result) => this.#postTurnReply(result, chatId, message.message_id))
      .catch((error: unknown) => {
        this.#log.error({ event: 'turn_failed', messageId: message.message_id, err: this.#err(error) }, 'the turn for a Telegram message failed');
        return this.#send(chatId, `Something went wrong on my side and I could not answer this (${this.#err(error)}).`, message.message_id).then(() => undefined);
      })
      .then(() => this.#done(updateId))
      .finally(stopTyping);
    this.#track(turn);
  }

  /**
   * A command for Lares: Telegram marks it as a `bot_command` entity at the start of the text,
   * and it names one of Lares's commands (for this bot). "/tmp is full again" is a message.
   */
  #commandOf(message: Message): { name: string; args: string[] } | undefined {
    const text = message.text ?? '';
    const entity = message.entities?.find((e) => e.type === 'bot_command' && e.offset === 0);
    if (!entity) return undefined;
    const [name, mention] = text.slice(1, entity.length).split('@');
    if (!COMMANDS.has(name.toLowerCase())) return undefined;
    if (mention && mention.toLowerCase() !== (this.bot.botInfo?.username ?? '').toLowerCase()) return undefined;
    return { name: name.toLowerCase(), args: text.slice(entity.length).split(/\s+/).filter(Boolean) };
  }

  async #command(chatId: string, replyTo: number, name: string, args: string[]): Promise<void> {
    let text: string | undefined;
    try {
      if (name === 'start' || name === 'help') {
        text = [
          'Hello — this is Lares. Write to me here as anywhere else: it is one conversation and one memory.',
          'Commands: /memory [label] (memory blocks), /approvals (pending tool calls), /context (what my next request holds).',
          'Tool calls that need your approval come as cards with Approve / Deny buttons.',
        ].join('\n');
      } else if (name === 'context') {
        text = this.#o.commands?.context ? await this.#o.commands.context() : 'The context report is not available in this mode.';
      } else if (name === 'memory' || name === 'approvals') {
        text = (await this.#o.commands?.run?.(name, args)) ?? `/${name} is not available here.`;
        if (name === 'approvals' && text !== 'No pending approvals.') text += '\n\nDecide with the buttons on each card.';
      } else {
        text = `Unknown command /${name}. Try /help.`;
      }
    } catch (error) {
      text = `/${name} failed: ${this.#err(error)}`;
    }
    // command output is shown as it is (block contents may hold anything): plain text, no Markdown
    await this.#send(chatId, text, replyTo, undefined, { plain: true });
  }

  async #toTurn(message: Message): Promise<TurnInput> {
    const from = message.from!;
    const author = [from.first_name, from.last_name].filter(Boolean).join(' ') || from.username || String(from.id);
    const at = new Date(message.date * 1000).toISOString();
    const where = message.chat.type === 'private' ? '' : ` (in ${message.chat.title ?? 'a group'})`;
    const forwarded = forwardedFrom(message);
    const header = `[${author} at ${at} on Telegram${where}${forwarded ? `, forwarded from ${forwarded}` : ''}]`;
    const said = message.text ?? message.caption ?? '';
    const blocks: ContentBlock[] = [{ type: 'text', text: said ? `${header} ${said}` : header }];
    if (message.photo && message.photo.length > 0) {
      // the largest size Claude takes
      const sizes = [...message.photo].sort((a, b) => (b.file_size ?? 0) - (a.file_size ?? 0));
      const photo = sizes.find((p) => (p.file_size ?? 0) <= MAX_IMAGE_BYTES) ?? sizes[sizes.length - 1];
      blocks.push(await this.#fileBlock(photo.file_id, 'photo.jpg', 'image/jpeg', photo.file_size));
    } else if (message.document) {
      const doc = message.document;
      blocks.push(await this.#fileBlock(doc.file_id, doc.file_name ?? 'file', doc.mime_type ?? '', doc.file_size));
    }
    return {
      source: 'telegram',
      content: blocks.length === 1 ? (blocks[0] as { text: string }).text : blocks,
      replyToMessageId: String(message.message_id),
      sourceRef: `telegram:${message.chat.id}:${message.message_id}`,
      metadata: { channel: 'telegram', author, authorId: String(from.id), chatId: String(message.chat.id), messageId: message.message_id, createdAt: at },
    };
  }

  /** A photo or image file as image content, a small text file as text, anything else as a note. */
  async #fileBlock(fileId: string, name: string, mimeType: string, size: number | undefined): Promise<ContentBlock> {
    const ext = /\.(\w+)$/.exec(name)?.[1]?.toLowerCase() ?? '';
    const type = mimeType.split(';')[0].trim().toLowerCase() || IMAGE_TYPES[ext] || '';
    const isImage = Object.values(IMAGE_TYPES).includes(type);
    const isText = type.startsWith('text/') || type === 'application/json' || TEXT_EXTENSIONS.test(name);
    const note = (why: string): ContentBlock => ({ type: 'text', text: `[attachment ${name} (${type || 'unknown type'}${size ? `, ${size} bytes` : ''}): ${why}]` });
    if (!isImage && !isText) return note('not shown (only images and small text files are passed on)');
    const max = isImage ? MAX_IMAGE_BYTES : MAX_TEXT_FILE_BYTES;
    if (size !== undefined && size > max) return note(`too large to pass on (limit ${max} bytes)`);
    try {
      const file = await this.bot.api.getFile(fileId);
      if (!file.file_path) return note('Telegram gave no download path');
      // the download URL holds the token: it is never logged
      const response = await fetch(`${this.#apiRoot}/file/bot${this.#token}/${file.file_path}`, { signal: AbortSignal.timeout(30_000) });
      if (!response.ok) return note(`could not be downloaded (HTTP ${response.status})`);
      const data = Buffer.from(await response.arrayBuffer());
      if (data.length > max) return note(`too large to pass on (limit ${max} bytes)`);
      if (isImage) {
        const media = IMAGE_TYPES[/\.(\w+)$/.exec(file.file_path)?.[1]?.toLowerCase() ?? ''] ?? type;
        return { type: 'image', source: { type: 'base64', media_type: media, data: data.toString('base64') } };
      }
      return { type: 'text', text: `[attachment ${name}]\n${data.toString('utf8')}` };
    } catch (error) {
      this.#log.warn({ event: 'attachment_download_failed', name, err: this.#err(error) }, 'could not download a Telegram file');
      return note(`could not be downloaded (${this.#err(error)})`);
    }
  }

  #typing(chatId: string): () => void {
    let stopped = false;
    const beat = () => {
      if (stopped) return;
      this.bot.api.sendChatAction(chatId, 'typing').catch((error: unknown) => {
        this.#log.debug({ event: 'typing_failed', err: this.#err(error) }, 'could not show the typing indicator');
      });
    };
    beat();
    const timer = setInterval(beat, TYPING_REFRESH_MS);
    return () => { stopped = true; clearInterval(timer); };
  }

  /** An inline-keyboard press: an approval card's Approve / Deny / Always allow. */
  async #onButton(query: CallbackQuery): Promise<void> {
    const parsed = parseApprovalButtonData(query.data ?? '');
    const answer = (text: string, alert = false) => this.bot.api.answerCallbackQuery(query.id, { text, show_alert: alert }).catch((error: unknown) => {
      this.#log.warn({ event: 'telegram_answer_failed', err: this.#err(error) }, 'could not answer a button press');
    });
    if (!parsed || !this.approvalBridge) { await answer('This button does nothing any more.'); return; }
    const bridge = this.approvalBridge;
    if (String(query.from.id) === this.#ownerId) this.#o.onOwnerActivity?.('telegram');
    let acknowledged = false;
    await this.#track((async () => {
      const outcome = await bridge.handleButton(parsed.approvalId, parsed.action, String(query.from.id), {
        // answered at once: the tool may run for longer than the button's spinner waits
        beforeDecision: async () => { acknowledged = true; await answer(parsed.action === 'deny' ? 'Denying…' : 'Approving…'); },
      });
      if (!acknowledged) await answer(outcome.notice, true);
      // "Approving…" was shown, but the queue had it decided elsewhere: say so in the chat
      else if (!outcome.decided && !outcome.explained) await this.#send(String(query.message?.chat.id ?? this.#ownerId), outcome.notice, query.message?.message_id, undefined, { plain: true });
    })().catch((error: unknown) => {
      this.#log.error({ event: 'approval_button_failed', approvalId: parsed.approvalId, err: this.#err(error) }, 'could not act on an approval button');
    }));
  }

  // ---- approvals, perch, jobs ----------------------------------------------------------

  #startScheduleAndApprovals(): void {
    if (this.#o.schedule) {
      const post = this.#o.postUnprompted ?? ((text: string) => this.post(text));
      this.perch = startPerch({
        agent: this.#o.agent,
        intervalMs: this.#o.perchIntervalMs ?? this.#o.config.perchIntervalMinutes * 60_000,
        post,
        logger: this.#log,
      });
      this.jobs = startJobRunner({ agent: this.#o.agent, post, logger: this.#log });
    }
    if (!this.#o.approvals) return;
    this.approvalBridge = new ApprovalBridge({
      approvals: this.#o.approvals,
      channel: 'telegram',
      limit: TELEGRAM_MESSAGE_LIMIT,
      reactions: false,
      outlet: {
        post: (content, opts) => this.post(content, { replyTo: opts?.replyTo ? Number(opts.replyTo) : undefined, buttons: opts?.buttons }),
        edit: (messageId, content) => this.#enqueueOut(() => this.#edit(this.#ownerId, Number(messageId), content)),
      },
      store: this.#o.store,
      agent: this.#o.agent,
      ownerId: this.#ownerId,
      logger: this.#log,
      // the answer to an outcome goes home (where the owner is), like perch and jobs
      postAgentReply: (result) => (this.#o.postUnprompted && result.reply.trim() !== '' ? this.#o.postUnprompted(result.reply).then(() => undefined) : this.#postTurnReply(result, this.#ownerId)),
      feedOutcomes: this.#o.feedApprovalOutcomes,
    });
  }

  async #startApprovalEvents(): Promise<void> {
    if (!this.#o.approvals || !this.approvalBridge) return;
    const stored = await this.#o.store.getMeta(EVENT_CURSOR_KEY);
    this.#firstRunSince = stored === undefined ? nowIso() : undefined;
    if (stored === undefined) await this.#o.store.setMeta(EVENT_CURSOR_KEY, '0');
    this.#eventCursor = new EventCursor(this.#o.store, EVENT_CURSOR_KEY, Number(stored ?? 0) || 0);
    this.#subscription = this.#o.approvals.subscribe((event) => this.#onQueueEvent(event), {
      lastEventId: this.#eventCursor.position,
      onStatus: (status, detail) => this.#log.info({ event: 'approval_events', status, detail }, `approval event stream ${status}`),
    });
    this.#syncApprovals();
    this.#approvalSync = setInterval(() => this.#syncApprovals(), APPROVAL_SYNC_MS);
    this.#approvalSync.unref();
  }

  #syncApprovals(): void {
    if (this.#closed || !this.approvalBridge) return;
    void this.#track(this.approvalBridge.sync()).catch((error: unknown) => {
      this.#log.warn({ event: 'approval_sync_failed', err: this.#err(error) }, 'could not re-check pending approvals; trying again later');
    });
  }

  #onQueueEvent(event: QueueEvent): void {
    if (this.#closed) return;
    let handled: Promise<void>;
    if (event.type === 'job_due') {
      const stale = this.#firstRunSince !== undefined && typeof event.createdAt === 'string' && event.createdAt < this.#firstRunSince;
      handled = !this.jobs || stale ? Promise.resolve() : this.jobs.handle(event);
    } else {
      handled = this.approvalBridge?.handleEvent(event) ?? Promise.resolve();
    }
    // a failed event counts as handled (logged): the cursor moves on over it
    const settled = this.#track(handled).catch((error: unknown) => {
      this.#log.error({ event: 'queue_event_failed', type: event.type, err: this.#err(error) }, 'could not handle an approval-queue event');
    });
    void this.#eventCursor!.track(event.id, settled).catch((error: unknown) => this.#log.error({ event: 'queue_event_failed', type: event.type, err: this.#err(error) }, 'could not handle an approval-queue event'));
  }

  // ---- outgoing ------------------------------------------------------------------------

  #postTurnReply(result: TurnResult, chatId: string, replyTo?: number): Promise<void> {
    let text = result.reply.trim();
    if (text === '' && result.incomplete) text = `(I could not finish this turn: ${result.stopReason}.)`;
    if (text === '') {
      this.#log.info({ event: 'turn_without_text', messageId: replyTo, toolCalls: result.toolCalls, stopReason: result.stopReason }, 'the turn ended without text; nothing to post');
      return Promise.resolve();
    }
    return this.#send(chatId, text, replyTo).then(() => undefined);
  }

  #send(chatId: string, text: string, replyTo?: number, buttons?: ApprovalButton[], options: { plain?: boolean } = {}): Promise<string[]> {
    return this.#enqueueOut(() => this.#sendNow(chatId, text, replyTo, buttons, options.plain === true));
  }

  #enqueueOut<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#outbox.then(fn, fn);
    this.#outbox = next.catch(() => undefined);
    return next;
  }

  async #sendNow(chatId: string, text: string, replyTo: number | undefined, buttons: ApprovalButton[] | undefined, plain: boolean): Promise<string[]> {
    const ids: string[] = [];
    const parts = splitMessage(text, TELEGRAM_MESSAGE_LIMIT);
    for (const [index, part] of parts.entries()) {
      const extra = {
        ...(replyTo !== undefined && index === 0 ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } } : {}),
        ...(buttons && buttons.length > 0 && index === parts.length - 1 ? { reply_markup: { inline_keyboard: [buttons.map((b) => ({ text: b.label, callback_data: approvalButtonData(b.action, b.approvalId) }))] } } : {}),
      };
      let sent: Message.TextMessage;
      if (plain) {
        sent = await this.bot.api.sendMessage(chatId, part, extra);
      } else {
        try {
          sent = await this.bot.api.sendMessage(chatId, markdownToTelegramHtml(part), { ...extra, parse_mode: 'HTML' });
        } catch (error) {
          if (!isFormattingError(error)) throw error;
          // Telegram refused the formatting: the same words, plain
          this.#log.warn({ event: 'telegram_format_fallback', err: this.#err(error) }, 'Telegram refused the formatted message; sending it as plain text');
          sent = await this.bot.api.sendMessage(chatId, part, extra);
        }
      }
      ids.push(String(sent.message_id));
    }
    return ids;
  }

  /** Replaces a card's text and takes its buttons away. */
  async #edit(chatId: string, messageId: number, content: string): Promise<void> {
    const text = content.length > TELEGRAM_MESSAGE_LIMIT ? content.slice(0, TELEGRAM_MESSAGE_LIMIT) : content;
    const markup = { reply_markup: { inline_keyboard: [] } };
    try {
      await this.bot.api.editMessageText(chatId, messageId, markdownToTelegramHtml(text), { parse_mode: 'HTML', ...markup });
    } catch (error) {
      if (isNotModified(error)) return;
      if (!isFormattingError(error)) throw error;
      this.#log.warn({ event: 'telegram_format_fallback', err: this.#err(error) }, 'Telegram refused the formatted edit; editing as plain text');
      await this.bot.api.editMessageText(chatId, messageId, text, markup).catch((again: unknown) => { if (!isNotModified(again)) throw again; });
    }
  }

  #err(error: unknown): string {
    return telegramErrorMessage(error, this.#token);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    void promise.finally(() => this.#inflight.delete(promise)).catch(() => undefined);
    return promise;
  }
}
