// `lares mcp` over HTTP: Streamable HTTP MCP at /mcp (session-based, so the server
// can push notifications such as tools/list_changed), the approval REST routes,
// the /events SSE stream and /health. A bearer token guards everything but /health.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Config } from '../config/config.ts';
import { LaresError, errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import { ApprovalError } from './approvals.ts';
import { followEvents, type LaresEvent } from './events.ts';
import { LaresToolRuntime, type RuntimeOptions } from './runtime.ts';
import { createLaresMcpServer } from './server.ts';
import { ToolInputError } from './tool-error.ts';

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const SSE_POLL_MS = 1000;
const SSE_PING_MS = 15_000;
/** Sessions kept at once: a client that vanished without DELETE would otherwise hold one forever. */
const MAX_SESSIONS = 64;

export interface McpHttpServer {
  /** e.g. http://127.0.0.1:8765/mcp */
  url: string;
  /** e.g. http://127.0.0.1:8765 (REST routes hang off it) */
  baseUrl: string;
  runtime: LaresToolRuntime;
  close(): Promise<void>;
}

export interface McpHttpOptions extends RuntimeOptions {
  host?: string;
  port?: number;
  /** defaults to config.mcp.token */
  token?: string;
  /** use this runtime instead of opening one (it is then not closed by close()) */
  runtime?: LaresToolRuntime;
  version?: string;
  /** most MCP sessions kept at once; the least recently used is closed first (default 64) */
  maxSessions?: number;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Refuses a non-loopback bind without a token (exit code 2). */
export function assertSafeBind(host: string, token: string | undefined): void {
  if (!isLoopbackHost(host) && !token) {
    throw new LaresError('CONFIG_INVALID', `refusing to listen on ${host} without a token: anyone who can reach it could run tools. Set LARES_MCP_TOKEN (e.g. \`openssl rand -hex 32\`) or use MCP_HOST=127.0.0.1.`);
  }
}

export async function startMcpHttpServer(config: Config, options: McpHttpOptions = {}): Promise<McpHttpServer> {
  const host = options.host ?? config.mcp.host;
  const port = options.port ?? config.mcp.port;
  const token = options.token ?? config.mcp.token;
  assertSafeBind(host, token);
  const ownsRuntime = !options.runtime;
  const runtime = options.runtime ?? await LaresToolRuntime.open(config, { startScheduler: options.startScheduler, version: options.version });
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const sseClosers = new Set<() => void>();
  const maxSessions = Math.max(1, options.maxSessions ?? MAX_SESSIONS);
  const loopback = isLoopbackHost(host);
  if (!token) log().warn({ host }, 'LARES_MCP_TOKEN is not set: the MCP server accepts any local client; set a token to require one');

  const httpServer = createServer((req, res) => {
    handle(req, res).catch((error) => {
      log().error({ err: error, path: req.url }, 'mcp http: request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal_error', message: errorMessage(error) });
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Without a token, a page in a browser must not reach a loopback server through DNS rebinding.
    if (loopback && !token && !isLoopbackHostHeader(req.headers.host)) return sendJson(res, 403, { error: 'forbidden_host', message: `Host ${req.headers.host ?? '(none)'} is not allowed; use 127.0.0.1 or localhost` });
    if (req.method === 'GET' && url.pathname === '/health') {
      return sendJson(res, 200, { status: 'ok', version: runtime.version, tools: runtime.definitions().length, pendingApprovals: await runtime.queue.countPending() });
    }
    if (token && !authorized(req.headers.authorization, token)) {
      res.setHeader('www-authenticate', 'Bearer realm="lares"');
      return sendJson(res, 401, { error: 'unauthorized', message: 'missing or wrong bearer token: send Authorization: Bearer <LARES_MCP_TOKEN>' });
    }
    if (url.pathname === '/mcp') return handleMcp(req, res);
    if (req.method === 'GET' && url.pathname === '/tools') {
      return sendJson(res, 200, runtime.definitions().map((d) => ({ name: d.name, description: d.description, input_schema: d.inputSchema })));
    }
    if (req.method === 'GET' && url.pathname === '/events') return handleEvents(req, res, url);
    if (url.pathname === '/approvals' || url.pathname.startsWith('/approvals/')) return handleApprovals(req, res, url);
    return sendJson(res, 404, { error: 'not_found', message: `no route ${req.method} ${url.pathname}; see GET /health, /tools, /approvals/pending, /events, /mcp` });
  }

  async function handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionId = header(req, 'mcp-session-id');
    const existing = sessionId ? sessions.get(sessionId) : undefined;
    if (existing && sessionId) { sessions.delete(sessionId); sessions.set(sessionId, existing); } // most recently used last
    if (req.method === 'POST') {
      let body: unknown;
      try { body = await readJson(req); } catch (error) {
        if (error instanceof BadBody) return sendJson(res, 400, { jsonrpc: '2.0', error: { code: -32700, message: `Parse error: ${error.message}` }, id: null });
        throw error;
      }
      if (existing) return existing.transport.handleRequest(req, res, body);
      if (sessionId) return sendJsonRpcError(res, 404, 'Session not found: start a new session with an initialize request');
      if (!isInitializeRequest(body)) return sendJsonRpcError(res, 400, 'Bad Request: no valid session id; send an initialize request first');
      const server = createLaresMcpServer(runtime);
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          // Over the limit, the least recently used session goes; its client gets a 404 and starts a new one, as MCP clients do.
          for (const [oldId, old] of sessions) {
            if (sessions.size < maxSessions) break;
            sessions.delete(oldId);
            log().info({ sessionId: oldId }, 'mcp http: closing the least recently used session (too many sessions)');
            void old.transport.close().catch(() => undefined).then(() => old.server.close().catch(() => undefined));
          }
          sessions.set(id, { transport, server });
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await server.connect(transport);
      return transport.handleRequest(req, res, body);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      if (!existing) return sendJsonRpcError(res, sessionId ? 404 : 400, sessionId ? 'Session not found' : 'Bad Request: missing mcp-session-id header');
      return existing.transport.handleRequest(req, res);
    }
    res.setHeader('allow', 'GET, POST, DELETE');
    return sendJsonRpcError(res, 405, 'Method not allowed');
  }

  async function handleApprovals(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const parts = url.pathname.split('/').filter(Boolean); // ['approvals', id?, action?]
    try {
      if (parts.length === 1 && req.method === 'POST') {
        const body = await readJson(req) as { tool?: unknown; args?: unknown } | undefined;
        if (!body || typeof body.tool !== 'string') throw new ToolInputError('tool: expected the name of a tool, e.g. {"tool": "run_shell_command", "args": {"command": "ls"}}');
        const record = await runtime.request(body.tool, body.args ?? {});
        res.setHeader('location', `/approvals/${record.id}`);
        return sendJson(res, 202, record);
      }
      if (parts.length === 2 && parts[1] === 'pending' && req.method === 'GET') return sendJson(res, 200, await runtime.queue.listPending());
      if (parts.length === 2 && parts[1] === 'recent' && req.method === 'GET') {
        const limit = Number(url.searchParams.get('limit') ?? 20);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new ToolInputError('limit: expected a whole number from 1 to 500');
        return sendJson(res, 200, await runtime.queue.listRecent(limit));
      }
      if (parts.length === 2 && req.method === 'GET') return sendJson(res, 200, await runtime.queue.get(decodeURIComponent(parts[1])));
      if (parts.length === 3 && req.method === 'POST' && parts[2] === 'approve') {
        const body = await readJson(req) as { always?: unknown } | undefined;
        const always = body?.always === true || url.searchParams.get('always') === 'true';
        return sendJson(res, 200, await runtime.queue.approve(decodeURIComponent(parts[1]), { always }));
      }
      if (parts.length === 3 && req.method === 'POST' && parts[2] === 'deny') {
        const body = await readJson(req) as { reason?: unknown } | undefined;
        const reason = typeof body?.reason === 'string' && body.reason.trim() !== '' ? body.reason : undefined;
        return sendJson(res, 200, await runtime.queue.deny(decodeURIComponent(parts[1]), reason));
      }
      return sendJson(res, 404, { error: 'not_found', message: `no route ${req.method} ${url.pathname}` });
    } catch (error) {
      if (error instanceof ApprovalError) return sendJson(res, error.httpStatus, { error: error.httpStatus === 409 ? 'conflict' : error.httpStatus === 404 ? 'not_found' : 'bad_request', message: error.message });
      if (error instanceof ToolInputError || error instanceof BadBody) return sendJson(res, 400, { error: 'bad_request', message: error.message });
      throw error;
    }
  }

  async function handleEvents(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const fromHeader = header(req, 'last-event-id') ?? url.searchParams.get('lastEventId') ?? undefined;
    const from = fromHeader !== undefined && /^\d+$/.test(fromHeader) ? Number(fromHeader) : await runtime.events.lastId();
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    // this process's events (and other workers' on PostgreSQL) arrive at once; the poll catches the rest
    const follower = followEvents(runtime.events, from, (event) => res.write(formatSse(event)), { pollMs: SSE_POLL_MS });
    const ping = setInterval(() => res.write(': ping\n\n'), SSE_PING_MS);
    const close = () => { follower.close(); clearInterval(ping); sseClosers.delete(close); res.end(); };
    sseClosers.add(close);
    req.on('close', close);
  }

  await new Promise<void>((resolveListen, reject) => {
    httpServer.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE'
        ? new LaresError('USAGE', `port ${port} on ${host} is already in use: stop the other process or set MCP_PORT`, { exitCode: 1 })
        : error);
    });
    httpServer.listen(port, host, () => resolveListen());
  });
  const address = httpServer.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const baseUrl = `http://${shownHost}:${address.port}`;
  log().info({ url: `${baseUrl}/mcp`, tools: runtime.definitions().length, auth: token ? 'bearer' : 'none' }, 'lares mcp listening');

  return {
    url: `${baseUrl}/mcp`,
    baseUrl,
    runtime,
    async close() {
      for (const close of [...sseClosers]) close();
      for (const { transport, server } of [...sessions.values()]) {
        await transport.close().catch(() => undefined);
        await server.close().catch(() => undefined);
      }
      sessions.clear();
      await new Promise<void>((resolveClose) => {
        httpServer.close(() => resolveClose());
        httpServer.closeAllConnections();
      });
      if (ownsRuntime) await runtime.close();
    },
  };
}

export function formatSse(event: LaresEvent): string {
  // data is the whole stored event: {id, type, createdAt, data}
  const data = JSON.stringify(event);
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${data}\n\n`;
}

function authorized(headerValue: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(headerValue ?? '');
  if (!match) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(match[1].trim()), digest(token));
}

function isLoopbackHostHeader(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const hostname = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.split(':')[0];
  return isLoopbackHost(hostname.toLowerCase());
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

class BadBody extends Error {}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadBody(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try { return JSON.parse(text); } catch { throw new BadBody('request body is not valid JSON'); }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendJsonRpcError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}
