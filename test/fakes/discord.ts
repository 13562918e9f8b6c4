// A fake Discord that the real discord.js 14 client connects to: REST API v10 and a Gateway
// WebSocket on 127.0.0.1. Strict where Discord is strict (bot token, 2,000-character content,
// unknown channels/messages/emoji, editing others' messages, intents), so the channel code is
// tested against the rules the real service enforces.
//
// Point discord.js at it with `new Client({ rest: { api: fake.apiUrl } })`; the gateway URL
// comes from GET /gateway/bot. discord.js uses zlib-stream compression only when zlib-sync is
// installed (it is not), so frames are plain JSON text.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const DISCORD_EPOCH = 1_420_070_400_000n;

// Gateway opcodes and intents (discord-api-types names in comments)
const OP = { DISPATCH: 0, HEARTBEAT: 1, IDENTIFY: 2, RESUME: 6, RECONNECT: 7, INVALID_SESSION: 9, HELLO: 10, HEARTBEAT_ACK: 11 } as const;
export const INTENTS = {
  Guilds: 1 << 0,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  DirectMessages: 1 << 12,
  DirectMessageReactions: 1 << 13,
  MessageContent: 1 << 15,
} as const;

export interface FakeUser { id: string; username: string; global_name?: string | null; bot?: boolean }

export interface FakeAttachmentInput { filename: string; contentType: string; data: Buffer | string }

export interface FakeAttachment {
  id: string; filename: string; size: number; url: string; proxy_url: string; content_type: string;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  author: { id: string; username: string; global_name: string | null; discriminator: string; avatar: null; bot?: boolean };
  content: string;
  timestamp: string;
  edited_timestamp: string | null;
  tts: false;
  mention_everyone: false;
  mentions: unknown[];
  mention_roles: unknown[];
  attachments: FakeAttachment[];
  embeds: unknown[];
  pinned: false;
  type: number;
  flags: number;
  message_reference?: { message_id: string; channel_id: string; guild_id?: string };
  /** emoji → ids of the users who reacted with it */
  reactionsBy: Map<string, Set<string>>;
  /** the body the bot sent (for assertions on allowed_mentions and the like) */
  sentBody?: Record<string, unknown>;
  /** message components (action rows of buttons) the bot put on the message */
  components?: Array<{ type: number; components: Array<{ type: number; custom_id?: string; label?: string; style?: number }> }>;
  /** every button custom_id the message ever showed: a client with a stale view may still press one */
  shownButtons?: Set<string>;
}

/** A button press (INTERACTION_CREATE) and what the bot answered through the callback route. */
export interface FakeInteraction {
  id: string;
  token: string;
  userId: string;
  messageId: string;
  customId: string;
  /** the callback the bot sent: 4 reply (flags 64: ephemeral), 6 deferred update, 7 update the message */
  response?: { type: number; data?: Record<string, unknown> };
  /** follow-up messages (POST /webhooks/{application}/{token}), allowed only once acknowledged */
  followUps: Array<{ content: string; flags?: number }>;
}

interface FakeChannel {
  id: string;
  type: 0 | 1;
  guild_id?: string;
  name?: string;
  recipient?: FakeUser;
  messages: FakeMessage[];
}

interface Session {
  id: string;
  intents: number;
  seq: number;
  /** every dispatch of this session, kept so a RESUME can replay what the client missed */
  sent: Array<{ s: number; payload: string }>;
  socket: WebSocket | undefined;
}

export interface FakeDiscordOptions {
  token?: string;
  botName?: string;
  channelName?: string;
  /** the HELLO heartbeat interval, in milliseconds */
  heartbeatIntervalMs?: number;
}

class HttpError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;
  constructor(status: number, body: Record<string, unknown>) {
    super(String(body.message));
    this.status = status;
    this.body = body;
  }
}

const unknownChannel = () => new HttpError(404, { message: 'Unknown Channel', code: 10003 });
const unknownMessage = () => new HttpError(404, { message: 'Unknown Message', code: 10008 });
const formError = (field: string, code: string, message: string) =>
  new HttpError(400, { message: 'Invalid Form Body', code: 50035, errors: { [field]: { _errors: [{ code, message }] } } });

