// Puts the console together from a channel runtime: login key and sessions, the scheduler over
// the approval database (for the Jobs page), the context report, and a Node request handler that
// `lares run` mounts beside /health and `lares web` serves on its own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { ChannelRuntime } from '../app/channel-runtime.ts';
import { contextReport } from '../app/context-report.ts';
import type { Config } from '../config/config.ts';
import { loadPrices } from '../llm/pricing.ts';
import { EventLog } from '../mcp-server/events.ts';
import { Scheduler } from '../mcp-server/scheduler.ts';
import type { MemoryStore } from '../memory/store.ts';
import { createConsoleApp } from './console-app.ts';
import { WebAuth, checkWebSettings, isWildcard, loginKey, makeLoginCode } from './security.ts';

export interface WebConsole {
  /** serves every path but /health */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** once the server listens: its port */
  setPort(port: number): void;
  url(): string;
  /** a fresh one-time login link (15 minutes) */
  loginLink(): string;
  close(): Promise<void>;
}

/** The console's address as a browser reaches it: LARES_WEB_ORIGIN, else host and port. */
export function consoleUrl(web: Config['web'], port: number): string {
  if (web.origin) return web.origin.replace(/\/+$/, '');
  const host = isWildcard(web.host) ? '127.0.0.1' : web.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function loginLinkFor(base: string, key: string): string {
  return `${base}/login/link?code=${encodeURIComponent(makeLoginCode(key))}`;
}

/**
 * What `lares run` and `lares web` print at start. A working login link only on a terminal: under
 * systemd stdout goes to the journal, where a link would stay readable (and usable for 15 minutes).
 */
export function startupMessage(web: Pick<WebConsole, 'url' | 'loginLink'>, isTTY: boolean): string {
  if (isTTY) return `Lares console: ${web.url()}\nLog in (one-time link, 15 minutes): ${web.loginLink()}\n`;
  return `Lares console: ${web.url()}\nFor a one-time login link, run: npx lares web --login-link\n`;
}

/** `lares web --login-link`: a link for the console that runs (or will run) on this store. */
export async function printableLoginLink(config: Config, store: MemoryStore): Promise<string> {
  return loginLinkFor(consoleUrl(config.web, config.httpPort), await loginKey(store));
}

export async function createWebConsole(config: Config, runtime: ChannelRuntime): Promise<WebConsole> {
  checkWebSettings(config.web);
  const key = await loginKey(runtime.store);
  let port = config.httpPort;
  // jobs live in the store beside the approval queue (a `lares mcp` at MCP_URL shares it): managed
  // here, fired by whichever worker's scheduler claims the slot
  const jobEvents = new EventLog(runtime.store.toolState);
  const jobs = new Scheduler(runtime.store.toolState, jobEvents);
  const direct = runtime.direct;
  const app = createConsoleApp({
    config, store: runtime.store, agent: runtime.agent, approvals: runtime.approvals,
    auth: new WebAuth({ loginKey: key, token: config.web.token, nonces: runtime.store }),
    port: () => port,
    recall: direct?.recall,
    context: direct ? () => contextReport(direct, config) : undefined,
    jobs,
    prices: loadPrices(config.pricesFile),
    // behind TLS the cookie is Secure; on http://127.0.0.1 a Secure cookie would not be sent back
    secureCookies: config.web.origin?.startsWith('https://') === true,
  });
  const listener = getRequestListener(app.fetch);
  return {
    handle: (req, res) => { void listener(req, res); },
    setPort(p) { port = p; },
    url: () => consoleUrl(config.web, port),
    loginLink: () => loginLinkFor(consoleUrl(config.web, port), key),
    async close() {
      jobEvents.close();
    },
  };
}
