// The approval queue as channels see it (terminal /approve, Discord buttons,
// `lares approvals`): list, show, approve, deny, and a stream of events
// (approval_needed, approval_result, job_due). Two implementations with one
// interface: REST + SSE against `lares mcp`, or the queue object in-process.
import { LaresError, errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import { ApprovalError, type ApprovalRecord } from '../mcp-server/approvals.ts';
import { followEvents, type EventFollower, type LaresEvent, type LaresEventType } from '../mcp-server/events.ts';
import type { LaresToolRuntime } from '../mcp-server/runtime.ts';

export type { ApprovalRecord, LaresEvent, LaresEventType };

export interface ApprovalSubscription { close(): void }

export interface SubscribeOptions {
  /** replay stored events after this id; default: only new events */
  lastEventId?: number;
  /** called when the stream drops or comes back, for status lines */
  onStatus?(status: 'connected' | 'disconnected', detail?: string): void;
}

export interface ApprovalsClient {
  readonly kind: 'http' | 'in-process';
  listPending(): Promise<ApprovalRecord[]>;
  get(id: string): Promise<ApprovalRecord>;
  /** the latest decisions, newest first (Letta mode has none) */
  listRecent?(limit?: number): Promise<ApprovalRecord[]>;
  /** approves and runs the stored call; resolves with the finished record (executed or failed) */
  approve(id: string, options?: { always?: boolean }): Promise<ApprovalRecord>;
  deny(id: string, reason?: string): Promise<ApprovalRecord>;
  /** events as they happen; reconnects by itself (HTTP) with Last-Event-ID */
  subscribe(onEvent: (event: LaresEvent) => void, options?: SubscribeOptions): ApprovalSubscription;
  close(): Promise<void>;
}

/** The REST base URL from MCP_URL: http://host:8765/mcp → http://host:8765 */
export function restBaseUrl(mcpUrl: string): string {
  const url = new URL(mcpUrl);
  const path = url.pathname.replace(/\/+$/, '').replace(/\/(mcp|sse)$/, '');
  return `${url.origin}${path}`;
}

export function createHttpApprovalsClient(options: { baseUrl: string; token?: string }): ApprovalsClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const auth: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const subscriptions = new Set<ApprovalSubscription>();

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(180_000),
      });
    } catch (error) {
      throw new LaresError('MCP_UNAVAILABLE', `the approval queue at ${base} is unreachable (${causeOf(error)}): is \`lares mcp\` running, and does MCP_URL point at it?`, { cause: error });
    }
    const text = await response.text();
    let json: any;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    if (response.status === 401) throw new LaresError('APPROVAL_ERROR', `the approval queue at ${base} refused the token: set LARES_MCP_TOKEN to the server's token`);
    if (response.status === 400 || response.status === 404 || response.status === 409) throw new ApprovalError(response.status, json?.message ?? `HTTP ${response.status}`);
    if (!response.ok) throw new LaresError('APPROVAL_ERROR', `the approval queue answered HTTP ${response.status}: ${json?.message ?? text.slice(0, 200)}`);
    return json as T;
  }

  return {
    kind: 'http',
    listPending: () => request<ApprovalRecord[]>('GET', '/approvals/pending'),
    get: (id) => request<ApprovalRecord>('GET', `/approvals/${encodeURIComponent(id)}`),
    listRecent: (limit = 20) => request<ApprovalRecord[]>('GET', `/approvals/recent?limit=${limit}`),
    approve: (id, opts = {}) => request<ApprovalRecord>('POST', `/approvals/${encodeURIComponent(id)}/approve`, { always: opts.always === true }),
    deny: (id, reason) => request<ApprovalRecord>('POST', `/approvals/${encodeURIComponent(id)}/deny`, reason ? { reason } : {}),
    subscribe(onEvent, subscribeOptions = {}) {
      const subscription = subscribeSse(`${base}/events`, auth, onEvent, subscribeOptions);
      subscriptions.add(subscription);
      return { close: () => { subscriptions.delete(subscription); subscription.close(); } };
    },
    async close() { for (const s of subscriptions) s.close(); subscriptions.clear(); },
  };
}