export class FakeDiscord {
  readonly token: string;
  readonly bot: FakeUser;
  readonly guildId: string;
  readonly channelId: string;
  readonly heartbeatIntervalMs: number;
  /** how many times the bot triggered the typing indicator */
  typingCount = 0;
  heartbeats = 0;
  identifies = 0;
  resumes = 0;
  /** REST requests the fake does not implement, as "METHOD /path" (should stay empty) */
  readonly unhandled: string[] = [];
  /** every REST request, as "METHOD /path" */
  readonly requests: string[] = [];
  /** every button press, with the bot's answer once it came */
  readonly interactions: FakeInteraction[] = [];

  private readonly channels = new Map<string, FakeChannel>();
  private readonly attachmentData = new Map<string, { contentType: string; data: Buffer }>();
  private readonly sessions = new Map<string, Session>();
  private readonly events = new EventEmitter();
  private readonly channelName: string;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private lastId = 0n;
  private port = 0;

  constructor(options: FakeDiscordOptions = {}) {
    this.token = options.token ?? 'fake-bot-token.' + Math.random().toString(36).slice(2);
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
    this.channelName = options.channelName ?? 'lares';
    this.bot = { id: this.snowflake(), username: options.botName ?? 'Lares', global_name: null, bot: true };
    this.guildId = this.snowflake();
    this.channelId = this.snowflake();
    this.channels.set(this.channelId, { id: this.channelId, type: 0, guild_id: this.guildId, name: this.channelName, messages: [] });
    this.events.setMaxListeners(100);
  }

