// The web console on a temp SQLite file, the built-in tools in-process and the fake Anthropic API,
// served exactly as `lares run` serves it (beside /health on a free port on 127.0.0.1), plus a
// small cookie-keeping HTTP client.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createChannelRuntime, type ChannelRuntime } from '../../src/app/channel-runtime.ts';
import { startHealthServer } from '../../src/channels/discord/health-server.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { createWebConsole, type WebConsole } from '../../src/web/console-server.ts';
import { startFakeAnthropic, type FakeAnthropic, type Responder } from '../fakes/anthropic.ts';
import '../support/direct.ts';

export interface ConsoleHarness {
  dir: string;
  fake: FakeAnthropic;
  config: Config;
  runtime: ChannelRuntime;
  web: WebConsole;
  /** http://127.0.0.1:PORT */
  base: string;
  port: number;
  login(): Promise<Browserish>;
  close(): Promise<void>;
}

/** The newest user message of a request: its text, and whether it carries tool results. */
export function lastUser(body: any): { text: string; toolResult: boolean } {
  const content = body.messages.at(-1)?.content;
  if (typeof content === 'string') return { text: content, toolResult: false };
  const blocks = (content ?? []) as Array<{ type: string; text?: string }>;
  return { text: blocks.filter((b) => b.type === 'text').map((b) => b.text).join('\n'), toolResult: blocks.some((b) => b.type === 'tool_result') };
}

/**
 * A scripted model: "run the command: X" asks for run_shell_command X; a tool result (pending) gets
 * "Waiting for your approval."; an approval outcome gets "Done, it ran."; anything else is echoed.
 */
export const consoleResponder: Responder = (request) => {
  const { text, toolResult } = lastUser(request.body);
  if (toolResult) return { text: 'Waiting for your approval.' };
  if (text.includes('[approval result]')) return { text: text.includes('denied') ? 'Understood, I left it.' : 'Done, it ran.' };
  const run = /run the command: (.+)$/m.exec(text);
  if (run) return { toolUses: [{ name: 'run_shell_command', input: { command: run[1] } }] };
  return { text: `echo: ${text}` };
};

export async function startConsole(options: { env?: Record<string, string>; responder?: Responder } = {}): Promise<ConsoleHarness> {
  const fake = await startFakeAnthropic({ responder: options.responder ?? consoleResponder });
  const dir = mkdtempSync(join(tmpdir(), 'lares-web-'));
  const config = loadConfig({
    SQLITE_DB_PATH: join(dir, 'lares.db'), ANTHROPIC_API_KEY: fake.apiKey, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6',
    LARES_ALLOWED_PATHS: dir, LARES_EMBEDDER: 'none', LARES_LLM_RETRY_BASE_MS: '1', LARES_HTTP_PORT: '0', LARES_WEB: 'true', ...options.env,
  });
  const runtime = await createChannelRuntime(config, { channel: 'terminal' });
  const feed = runtime.feedApprovalOutcomes(() => undefined);
  const web = await createWebConsole(config, runtime);
  const health = await startHealthServer({ port: 0, host: config.web.host, handle: web.handle, report: () => ({ status: 'ok', mode: 'direct', discord: { connected: false }, perch: { intervalMinutes: 0, lastTickAt: null }, approvals: { pending: 0 }, startedAt: '' }) });
  web.setPort(health.port);
  const base = `http://127.0.0.1:${health.port}`;
  const harness: ConsoleHarness = {
    dir, fake, config, runtime, web, base, port: health.port,
    async login() {
      const client = new Browserish(base);
      const link = new URL(web.loginLink());
      const code = link.searchParams.get('code')!;
      const response = await client.post('/login/link', { code }, { csrf: false });
      if (response.status !== 303) throw new Error(`login failed: ${response.status}`);
      await client.refreshCsrf();
      return client;
    },
    async close() {
      feed.close();
      await health.close();
      await web.close();
      await runtime.close();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Keeps the session cookie and the CSRF token like a browser page would; sends Origin on POST. */
export class Browserish {
  readonly base: string;
  cookie = '';
  csrf = '';
  constructor(base: string) { this.base = base; }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.#remember(await fetch(`${this.base}${path}`, { redirect: 'manual', headers: { ...(this.cookie ? { cookie: this.cookie } : {}), ...headers } }));
  }

  async post(path: string, form: Record<string, string>, options: { csrf?: boolean; headers?: Record<string, string> } = {}): Promise<Response> {
    const body = new URLSearchParams(form);
    if (options.csrf !== false && !('_csrf' in form)) body.set('_csrf', this.csrf);
    return this.#remember(await fetch(`${this.base}${path}`, {
      method: 'POST', redirect: 'manual', body,
      headers: { origin: this.base, ...(this.cookie ? { cookie: this.cookie } : {}), ...options.headers },
    }));
  }

  async refreshCsrf(): Promise<void> {
    const html = await (await this.get('/')).text();
    const match = /<meta name="csrf-token" content="([^"]+)">/.exec(html);
    if (!match) throw new Error('no CSRF token on the page');
    this.csrf = match[1];
  }

  #remember<T extends Response>(response: T): T {
    const set = response.headers.getSetCookie();
    for (const line of set) {
      const [pair] = line.split(';');
      if (pair.startsWith('lares_session=')) this.cookie = /Max-Age=0/i.test(line) || pair === 'lares_session=' ? '' : pair;
    }
    return response;
  }
}