function subscribeSse(url: string, auth: Record<string, string>, onEvent: (event: LaresEvent) => void, options: SubscribeOptions): ApprovalSubscription {
  const controller = new AbortController();
  let lastEventId = options.lastEventId;
  let delay = 1000;
  let connected = false;

  const run = async () => {
    while (!controller.signal.aborted) {
      log().info({ event: 'approval_poll', url, lastEventId: lastEventId ?? null }, 'approval_poll: listening for approval events');
      try {
        const response = await fetch(url, {
          headers: { ...auth, accept: 'text/event-stream', ...(lastEventId !== undefined ? { 'last-event-id': String(lastEventId) } : {}) },
          signal: controller.signal,
        });
        if (!response.ok || !response.body) {
          await response.body?.cancel();
          throw new Error(response.status === 401 ? 'HTTP 401: the token was refused; set LARES_MCP_TOKEN' : `HTTP ${response.status}`);
        }
        connected = true;
        delay = 1000;
        options.onStatus?.('connected');
        await readSse(response.body, (event) => {
          lastEventId = event.id;
          try { onEvent(event); } catch (error) { log().warn({ err: error }, 'approval event handler failed'); }
        });
        throw new Error('the event stream ended');
      } catch (error) {
        if (controller.signal.aborted) return;
        if (connected) options.onStatus?.('disconnected', errorMessage(error));
        connected = false;
        log().warn({ event: 'approval_poll', url, err: causeOf(error), retryInMs: delay }, 'approval_poll: event stream unavailable, will retry');
        await new Promise((resolve) => { const t = setTimeout(resolve, delay); t.unref?.(); controller.signal.addEventListener('abort', () => { clearTimeout(t); resolve(undefined); }, { once: true }); });
        delay = Math.min(delay * 2, 30_000);
      }
    }
  };
  void run();
  return { close: () => controller.abort() };
}

async function readSse(body: ReadableStream<Uint8Array>, onEvent: (event: LaresEvent) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n');
    let index;
    while ((index = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, index);
      buffer = buffer.slice(index + 2);
      let id: string | undefined; let type: string | undefined; const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value; else if (field === 'event') type = value; else if (field === 'data') data.push(value);
      }
      if (id === undefined || type === undefined || data.length === 0) continue;
      const payload = JSON.parse(data.join('\n')) as Partial<LaresEvent>;
      onEvent({ id: Number(id), type: type as LaresEventType, data: payload.data ?? {}, createdAt: payload.createdAt ?? '' });
    }
  }
}

/**
 * The same interface over the queue object, for `lares chat`/`lares run` without MCP_URL.
 * Events written by this process arrive at once, another worker's at once on PostgreSQL
 * (LISTEN/NOTIFY); a poll (every pollMs) also picks up events written by another process
 * sharing a SQLite file (e.g. `lares approvals approve`).
 */
export function createLocalApprovalsClient(runtime: LaresToolRuntime, options: { pollMs?: number } = {}): ApprovalsClient {
  const closers = new Set<() => void>();
  return {
    kind: 'in-process',
    listPending: () => runtime.queue.listPending(),
    get: (id) => runtime.queue.get(id),
    listRecent: (limit) => runtime.queue.listRecent(limit),
    approve: (id, opts = {}) => runtime.queue.approve(id, opts),
    deny: (id, reason) => runtime.queue.deny(id, reason),
    subscribe(onEvent, subscribeOptions = {}) {
      let follower: EventFollower | undefined;
      let closed = false;
      const start = (from: number) => {
        if (closed) return;
        log().info({ event: 'approval_poll', source: 'in-process', lastEventId: from }, 'approval_poll: listening for approval events');
        follower = followEvents(runtime.events, from, (event) => {
          try { onEvent(event); } catch (error) { log().warn({ err: error }, 'approval event handler failed'); }
        }, {
          pollMs: options.pollMs ?? 2000,
          onError: (error) => log().debug({ event: 'approval_poll', err: errorMessage(error) }, 'approval_poll failed'),
        });
        subscribeOptions.onStatus?.('connected');
      };
      // "only new events": from the log's end, asked again until the store answers (never from 0,
      // which would replay every old reminder and outcome)
      const fromEnd = () => {
        runtime.events.lastId().then(start, (error: unknown) => {
          log().warn({ event: 'approval_poll', err: errorMessage(error) }, 'approval_poll: could not read the event log; trying again');
          if (!closed) setTimeout(fromEnd, options.pollMs ?? 2000).unref();
        });
      };
      if (subscribeOptions.lastEventId !== undefined) start(subscribeOptions.lastEventId);
      else fromEnd();
      const close = () => { closed = true; follower?.close(); closers.delete(close); };
      closers.add(close);
      return { close };
    },
    async close() { for (const close of [...closers]) close(); },
  };
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  return cause instanceof Error ? cause.message : errorMessage(error);
}
