// A fake Telegram Bot API on 127.0.0.1, strict where Lares could go wrong, driven by grammY
// through its `apiRoot` option (TELEGRAM_API_URL). What it keeps faithful:
// - getUpdates: updates get increasing update_id; a call with `offset` confirms (forgets) every
//   update below it, returns those from it on (at most `limit`, filtered by allowed_updates),
//   waits up to `timeout` seconds for one; a negative offset counts from the end; a second
//   concurrent getUpdates ends the first with 409 Conflict, as Telegram does; an offset more than
//   10 past the newest update confirms nothing and answers from the oldest held update, as the
//   real Bot API does (ids restart after a week idle: `restartUpdateIds`)
// - text messages carry `entities`, with `bot_command` for every /command as Telegram marks them
// - sendMessage: 1–4,096 characters after entity parsing ("message is too long"), parse_mode HTML
//   and MarkdownV2 parsed, malformed formatting refused with "can't parse entities", replies to
//   unknown messages refused unless allow_sending_without_reply, inline keyboards checked
//   (callback_data 1–64 bytes), a private chat only after its user wrote to the bot
// - editMessageText ("message is not modified", "message to edit not found"), answerCallbackQuery
//   (once per query), sendChatAction, getFile + /file/bot<token>/<path> downloads
// - 429 with retry_after when a test asks for it; 401 for a wrong token
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeTgUser { id: number; is_bot: boolean; first_name: string; username?: string }
export interface FakeTgChat { id: number; type: 'private' | 'group' | 'supergroup'; title?: string; first_name?: string }

export interface FakeTgMessage {
  message_id: number;
  chat: FakeTgChat;
  from: FakeTgUser;
  date: number;
  text?: string;
  entities?: Array<{ type: string; offset: number; length: number }>;
  caption?: string;
  forward_origin?: Record<string, unknown>;
  voice?: Record<string, unknown>;
  sticker?: Record<string, unknown>;
  location?: { latitude: number; longitude: number };
  photo?: Array<{ file_id: string; file_unique_id: string; width: number; height: number; file_size: number }>;
  document?: { file_id: string; file_unique_id: string; file_name: string; mime_type: string; file_size: number };
  reply_to_message?: { message_id: number };
  reply_markup?: { inline_keyboard: Array<Array<{ text: string; callback_data?: string }>> };
  edit_date?: number;
  /** the bot's message as sent (parse_mode, the raw text before parsing) */
  sent?: { parse_mode?: string; raw: string };
  /** every callback_data the message's keyboard ever had: a client with a stale view may press one */
  shownButtons?: Set<string>;
}

class ApiError extends Error {
  readonly code: number;
  readonly description: string;
  readonly parameters: Record<string, unknown> | undefined;
  constructor(code: number, description: string, parameters?: Record<string, unknown>) {
    super(description);
    this.code = code;
    this.description = description;
    this.parameters = parameters;
  }
}
const bad = (description: string) => new ApiError(400, `Bad Request: ${description}`);

const HTML_TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler', 'a', 'code', 'pre', 'blockquote', 'tg-emoji']);
const MARKDOWN_V2_RESERVED = '_*[]()~`>#+-=|{}.!';

