// GET /health on loopback: is the service up, is Discord connected, when did perch time last
// run, how many approvals wait. No secrets in it, so it needs no token; it binds 127.0.0.1.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LaresError, errorMessage } from '../../errors.ts';

export interface HealthReport {
  status: 'ok' | 'degraded';
  mode: 'direct' | 'letta';
  discord: { connected: boolean };
  /** every channel of `lares run` (discord, telegram) with its connection */
  channels?: Record<string, { connected: boolean }>;
  perch: { intervalMinutes: number; lastTickAt: string | null };
  approvals: { pending: number | null };
  startedAt: string;
  [key: string]: unknown;
}

/**
 * The report of `lares run`: healthy while Discord is connected. The pending count comes from
 * the approval queue (null when it cannot be reached, which also marks the report degraded).
 */
export async function buildHealthReport(options: {
  mode: 'direct' | 'letta';
  startedAt: string;
  channel?: { isConnected(): boolean; perch: { lastTickAt(): string | undefined; readonly intervalMs: number } };
  approvals?: { listPending(): Promise<unknown[]> };
  /** each channel's connection, when `lares run` has several */
  channels?: Record<string, { connected: boolean }>;
  /** this worker: 'standby' while another worker on the same database holds the channels (healthy) */
  worker?: { id: string; role: 'active' | 'standby' };
}): Promise<HealthReport> {
  const standby = options.worker?.role === 'standby';
  const connected = options.channel?.isConnected() ?? false;
  let pending: number | null = null;
  let approvalsReachable = true;
  if (options.approvals) {
    try { pending = (await options.approvals.listPending()).length; } catch { approvalsReachable = false; }
  }
  return {
    status: (connected || standby) && approvalsReachable ? 'ok' : 'degraded',
    mode: options.mode,
    // the Discord connection as before; with several channels, `connected` means all of them
    discord: { connected: options.channels ? (options.channels.discord?.connected ?? false) : connected },
    ...(options.channels ? { channels: options.channels } : {}),
    perch: {
      intervalMinutes: (options.channel?.perch.intervalMs ?? 0) / 60_000,
      lastTickAt: options.channel?.perch.lastTickAt() ?? null,
    },
    approvals: { pending },
    startedAt: options.startedAt,
    ...(options.worker ? { worker: options.worker } : {}),
  };
}

export interface HealthServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startHealthServer(options: {
  port: number;
  host?: string;
  report(): Promise<HealthReport> | HealthReport;
  /** serves every other path (the web console, when LARES_WEB=true) */
  handle?(req: IncomingMessage, res: ServerResponse): void;
}): Promise<HealthServer> {
  const host = options.host ?? '127.0.0.1';
  // a throw in a request listener would end the whole process: every request is answered instead
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (res.headersSent) { res.destroy(); return; }
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(text);
    };
    try {
      let path: string;
      try {
        path = new URL(req.url ?? '/', 'http://localhost').pathname;
      } catch {
        reply(400, { error: 'bad request: the request target is not a valid URL path' });
        return;
      }
      if (path !== '/health' && options.handle) { options.handle(req, res); return; }
      if (path !== '/health') { reply(404, { error: 'not found: the only route is GET /health' }); return; }
      if (req.method !== 'GET' && req.method !== 'HEAD') { reply(405, { error: 'method not allowed: use GET' }, { allow: 'GET, HEAD' }); return; }
      Promise.resolve()
        .then(() => options.report())
        .then((report) => reply(report.status === 'ok' ? 200 : 503, report))
        .catch((error: unknown) => reply(500, { status: 'error', error: errorMessage(error) }));
    } catch (error) {
      try { reply(500, { status: 'error', error: errorMessage(error) }); } catch { res.destroy(); }
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new LaresError('CONFIG_INVALID',
      `cannot serve /health on ${host}:${options.port} (LARES_HTTP_PORT): ${errorMessage(error)}. Free the port or set LARES_HTTP_PORT to another one.`, { cause: error })));
    server.listen(options.port, host, () => { server.removeAllListeners('error'); resolve(); });
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${host}:${port}/health`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