  get apiUrl(): string { return `http://127.0.0.1:${this.port}/api`; }
  get gatewayUrl(): string { return `ws://127.0.0.1:${this.port}/gateway`; }
  /** number of gateway sessions that are identified and have an open socket */
  get connectedSessions(): number {
    return [...this.sessions.values()].filter((s) => s.socket !== undefined).length;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => { void this.handleHttp(req, res); });
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/gateway') { socket.destroy(); return; }
      wss.handleUpgrade(req, socket, head, (ws) => this.onGatewayConnection(ws, url));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    this.wss = wss;
    return this;
  }

  async close(): Promise<void> {
    for (const client of this.wss?.clients ?? []) client.terminate();
    this.wss?.close();
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }
  }

  /** A new Discord id, increasing with time like real snowflakes. */
  snowflake(): string {
    let id = (BigInt(Date.now()) - DISCORD_EPOCH) << 22n;
    if (id <= this.lastId) id = this.lastId + 1n;
    this.lastId = id;
    return id.toString();
  }

  /** A user id and name for tests (not a bot). */
  user(username: string): FakeUser {
    return { id: this.snowflake(), username, global_name: null };
  }

  /** The DM channel between the bot and a user (created on first use). */
  dmChannel(user: FakeUser): string {
    for (const channel of this.channels.values()) if (channel.type === 1 && channel.recipient?.id === user.id) return channel.id;
    const id = this.snowflake();
    this.channels.set(id, { id, type: 1, recipient: user, messages: [] });
    return id;
  }

  /**
   * A person writes in a channel: the message is stored and dispatched to every connected
   * session. With no session connected (the bot is down) it is only stored, as on Discord.
   */
  userSays(channelId: string, author: FakeUser, content: string, options: { attachments?: FakeAttachmentInput[]; replyTo?: string } = {}): FakeMessage {
    const channel = this.channelOrThrow(channelId);
    const attachments = (options.attachments ?? []).map((a) => {
      const attachmentId = this.snowflake();
      const data = Buffer.isBuffer(a.data) ? a.data : Buffer.from(a.data, 'utf8');
      this.attachmentData.set(attachmentId, { contentType: a.contentType, data });
      const url = `http://127.0.0.1:${this.port}/attachments/${channelId}/${attachmentId}/${encodeURIComponent(a.filename)}`;
      return { id: attachmentId, filename: a.filename, size: data.length, url, proxy_url: url, content_type: a.contentType };
    });
    const message = this.newMessage(channel, author, content, attachments, options.replyTo);
    channel.messages.push(message);
    this.dispatchMessageCreate(channel, message);
    this.changed();
    return message;
  }

  /** A user adds a reaction to a message: stored and dispatched as MESSAGE_REACTION_ADD. */
  react(user: FakeUser | string, messageId: string, emoji: string): void {
    const userId = typeof user === 'string' ? user : user.id;
    const { channel, message } = this.findMessage(messageId);
    this.addReaction(channel, message, userId, emoji, typeof user === 'string' ? undefined : user);
  }

  /**
   * A user presses a button on one of the bot's messages: dispatched as INTERACTION_CREATE (no
   * intent needed), answered through POST /interactions/{id}/{token}/callback within Discord's
   * rules (once; types 4, 5, 6, 7).
   */
  pressButton(user: FakeUser, messageId: string, customId: string): FakeInteraction {
    const { channel, message } = this.findMessage(messageId);
    if (!message.shownButtons?.has(customId)) throw new Error(`no button ${customId} on message ${messageId}`);
    const interaction: FakeInteraction = { id: this.snowflake(), token: `itoken-${Math.random().toString(36).slice(2)}`, userId: user.id, messageId, customId, followUps: [] };
    this.interactions.push(interaction);
    const discordUser = { ...user, global_name: user.global_name ?? null, discriminator: '0', avatar: null };
    const isDm = channel.type === 1;
    const data: Record<string, unknown> = {
      id: interaction.id, application_id: this.bot.id, type: 3, token: interaction.token, version: 1,
      data: { custom_id: customId, component_type: 2 },
      channel_id: channel.id, channel: { id: channel.id, type: channel.type },
      message: this.toApi(message, channel), app_permissions: '1071698660929', locale: 'en-US', entitlements: [],
      authorizing_integration_owners: { 0: this.guildId }, context: isDm ? 1 : 0,
      ...(isDm ? { user: discordUser } : {
        guild_id: channel.guild_id, guild_locale: 'en-US',
        member: { user: discordUser, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, permissions: '1071698660929' },
      }),
    };
    this.dispatch('INTERACTION_CREATE', () => data);
    this.changed();
    return interaction;
  }

  /** Messages of a channel, oldest first. */
  messages(channelId: string = this.channelId): FakeMessage[] {
    return [...this.channelOrThrow(channelId).messages];
  }

  /** Messages the bot posted in a channel, oldest first. */
  botMessages(channelId: string = this.channelId): FakeMessage[] {
    return this.messages(channelId).filter((m) => m.author.id === this.bot.id);
  }

  message(messageId: string): FakeMessage {
    return this.findMessage(messageId).message;
  }

  /** Resolves with the predicate's first truthy value, re-checked after every change in the fake. */
  waitFor<T>(predicate: () => T | undefined | null | false, options: { timeoutMs?: number; what?: string } = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? 15_000;
    return new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        let value: T | undefined | null | false;
        try { value = predicate(); } catch (error) { finish(); reject(error); return true; }
        if (value) { finish(); resolve(value); return true; }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`fake Discord: timed out after ${timeoutMs} ms waiting for ${options.what ?? predicate.toString()}`));
      }, timeoutMs);
      const finish = () => { clearTimeout(timer); this.events.off('change', check); };
      this.events.on('change', check);
      check();
    });
  }

  /**
   * Closes every gateway socket with a resumable code (4000), as when Discord drops a connection.
   * With `resumable: false` the sessions are forgotten too: the client's RESUME is answered with
   * INVALID_SESSION and it must identify again, and what happened meanwhile is not replayed.
   */
  dropConnections(options: { resumable?: boolean } = {}): void {
    for (const session of this.sessions.values()) {
      session.socket?.close(4000, 'Unknown error');
      session.socket = undefined;
      if (options.resumable === false) this.sessions.delete(session.id);
    }
    this.changed();
  }

  // ---- internals -------------------------------------------------------------------------

  private changed(): void {
    this.events.emit('change');
  }

  private channelOrThrow(channelId: string): FakeChannel {
    const channel = this.channels.get(channelId);
    if (!channel) throw unknownChannel();
    return channel;
  }

  private findMessage(messageId: string): { channel: FakeChannel; message: FakeMessage } {
    for (const channel of this.channels.values()) {
      const message = channel.messages.find((m) => m.id === messageId);
      if (message) return { channel, message };
    }
    throw unknownMessage();
  }

  private newMessage(channel: FakeChannel, author: FakeUser, content: string, attachments: FakeAttachment[], replyTo?: string): FakeMessage {
    const id = this.snowflake();
    const message: FakeMessage = {
      id,
      channel_id: channel.id,
      author: { id: author.id, username: author.username, global_name: author.global_name ?? null, discriminator: '0', avatar: null, ...(author.bot ? { bot: true } : {}) },
      content,
      timestamp: new Date(Number((BigInt(id) >> 22n) + DISCORD_EPOCH)).toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments,
      embeds: [],
      pinned: false,
      type: replyTo ? 19 : 0,
      flags: 0,
      reactionsBy: new Map(),
    };
    if (replyTo) message.message_reference = { message_id: replyTo, channel_id: channel.id, ...(channel.guild_id ? { guild_id: channel.guild_id } : {}) };
    return message;
  }

  /** The message as Discord's API returns it. */
  private toApi(message: FakeMessage, channel: FakeChannel): Record<string, unknown> {
    const { reactionsBy, sentBody: _sentBody, shownButtons: _shown, ...rest } = message;
    const out: Record<string, unknown> = { ...rest };
    if (reactionsBy.size > 0) {
      out.reactions = [...reactionsBy.entries()].filter(([, users]) => users.size > 0).map(([emoji, users]) => ({
        count: users.size, me: users.has(this.bot.id), emoji: { id: null, name: emoji },
        count_details: { burst: 0, normal: users.size }, me_burst: false, burst_colors: [],
      }));
    }
    if (message.message_reference) {
      const referenced = channel.messages.find((m) => m.id === message.message_reference!.message_id);
      if (referenced) out.referenced_message = this.toApi({ ...referenced, message_reference: undefined }, channel);
    }
    return out;
  }

  private dispatchMessageCreate(channel: FakeChannel, message: FakeMessage): void {
    const isDm = channel.type === 1;
    const data = this.toApi(message, channel);
    if (!isDm) {
      data.guild_id = channel.guild_id;
      data.member = { roles: [], joined_at: message.timestamp, deaf: false, mute: false, flags: 0 };
    } else {
      data.channel_type = 1;
    }
    const needed = isDm ? INTENTS.DirectMessages : INTENTS.GuildMessages;
    this.dispatch('MESSAGE_CREATE', (intents) => {
      if ((intents & needed) === 0) return undefined;
      // Without the privileged MESSAGE_CONTENT intent, guild messages arrive without their content
      // (except the bot's own and DMs), as on Discord.
      if (!isDm && (intents & INTENTS.MessageContent) === 0 && message.author.id !== this.bot.id) {
        return { ...data, content: '', attachments: [], embeds: [] };
      }
      return data;
    });
  }

  private addReaction(channel: FakeChannel, message: FakeMessage, userId: string, emoji: string, user?: FakeUser): void {
    let users = message.reactionsBy.get(emoji);
    if (!users) { users = new Set(); message.reactionsBy.set(emoji, users); }
    if (users.has(userId)) return; // Discord ignores a second identical reaction
    users.add(userId);
    const isDm = channel.type === 1;
    const data: Record<string, unknown> = {
      user_id: userId, channel_id: channel.id, message_id: message.id, emoji: { id: null, name: emoji },
      burst: false, type: 0, message_author_id: message.author.id,
    };
    if (!isDm) {
      data.guild_id = channel.guild_id;
      const memberUser = userId === this.bot.id ? this.bot : (user ?? { id: userId, username: `user${userId.slice(-4)}`, global_name: null });
      data.member = { user: { ...memberUser, discriminator: '0', avatar: null }, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 };
    }
    const needed = isDm ? INTENTS.DirectMessageReactions : INTENTS.GuildMessageReactions;
    this.dispatch('MESSAGE_REACTION_ADD', (intents) => ((intents & needed) === 0 ? undefined : data));
    this.changed();
  }

  private dispatch(type: string, dataFor: (intents: number) => Record<string, unknown> | undefined): void {
    for (const session of this.sessions.values()) {
      const data = dataFor(session.intents);
      if (data !== undefined) this.sendDispatch(session, type, data);
    }
  }

  private sendDispatch(session: Session, type: string, data: unknown): void {
    session.seq += 1;
    const payload = JSON.stringify({ op: OP.DISPATCH, t: type, s: session.seq, d: data });
    session.sent.push({ s: session.seq, payload });
    if (session.sent.length > 1000) session.sent.shift();
    session.socket?.send(payload);
  }

  // ---- gateway -------------------------------------------------------------------------

  private onGatewayConnection(ws: WebSocket, url: URL): void {
    if (url.searchParams.get('v') !== '10') { ws.close(4012, 'Invalid API version'); return; }
    if (url.searchParams.get('encoding') !== 'json') { ws.close(4002, 'Decode error'); return; }
    if (url.searchParams.has('compress')) { ws.close(4002, 'Decode error (the fake does not compress)'); return; }
    let session: Session | undefined;
    ws.send(JSON.stringify({ op: OP.HELLO, d: { heartbeat_interval: this.heartbeatIntervalMs }, s: null, t: null }));
    ws.on('message', (raw, isBinary) => {
      if (isBinary) { ws.close(4002, 'Decode error'); return; }
      let payload: { op?: number; d?: any };
      try { payload = JSON.parse(raw.toString()); } catch { ws.close(4002, 'Decode error'); return; }
      switch (payload.op) {
        case OP.HEARTBEAT:
          this.heartbeats += 1;
          ws.send(JSON.stringify({ op: OP.HEARTBEAT_ACK, d: null, s: null, t: null }));
          this.changed();
          return;
        case OP.IDENTIFY: {
          if (session) { ws.close(4005, 'Already authenticated'); return; }
          if (payload.d?.token !== this.token) { ws.close(4004, 'Authentication failed'); return; }
          if (typeof payload.d?.intents !== 'number') { ws.close(4013, 'Invalid intent(s)'); return; }
          session = { id: this.snowflake(), intents: payload.d.intents, seq: 0, sent: [], socket: ws };
          this.sessions.set(session.id, session);
          this.identifies += 1;
          this.sendDispatch(session, 'READY', {
            v: 10, user: { ...this.bot, discriminator: '0', avatar: null, verified: true, flags: 0, mfa_enabled: false },
            guilds: [{ id: this.guildId, unavailable: true }], session_id: session.id, resume_gateway_url: this.gatewayUrl,
            shard: [0, 1], application: { id: this.bot.id, flags: 0 }, private_channels: [], relationships: [], user_settings: {},
          });
          if ((session.intents & INTENTS.Guilds) !== 0) this.sendDispatch(session, 'GUILD_CREATE', this.guildPayload());
          this.changed();
          return;
        }
        case OP.RESUME: {
          const known = this.sessions.get(String(payload.d?.session_id));
          if (!known || payload.d?.token !== this.token) {
            ws.send(JSON.stringify({ op: OP.INVALID_SESSION, d: false, s: null, t: null }));
            return;
          }
          session = known;
          session.socket = ws;
          this.resumes += 1;
          const seq = Number(payload.d?.seq ?? 0);
          for (const event of session.sent) if (event.s > seq) ws.send(event.payload);
          this.sendDispatch(session, 'RESUMED', {});
          this.changed();
          return;
        }
        default:
          // presence updates, voice state and the like are accepted and ignored
          return;
      }
    });
    ws.on('close', (code) => {
      if (!session) return;
      if (session.socket === ws) session.socket = undefined;
      // A client that closes with 1000/1001 ends its session (it cannot be resumed), as on Discord.
      if (code === 1000 || code === 1001) this.sessions.delete(session.id);
      this.changed();
    });
  }

  private guildPayload(): Record<string, unknown> {
    const channels = [...this.channels.values()].filter((c) => c.guild_id === this.guildId).map((c) => ({
      id: c.id, type: c.type, guild_id: this.guildId, name: c.name, position: 0, permission_overwrites: [], nsfw: false, parent_id: null,
      last_message_id: c.messages.at(-1)?.id ?? null, topic: null, rate_limit_per_user: 0,
    }));
    return {
      id: this.guildId, name: 'Home', icon: null, owner_id: this.snowflake(), unavailable: false, member_count: 2, large: false,
      joined_at: new Date().toISOString(), features: [], emojis: [], stickers: [], threads: [], stage_instances: [], guild_scheduled_events: [],
      roles: [{ id: this.guildId, name: '@everyone', permissions: '1071698660929', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }],
      members: [], channels, voice_states: [], presences: [], premium_tier: 0, preferred_locale: 'en-US', afk_channel_id: null, afk_timeout: 300,
      verification_level: 0, default_message_notifications: 0, explicit_content_filter: 0, mfa_level: 0, nsfw_level: 0, system_channel_id: null,
    };
  }

  // ---- REST ------------------------------------------------------------------------------

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    try {
      if (url.pathname.startsWith('/attachments/')) { this.serveAttachment(url, res); return; }
      const match = /^\/api\/v(\d+)(\/.*)$/.exec(url.pathname);
      if (!match) throw new HttpError(404, { message: '404: Not Found', code: 0 });
      if (match[1] !== '10') throw new HttpError(400, { message: 'Invalid API version', code: 50041 });
      const path = match[2];
      this.requests.push(`${method} ${path}`);
      // interaction callbacks are authorised by the interaction's token, not the bot's
      if (!path.startsWith('/interactions/') && !path.startsWith('/webhooks/') && req.headers.authorization !== `Bot ${this.token}`) throw new HttpError(401, { message: '401: Unauthorized', code: 0 });
      const body = method === 'GET' || method === 'DELETE' ? undefined : await readJson(req);
      const result = this.route(method, path, url.searchParams, body);
      if (result === undefined) { res.writeHead(204).end(); return; }
      send(res, 200, result);
    } catch (error) {
      if (error instanceof HttpError) { send(res, error.status, error.body); return; }
      send(res, 500, { message: `fake Discord failed: ${(error as Error).message}`, code: 0 });
    } finally {
      this.changed();
    }
  }

  private route(method: string, path: string, query: URLSearchParams, body: any): unknown {
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/gateway/bot') {
      return { url: this.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } };
    }
    if (method === 'GET' && path === '/users/@me') return { ...this.bot, discriminator: '0', avatar: null, verified: true, flags: 0 };
    if (method === 'POST' && path === '/users/@me/channels') {
      const recipientId = String(body?.recipient_id ?? '');
      const existing = [...this.channels.values()].find((c) => c.type === 1 && c.recipient?.id === recipientId);
      const id = existing?.id ?? this.dmChannel({ id: recipientId, username: `user${recipientId.slice(-4)}`, global_name: null });
      return this.channelPayload(this.channels.get(id)!);
    }
    if ((m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path)) && method === 'POST') return this.interactionCallback(m[1], m[2], body);
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)$/.exec(path)) && method === 'POST') return this.interactionFollowUp(m[1], m[2], body);
    if ((m = /^\/channels\/(\d+)$/.exec(path)) && method === 'GET') return this.channelPayload(this.channelOrThrow(m[1]));
    if ((m = /^\/channels\/(\d+)\/typing$/.exec(path)) && method === 'POST') {
      this.channelOrThrow(m[1]);
      this.typingCount += 1;
      return undefined;
    }
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(path))) {
      const channel = this.channelOrThrow(m[1]);
      if (method === 'GET') return this.listMessages(channel, query);
      if (method === 'POST') return this.botSends(channel, body);
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path))) {
      const channel = this.channelOrThrow(m[1]);
      const message = channel.messages.find((x) => x.id === m![2]);
      if (!message) throw unknownMessage();
      if (method === 'GET') return this.toApi(message, channel);
      if (method === 'PATCH') return this.botEdits(channel, message, body);
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/.exec(path))) {
      const channel = this.channelOrThrow(m[1]);
      const message = channel.messages.find((x) => x.id === m![2]);
      if (!message) throw unknownMessage();
      const emoji = decodeURIComponent(m[3]);
      if (!isValidEmoji(emoji)) throw new HttpError(400, { message: 'Unknown Emoji', code: 10014 });
      if (method === 'PUT') { this.addReaction(channel, message, this.bot.id, emoji); return undefined; }
      if (method === 'DELETE') { message.reactionsBy.get(emoji)?.delete(this.bot.id); return undefined; }
    }
    this.unhandled.push(`${method} ${path}`);
    throw new HttpError(404, { message: '404: Not Found', code: 0 });
  }

  private channelPayload(channel: FakeChannel): Record<string, unknown> {
    if (channel.type === 1) {
      return { id: channel.id, type: 1, last_message_id: channel.messages.at(-1)?.id ?? null, recipients: [{ ...channel.recipient, discriminator: '0', avatar: null }] };
    }
    return { id: channel.id, type: 0, guild_id: channel.guild_id, name: channel.name, position: 0, permission_overwrites: [], nsfw: false, parent_id: null, last_message_id: channel.messages.at(-1)?.id ?? null, topic: null, rate_limit_per_user: 0 };
  }

  /** GET /channels/{id}/messages: newest first, like Discord, whatever the paging direction. */
  private listMessages(channel: FakeChannel, query: URLSearchParams): unknown[] {
    const limit = query.has('limit') ? Number(query.get('limit')) : 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw formError('limit', 'NUMBER_TYPE_MAX', 'int value should be between 1 and 100.');
    const sorted = [...channel.messages].sort((a, b) => compareIds(a.id, b.id));
    let picked: FakeMessage[];
    if (query.has('after')) {
      const after = query.get('after')!;
      picked = sorted.filter((msg) => compareIds(msg.id, after) > 0).slice(0, limit);
    } else if (query.has('before')) {
      const before = query.get('before')!;
      picked = sorted.filter((msg) => compareIds(msg.id, before) < 0).slice(-limit);
    } else {
      picked = sorted.slice(-limit);
    }
    return picked.reverse().map((msg) => this.toApi(msg, channel));
  }

  private botSends(channel: FakeChannel, body: any): Record<string, unknown> {
    if (body === undefined) throw new HttpError(400, { message: 'the fake accepts JSON bodies only (no file uploads)', code: 50109 });
    const content = body.content ?? '';
    if (typeof content !== 'string') throw formError('content', 'BASE_TYPE_BAD_TYPE', 'Must be a string.');
    if ([...content].length > 2000) throw formError('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
    if (content.trim() === '' && !(body.embeds?.length > 0) && !(body.sticker_ids?.length > 0)) {
      throw new HttpError(400, { message: 'Cannot send an empty message', code: 50006 });
    }
    let replyTo: string | undefined;
    if (body.message_reference) {
      const ref = String(body.message_reference.message_id ?? '');
      const exists = channel.messages.some((x) => x.id === ref);
      if (exists) replyTo = ref;
      else if (body.message_reference.fail_if_not_exists !== false) {
        throw formError('message_reference', 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', 'Unknown message');
      }
    }
    const message = this.newMessage(channel, this.bot, content, [], replyTo);
    message.sentBody = body;
    if (Array.isArray(body.components) && body.components.length > 0) {
      message.components = body.components;
      message.shownButtons = new Set(message.components!.flatMap((row) => row.components).map((c) => c.custom_id).filter((id): id is string => id !== undefined));
    }
    channel.messages.push(message);
    this.dispatchMessageCreate(channel, message);
    return this.toApi(message, channel);
  }

  /** A follow-up to an interaction: only with its token, and only after the interaction was acknowledged. */
  private interactionFollowUp(applicationId: string, token: string, body: any): Record<string, unknown> {
    const interaction = this.interactions.find((i) => i.token === token);
    if (applicationId !== this.bot.id || !interaction || !interaction.response) throw new HttpError(404, { message: 'Unknown Webhook', code: 10015 });
    if (!(typeof body?.content === 'string' && body.content.trim() !== '')) throw new HttpError(400, { message: 'Cannot send an empty message', code: 50006 });
    interaction.followUps.push({ content: body.content, flags: body.flags });
    const { channel } = this.findMessage(interaction.messageId);
    return {
      id: this.snowflake(), type: 0, channel_id: channel.id, content: body.content, author: { ...this.bot, discriminator: '0', avatar: null },
      timestamp: new Date().toISOString(), edited_timestamp: null, tts: false, mention_everyone: false, mentions: [], mention_roles: [],
      attachments: [], embeds: [], components: [], pinned: false, flags: body.flags ?? 0, webhook_id: this.bot.id, application_id: this.bot.id,
    };
  }

  private interactionCallback(id: string, token: string, body: any): undefined {
    const interaction = this.interactions.find((i) => i.id === id);
    if (!interaction || interaction.token !== token) throw new HttpError(404, { message: 'Unknown interaction', code: 10062 });
    if (interaction.response) throw new HttpError(400, { message: 'Interaction has already been acknowledged.', code: 40060 });
    const type = Number(body?.type);
    if (![4, 5, 6, 7].includes(type)) throw formError('type', 'BASE_TYPE_CHOICES', 'Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.');
    if (type === 4 && !(typeof body.data?.content === 'string' && body.data.content.trim() !== '')) throw new HttpError(400, { message: 'Cannot send an empty message', code: 50006 });
    interaction.response = { type, data: body.data };
    if (type === 7) {
      const { channel, message } = this.findMessage(interaction.messageId);
      this.botEdits(channel, message, body.data ?? {});
    }
    return undefined;
  }

  private botEdits(channel: FakeChannel, message: FakeMessage, body: any): Record<string, unknown> {
    if (message.author.id !== this.bot.id) throw new HttpError(403, { message: 'Cannot edit a message authored by another user', code: 50005 });
    if (body?.content !== undefined) {
      if (typeof body.content !== 'string') throw formError('content', 'BASE_TYPE_BAD_TYPE', 'Must be a string.');
      if ([...body.content].length > 2000) throw formError('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
      message.content = body.content;
    }
    if (body?.components !== undefined) message.components = body.components;
    message.edited_timestamp = new Date().toISOString();
    const data = { ...this.toApi(message, channel), ...(channel.guild_id ? { guild_id: channel.guild_id } : {}) };
    this.dispatch('MESSAGE_UPDATE', (intents) => ((intents & (channel.type === 1 ? INTENTS.DirectMessages : INTENTS.GuildMessages)) === 0 ? undefined : data));
    return this.toApi(message, channel);
  }

  private serveAttachment(url: URL, res: ServerResponse): void {
    const parts = url.pathname.split('/');
    const stored = this.attachmentData.get(parts[3] ?? '');
    if (!stored) { send(res, 404, { message: '404: Not Found', code: 0 }); return; }
    res.writeHead(200, { 'content-type': stored.contentType, 'content-length': stored.data.length }).end(stored.data);
  }
}

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  return new FakeDiscord(options).start();
}

function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A unicode emoji, or a custom one as name:id. */
function isValidEmoji(emoji: string): boolean {
  return /^\p{Extended_Pictographic}/u.test(emoji) || /^[\p{Regional_Indicator}#*0-9]/u.test(emoji) && /[\u20E3\p{Regional_Indicator}]/u.test(emoji) || /^\w{2,32}:\d{15,21}$/.test(emoji);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (raw === '') return {};
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return undefined;
  try { return JSON.parse(raw); } catch { throw new HttpError(400, { message: '400: Bad Request', code: 50109 }); }
}