/** Telegram's HTML: the visible text, or an error like the real one. */
export function parseTelegramHtml(html: string): string {
  let text = '';
  const open: string[] = [];
  for (let i = 0; i < html.length;) {
    const ch = html[i];
    if (ch === '<') {
      const tag = /^<(\/?)([a-zA-Z-]+)((?:\s+[a-zA-Z-]+(?:="[^"]*"|='[^']*'|=[^\s>]*)?)*)\s*>/.exec(html.slice(i));
      if (!tag) throw bad(`can't parse entities: Unsupported start tag at byte offset ${Buffer.byteLength(html.slice(0, i))}`);
      const name = tag[2].toLowerCase();
      if (!HTML_TAGS.has(name)) throw bad(`can't parse entities: Unsupported start tag "${name}" at byte offset ${Buffer.byteLength(html.slice(0, i))}`);
      if (tag[1]) {
        if (open.pop() !== name) throw bad(`can't parse entities: Unmatched end tag at byte offset ${Buffer.byteLength(html.slice(0, i))}, expected "</${open.at(-1) ?? ''}>", found "</${name}>"`);
      } else {
        open.push(name);
      }
      i += tag[0].length;
      continue;
    }
    if (ch === '>') throw bad(`can't parse entities: Character '>' is reserved at byte offset ${Buffer.byteLength(html.slice(0, i))}`);
    if (ch === '&') {
      const entity = /^&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/.exec(html.slice(i));
      if (entity) {
        const e = entity[1];
        text += e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'amp' ? '&' : e === 'quot' ? '"' : String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
        i += entity[0].length;
        continue;
      }
    }
    text += ch;
    i += 1;
  }
  if (open.length > 0) throw bad(`can't parse entities: Can't find end tag corresponding to start tag "${open.at(-1)}"`);
  return text;
}

/** MarkdownV2: every reserved character outside code must be escaped. */
export function parseMarkdownV2(source: string): string {
  let text = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') { text += source[i + 1] ?? ''; i++; continue; }
    if ('*_~|'.includes(ch)) continue; // formatting marks (balance is not checked here)
    if (MARKDOWN_V2_RESERVED.includes(ch)) throw bad(`can't parse entities: Character '${ch}' is reserved and must be escaped with the preceding '\\'`);
    text += ch;
  }
  return text;
}

export class FakeTelegram {
  readonly token: string;
  readonly bot: FakeTgUser;
  url = '';
  /** every call as "method" (in order) */
  readonly calls: string[] = [];
  readonly chatActions: Array<{ chat_id: string; action: string }> = [];
  readonly callbackAnswers: Array<{ callback_query_id: string; text?: string; show_alert?: boolean }> = [];
  /** every 400 the fake answered, as "method: description" */
  readonly rejected: string[] = [];
  getUpdatesCalls = 0;
  /** the next this-many formatted messages are refused as Telegram refuses broken entities */
  refuseFormatting = 0;

  private readonly updates: Array<Record<string, unknown> & { update_id: number }> = [];
  private nextUpdateId = 700_000_001;
  /** the id of the newest update ever made (Telegram's "last update id") */
  private lastUpdateId = 0;
  private nextUserId = 10_000_001;
  private readonly chats = new Map<number, { chat: FakeTgChat; messages: FakeTgMessage[]; nextId: number; started: boolean }>();
  private readonly files = new Map<string, { path: string; data: Buffer }>();
  private readonly openQueries = new Map<string, FakeTgUser>();
  private readonly rateLimits = new Map<string, Array<number>>();
  private readonly events = new EventEmitter();
  private server: Server | undefined;
  private pendingPoll: ((error: ApiError) => void) | undefined;
  /** setWebhook's registration: updates are POSTed there instead of waiting for getUpdates */
  private webhook: { url: string; secret?: string } | undefined;
  private delivering = false;
  /** webhook deliveries that got no 2xx (Telegram retries them) */
  webhookFailures = 0;

  constructor() {
    this.token = `${123_456_789}:AAF${Math.random().toString(36).slice(2).padEnd(12, 'x')}fake_bot_token_xyz`;
    this.bot = { id: 123_456_789, is_bot: true, first_name: 'Lares', username: 'lares_test_bot' };
    this.events.setMaxListeners(100);
  }

  /** The Bot API root to give grammY (TELEGRAM_API_URL). */
  get apiRoot(): string { return this.url; }

  user(firstName: string, options: { bot?: boolean } = {}): FakeTgUser {
    return { id: this.nextUserId++, is_bot: options.bot ?? false, first_name: firstName, username: firstName.toLowerCase() };
  }

  group(title: string): FakeTgChat {
    const chat: FakeTgChat = { id: -1_000_000_000_000 - this.chats.size, type: 'supergroup', title };
    this.chats.set(chat.id, { chat, messages: [], nextId: 1, started: true });
    return chat;
  }

  /** The user writes to the bot (in their private chat, or in a group). */
  says(from: FakeTgUser, text: string, options: { chat?: FakeTgChat } = {}): FakeTgMessage {
    return this.userMessage(from, options.chat, { text, ...entitiesOf(text) });
  }

  /** The user forwards a text written by `original` (a user, or a hidden user's name). */
  forwards(from: FakeTgUser, original: FakeTgUser | string, text: string): FakeTgMessage {
    const date = Math.floor(Date.now() / 1000) - 3600;
    const origin = typeof original === 'string' ? { type: 'hidden_user', date, sender_user_name: original } : { type: 'user', date, sender_user: original };
    return this.userMessage(from, undefined, { text, ...entitiesOf(text), forward_origin: origin });
  }

  /** A message Lares cannot read (a voice note, a sticker, a location…), as Telegram sends it. */
  sendsUnreadable(from: FakeTgUser, kind: 'voice' | 'sticker' | 'location'): FakeTgMessage {
    const content: Partial<FakeTgMessage> = kind === 'voice'
      ? { voice: { file_id: 'voice-1', file_unique_id: 'voice-1-u', duration: 3, mime_type: 'audio/ogg', file_size: 4000 } }
      : kind === 'sticker'
        ? { sticker: { file_id: 'sticker-1', file_unique_id: 'sticker-1-u', type: 'regular', width: 512, height: 512, is_animated: false, is_video: false, emoji: '👍' } }
        : { location: { latitude: 52.37, longitude: 4.89 } };
    return this.userMessage(from, undefined, content);
  }

  /** Telegram's update ids start again from `next` (after a week without updates, they restart at random). */
  restartUpdateIds(next: number): void {
    // Telegram does so only when it holds nothing (a bot idle for a week)
    if (this.updates.length > 0) throw new Error('update ids restart only when no update is held');
    this.nextUpdateId = next;
  }

  sendsPhoto(from: FakeTgUser, data: Buffer, caption?: string): FakeTgMessage {
    const id = `photo-${this.files.size + 1}`;
    this.files.set(id, { path: `photos/file_${this.files.size}.jpg`, data });
    this.files.set(`${id}-thumb`, { path: `photos/file_${this.files.size}_thumb.jpg`, data: data.subarray(0, Math.min(16, data.length)) });
    return this.userMessage(from, undefined, {
      caption,
      photo: [
        { file_id: `${id}-thumb`, file_unique_id: `${id}-thumb-u`, width: 90, height: 90, file_size: Math.min(16, data.length) },
        { file_id: id, file_unique_id: `${id}-u`, width: 800, height: 600, file_size: data.length },
      ],
    });
  }

  sendsDocument(from: FakeTgUser, fileName: string, mimeType: string, data: Buffer | string): FakeTgMessage {
    const id = `doc-${this.files.size + 1}`;
    const bytes = Buffer.from(data);
    this.files.set(id, { path: `documents/${fileName}`, data: bytes });
    return this.userMessage(from, undefined, { document: { file_id: id, file_unique_id: `${id}-u`, file_name: fileName, mime_type: mimeType, file_size: bytes.length } });
  }

  /** A press of an inline button on one of the bot's messages. */
  press(from: FakeTgUser, message: FakeTgMessage, data: string): string {
    if (!message.shownButtons?.has(data)) throw new Error(`no button with data ${data} on message ${message.message_id}`);
    const id = String(Math.floor(Math.random() * 1e15));
    this.openQueries.set(id, from);
    this.push({ callback_query: { id, from, message: this.toApi(message), chat_instance: '42', data } });
    return id;
  }

  /** The next `times` calls of `method` are answered 429 with retry_after. */
  rateLimit(method: string, retryAfterSeconds: number, times = 1): void {
    this.rateLimits.set(method, Array.from({ length: times }, () => retryAfterSeconds));
  }

  /** Messages in a chat (the bot's and the users'). */
  messages(chatId: number): FakeTgMessage[] {
    return this.chats.get(chatId)?.messages ?? [];
  }

  botMessages(chatId: number): FakeTgMessage[] {
    return this.messages(chatId).filter((m) => m.from.id === this.bot.id);
  }

  /** updates Telegram still holds (not yet confirmed by an offset) */
  pendingUpdates(): number {
    return this.updates.length;
  }

  waitFor<T>(predicate: () => T | undefined | null | false, what = 'a Telegram condition', timeoutMs = 15_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = predicate();
        if (value) { cleanup(); resolve(value); }
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${what}`)); }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); this.events.off('change', check); };
      this.events.on('change', check);
      check();
    });
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => { void this.handle(req, res); });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.webhook = undefined;
    this.pendingPoll?.(new ApiError(502, 'Bad Gateway'));
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server ? this.server.close(() => resolve()) : resolve());
  }

  // ---- internals ---------------------------------------------------------------------------

  private chatOf(chat: FakeTgChat) {
    let entry = this.chats.get(chat.id);
    if (!entry) { entry = { chat, messages: [], nextId: 1, started: false }; this.chats.set(chat.id, entry); }
    return entry;
  }

  private userMessage(from: FakeTgUser, chat: FakeTgChat | undefined, content: Partial<FakeTgMessage>): FakeTgMessage {
    const where = chat ?? { id: from.id, type: 'private' as const, first_name: from.first_name };
    const entry = this.chatOf(where);
    if (!chat) entry.started = true;
    const message: FakeTgMessage = { message_id: entry.nextId++, chat: where, from, date: Math.floor(Date.now() / 1000), ...content };
    entry.messages.push(message);
    this.push({ message: this.toApi(message) });
    return message;
  }

  private push(update: Record<string, unknown>): void {
    this.lastUpdateId = this.nextUpdateId;
    this.updates.push({ update_id: this.nextUpdateId++, ...update });
    this.changed();
    void this.deliver();
  }

  /** With a webhook set: POSTs the updates in order, one at a time, again and again until a 2xx. */
  private async deliver(): Promise<void> {
    if (this.delivering || !this.webhook) return;
    this.delivering = true;
    try {
      while (this.webhook && this.updates.length > 0) {
        const update = this.updates[0];
        let ok = false;
        try {
          const response = await fetch(this.webhook.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(this.webhook.secret ? { 'x-telegram-bot-api-secret-token': this.webhook.secret } : {}) },
            body: JSON.stringify(update),
            signal: AbortSignal.timeout(10_000),
          });
          await response.body?.cancel();
          ok = response.ok;
        } catch { /* the bot is down: try again later */ }
        if (ok) { if (this.updates[0] === update) this.updates.shift(); this.changed(); continue; }
        this.webhookFailures += 1;
        this.changed();
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      this.delivering = false;
    }
  }

  private changed(): void {
    this.events.emit('change');
  }

  private toApi(message: FakeTgMessage): Record<string, unknown> {
    const { sent: _sent, shownButtons: _shown, ...rest } = message;
    return JSON.parse(JSON.stringify(rest));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    try {
      const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
      if (file) {
        if (file[1] !== this.token) { reply(401, { ok: false, error_code: 401, description: 'Unauthorized' }); return; }
        const stored = [...this.files.values()].find((f) => f.path === file[2]);
        if (!stored) { reply(404, { ok: false, error_code: 404, description: 'Not Found' }); return; }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': stored.data.length }).end(stored.data);
        return;
      }
      const call = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
      if (!call) throw new ApiError(404, 'Not Found');
      if (call[1] !== this.token) throw new ApiError(401, 'Unauthorized');
      const method = call[2];
      this.calls.push(method);
      const params: Record<string, any> = Object.fromEntries(url.searchParams);
      const raw = await new Promise<string>((resolve, reject) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk) => { body += chunk; });
        req.on('end', () => resolve(body));
        req.on('error', reject);
      });
      if (raw) {
        if (!String(req.headers['content-type'] ?? '').includes('application/json')) throw bad('the fake accepts JSON bodies only');
        Object.assign(params, JSON.parse(raw));
      }
      const limited = this.rateLimits.get(method);
      if (limited && limited.length > 0) {
        const after = limited.shift()!;
        throw new ApiError(429, `Too Many Requests: retry after ${after}`, { retry_after: after });
      }
      const result = await this.route(method, params);
      reply(200, { ok: true, result });
    } catch (error) {
      if (error instanceof ApiError) {
        if (error.code === 400) this.rejected.push(`${url.pathname.split('/').pop()}: ${error.description}`);
        reply(error.code, { ok: false, error_code: error.code, description: error.description, ...(error.parameters ? { parameters: error.parameters } : {}) });
      } else {
        reply(500, { ok: false, error_code: 500, description: `Internal Server Error: ${(error as Error).message}` });
      }
    } finally {
      this.changed();
    }
  }

  private async route(method: string, p: Record<string, any>): Promise<unknown> {
    switch (method) {
      case 'getMe': return { ...this.bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };
      case 'setMyCommands': return true;
      case 'deleteWebhook': this.webhook = undefined; return true;
      case 'setWebhook': {
        if (typeof p.url !== 'string' || !/^https?:\/\//.test(p.url)) throw bad('bad webhook: An HTTPS URL must be provided for webhook');
        if (p.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(String(p.secret_token))) throw bad('bad webhook: secret token contains unallowed characters');
        this.webhook = { url: p.url, secret: p.secret_token };
        void this.deliver();
        return true;
      }
      case 'getWebhookInfo': return { url: this.webhook?.url ?? '', has_custom_certificate: false, pending_update_count: this.updates.length };
      case 'getUpdates':
        if (this.webhook) throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
        return this.getUpdates(p);
      case 'sendMessage': return this.sendMessage(p);
      case 'editMessageText': return this.editMessageText(p);
      case 'answerCallbackQuery': {
        const id = String(p.callback_query_id ?? '');
        if (!this.openQueries.has(id)) throw bad('query is too old and response timeout expired or query ID is invalid');
        this.openQueries.delete(id);
        if (p.text !== undefined && String(p.text).length > 200) throw bad('MESSAGE_TOO_LONG');
        this.callbackAnswers.push({ callback_query_id: id, text: p.text, show_alert: p.show_alert });
        return true;
      }
      case 'sendChatAction': {
        if (!['typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice', 'upload_document', 'choose_sticker', 'find_location'].includes(p.action)) throw bad('wrong parameter action in request');
        this.chatOrThrow(p.chat_id);
        this.chatActions.push({ chat_id: String(p.chat_id), action: p.action });
        return true;
      }
      case 'getFile': {
        const file = this.files.get(String(p.file_id ?? ''));
        if (!file) throw bad('invalid file_id');
        return { file_id: p.file_id, file_unique_id: `${p.file_id}-u`, file_size: file.data.length, file_path: file.path };
      }
      default:
        throw new ApiError(404, 'Not Found: method not found');
    }
  }

  private async getUpdates(p: Record<string, any>): Promise<unknown[]> {
    this.getUpdatesCalls += 1;
    const offset = Number(p.offset ?? 0);
    const limit = Math.min(Math.max(Number(p.limit ?? 100), 1), 100);
    const timeout = Math.max(Number(p.timeout ?? 0), 0);
    const allowed: string[] | undefined = Array.isArray(p.allowed_updates) && p.allowed_updates.length > 0 ? p.allowed_updates : undefined;
    // another long poll is waiting: Telegram ends it with a conflict
    this.pendingPoll?.(new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
    const pick = () => {
      // far past the newest update: Telegram confirms nothing and answers from the oldest it holds
      if (offset > this.lastUpdateId + 10) return this.updates.filter((u) => !allowed || allowed.some((k) => k in u)).slice(0, limit);
      if (offset > 0) { while (this.updates.length > 0 && this.updates[0].update_id < offset) this.updates.shift(); }
      if (offset < 0) this.updates.splice(0, Math.max(0, this.updates.length + offset));
      return this.updates.filter((u) => !allowed || allowed.some((k) => k in u)).slice(0, limit);
    };
    const now = pick();
    if (now.length > 0 || timeout === 0) return now;
    return new Promise((resolve, reject) => {
      const done = () => { clearTimeout(timer); this.events.off('change', check); if (this.pendingPoll === fail) this.pendingPoll = undefined; };
      const check = () => { const found = pick(); if (found.length > 0) { done(); resolve(found); } };
      const fail = (error: ApiError) => { done(); reject(error); };
      const timer = setTimeout(() => { done(); resolve([]); }, timeout * 1000);
      this.pendingPoll = fail;
      this.events.on('change', check);
    });
  }

  private chatOrThrow(chatId: unknown) {
    const entry = this.chats.get(Number(chatId));
    if (!entry) throw bad('chat not found');
    if (entry.chat.type === 'private' && !entry.started) throw new ApiError(403, "Forbidden: bot can't initiate conversation with a user");
    return entry;
  }

  /** The visible text of a message, checked like Telegram does. */
  private visibleText(text: unknown, parseMode: unknown): string {
    if (typeof text !== 'string' || text.trim() === '') throw bad('message text is empty');
    if (parseMode !== undefined && this.refuseFormatting > 0) {
      this.refuseFormatting -= 1;
      throw bad("can't parse entities: Can't find end tag corresponding to start tag \"b\"");
    }
    const visible = parseMode === 'HTML' ? parseTelegramHtml(text) : parseMode === 'MarkdownV2' ? parseMarkdownV2(text) : text;
    if (parseMode !== undefined && !['HTML', 'MarkdownV2', 'Markdown'].includes(String(parseMode))) throw bad(`unsupported parse_mode`);
    if (visible.trim() === '') throw bad('message text is empty');
    if (visible.length > 4096) throw bad('message is too long');
    return visible;
  }

  private checkMarkup(markup: any): FakeTgMessage['reply_markup'] {
    if (markup === undefined) return undefined;
    if (!Array.isArray(markup.inline_keyboard)) throw bad("can't parse reply keyboard markup JSON object");
    for (const row of markup.inline_keyboard) {
      for (const button of row) {
        if (typeof button.text !== 'string' || button.text === '') throw bad('text buttons are unallowed in the inline keyboard');
        if (button.callback_data !== undefined && (Buffer.byteLength(String(button.callback_data)) < 1 || Buffer.byteLength(String(button.callback_data)) > 64)) throw bad('BUTTON_DATA_INVALID');
      }
    }
    return markup.inline_keyboard.length > 0 ? markup : undefined;
  }

  private sendMessage(p: Record<string, any>): Record<string, unknown> {
    const entry = this.chatOrThrow(p.chat_id);
    const text = this.visibleText(p.text, p.parse_mode);
    const markup = this.checkMarkup(p.reply_markup);
    let replyTo: number | undefined;
    if (p.reply_parameters) {
      const target = Number(p.reply_parameters.message_id);
      if (entry.messages.some((m) => m.message_id === target)) replyTo = target;
      else if (!p.reply_parameters.allow_sending_without_reply) throw bad('message to be replied not found');
    }
    const message: FakeTgMessage = {
      message_id: entry.nextId++, chat: entry.chat, from: this.bot, date: Math.floor(Date.now() / 1000), text,
      ...(replyTo ? { reply_to_message: { message_id: replyTo } } : {}),
      ...(markup ? { reply_markup: markup } : {}),
      sent: { parse_mode: p.parse_mode, raw: p.text },
      ...(markup ? { shownButtons: new Set(markup.inline_keyboard.flat().map((b) => b.callback_data).filter((d): d is string => d !== undefined)) } : {}),
    };
    entry.messages.push(message);
    return this.toApi(message);
  }

  private editMessageText(p: Record<string, any>): Record<string, unknown> {
    const entry = this.chatOrThrow(p.chat_id);
    const message = entry.messages.find((m) => m.message_id === Number(p.message_id));
    if (!message || message.from.id !== this.bot.id) throw bad('message to edit not found');
    const text = this.visibleText(p.text, p.parse_mode);
    const markup = this.checkMarkup(p.reply_markup);
    if (text === message.text && JSON.stringify(markup ?? null) === JSON.stringify(message.reply_markup ?? null)) {
      throw bad('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
    }
    message.text = text;
    if (markup) message.reply_markup = markup; else delete message.reply_markup;
    message.edit_date = Math.floor(Date.now() / 1000);
    message.sent = { parse_mode: p.parse_mode, raw: p.text };
    return this.toApi(message);
  }
}

/** Telegram's entities for a text: a `bot_command` for each /command (at the start or after a space). */
function entitiesOf(text: string): { entities?: FakeTgMessage['entities'] } {
  const entities: NonNullable<FakeTgMessage['entities']> = [];
  for (const match of text.matchAll(/(^|\s)(\/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?)(?=$|\s|[.,!?;:])/g)) {
    entities.push({ type: 'bot_command', offset: match.index + match[1].length, length: match[2].length });
  }
  return entities.length > 0 ? { entities } : {};
}

export async function startFakeTelegram(): Promise<FakeTelegram> {
  const fake = new FakeTelegram();
  await fake.start();
  return fake;
}
