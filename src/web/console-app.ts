// The console's routes (Hono). It holds no business logic: every action goes through the same
// store, agent, approval client, recall and scheduler calls that the CLI and the agent's tools use.
// Order of the guards: Host (DNS rebinding) → Origin on every POST → session → CSRF token.
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import type { AgentBackend } from '../agent/types.ts';
import type { ContextReport } from '../app/context-report.ts';
import type { Config } from '../config/config.ts';
import { errorMessage, isLaresError } from '../errors.ts';
import type { PriceTable } from '../llm/pricing.ts';
import { usageReport } from '../llm/usage-report.ts';
import { log } from '../log.ts';
import { ApprovalError } from '../mcp-server/approvals.ts';
import type { Scheduler } from '../mcp-server/scheduler.ts';
import { ToolInputError } from '../mcp-server/tool-error.ts';
import type { MemoryStore, MessageRole } from '../memory/store.ts';
import type { Recall } from '../recall/recall.ts';
import { isoDate } from '../time.ts';
import type { ApprovalsClient } from '../tools/approvals-client.ts';
import { SESSION_COOKIE, allowedHosts, isLoopback, safeEqual, sameOrigin, type WebAuth } from './security.ts';
import * as views from './views.ts';

export interface ConsoleDeps {
  config: Config;
  store: MemoryStore;
  agent: AgentBackend;
  approvals: ApprovalsClient;
  auth: WebAuth;
  /** the port the console listens on (known once it listens) */
  port(): number;
  /** direct mode only */
  recall?: Recall;
  context?(): Promise<ContextReport>;
  /** the scheduler over the store's jobs (the same ones `lares mcp` fires when MCP_URL is set) */
  jobs?: Scheduler;
  prices: PriceTable;
  /** whether the connection is TLS (behind a proxy: LARES_WEB_ORIGIN is https) */
  secureCookies: boolean;
}

const STATIC_DIR = join(import.meta.dirname, 'static');
// a Map, not an object: /static/constructor or /static/__proto__ must be a 404, not Object's own properties
const STATIC = new Map<string, { type: string; body: string }>([
  ['console.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(join(STATIC_DIR, 'console.js'), 'utf8') }],
  ['console.css', { type: 'text/css; charset=utf-8', body: readFileSync(join(STATIC_DIR, 'console.css'), 'utf8') }],
  ['icon.svg', { type: 'image/svg+xml', body: readFileSync(join(STATIC_DIR, 'icon.svg'), 'utf8') }],
]);

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

/** A request the console refuses: status and a message a person can act on. */
class BadRequest extends Error {
  readonly status: 400 | 403 | 404 | 409 | 413 | 421;
  constructor(status: BadRequest['status'], message: string) { super(message); this.status = status; }
}

type Env = { Bindings: { incoming?: IncomingMessage }; Variables: { csrf: string; sessionId: string } };

type Form = Record<string, string | File | Array<string | File>>;

/** The posted form; a body that cannot be parsed (malformed multipart, bad encoding) is a 400, not a 500. */
async function formBody(c: Context<Env>): Promise<Form> {
  try {
    return await c.req.parseBody() as Form;
  } catch {
    throw new BadRequest(400, 'The form could not be read: the request body is malformed.');
  }
}

export function createConsoleApp(deps: ConsoleDeps): Hono<Env> {
  const app = new Hono<Env>();
  const hostAllowed = allowedHosts(deps.config.web, deps.port);
  const ownerAction = (event: string, fields: Record<string, unknown> = {}) => log().info({ event: `web_${event}`, actor: 'owner', ...fields }, `web console: ${event.replace(/_/g, ' ')}`);
  const wantsJson = (c: Context) => c.req.path.startsWith('/api/') || c.req.path === '/events' || c.req.path.startsWith('/fragments/') || (c.req.header('accept') ?? '').includes('application/json');
  const fail = (c: Context, status: number, message: string) => {
    if (wantsJson(c)) return c.json({ error: message }, status as 400);
    return c.html(views.errorPage(status, message, c.get('csrf')), status as 400);
  };

  app.onError((error, c) => {
    if (error instanceof BadRequest) return fail(c, error.status, error.message);
    if (error instanceof ApprovalError) return fail(c, error.httpStatus, error.message);
    if (error instanceof ToolInputError) return fail(c, 400, error.message);
    if (isLaresError(error) && error.code === 'MEMORY_TOOL_ERROR') return fail(c, 400, error.message);
    log().error({ event: 'web_error', path: c.req.path, err: errorMessage(error) }, 'web console: request failed');
    return fail(c, 500, `Lares could not do that: ${errorMessage(error)}`);
  });

  app.use('*', async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) if (!c.res.headers.has(name)) c.res.headers.set(name, value);
  });

  // DNS rebinding: a page on evil.example that resolves to 127.0.0.1 sends Host: evil.example
  app.use('*', async (c, next) => {
    if (!hostAllowed(c.req.header('host'))) {
      log().warn({ event: 'web_refused', reason: 'host', host: c.req.header('host') ?? null }, 'web console: refused a request for another host name');
      return c.text('This host name is not allowed for the Lares console (set LARES_WEB_ORIGIN for a reverse proxy).', 421);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const origin = c.req.header('origin') ?? refererOrigin(c.req.header('referer'));
      if (!sameOrigin(deps.config.web, c.req.header('host')!, origin)) {
        log().warn({ event: 'web_refused', reason: 'origin', origin: origin ?? null }, 'web console: refused a cross-origin request');
        return fail(c, 403, 'Cross-origin request refused: the request did not come from this console.');
      }
    }
    await next();
  });

  app.use('*', bodyLimit({ maxSize: 256 * 1024, onError: (c) => fail(c, 413, 'Request too large (at most 256 KB).') }));

  app.get('/favicon.ico', (c) => c.redirect('/static/icon.svg', 301));
  app.get('/static/:file', (c) => {
    const file = STATIC.get(c.req.param('file'));
    if (!file) return c.text('not found', 404);
    return c.body(file.body, 200, { 'content-type': file.type, 'cache-control': 'no-cache' });
  });

  // ---- login

  app.get('/login', (c) => c.html(views.loginPage({ tokenLogin: deps.auth.tokenLogin })));

  // failed logins are counted per client address: someone else's guessing must not lock the owner out.
  // Behind the reverse proxy of LARES_WEB_ORIGIN every request comes from loopback: the proxy's
  // X-Forwarded-For (its last entry, the address the proxy saw) names the client.
  const clientAddress = (c: Context<Env>): string => {
    const peer = c.env?.incoming?.socket?.remoteAddress ?? 'unknown';
    const forwarded = c.req.header('x-forwarded-for');
    if (deps.config.web.origin && forwarded && isLoopback(peer.replace(/^::ffff:/, ''))) return forwarded.split(',').at(-1)!.trim() || peer;
    return peer;
  };

  const refuseLogin = (c: Context<Env>, how: string, error: string, counts = true) => {
    if (counts) deps.auth.noteLoginFailure(clientAddress(c));
    log().warn({ event: 'web_login_failed', how }, `web console: a login by ${how} was refused`);
    return c.html(views.loginPage({ tokenLogin: deps.auth.tokenLogin, error }), 401);
  };
  const throttled = (c: Context) => c.html(views.loginPage({ tokenLogin: deps.auth.tokenLogin, error: 'Too many failed logins: wait a minute and try again.' }), 429);

  const startSession = (c: Context, how: string) => {
    const session = deps.auth.createSession();
    setCookie(c, SESSION_COOKIE, session.id, { httpOnly: true, sameSite: 'Strict', path: '/', secure: deps.secureCookies, maxAge: session.maxAgeSeconds });
    ownerAction('login', { how });
    return c.redirect('/', 303);
  };

  app.post('/login', async (c) => {
    if (deps.auth.loginThrottled(clientAddress(c))) return throttled(c);
    const body = await formBody(c);
    const token = typeof body.token === 'string' ? body.token : '';
    if (!deps.auth.checkToken(token)) return refuseLogin(c, 'token', deps.auth.tokenLogin ? 'That token is not right.' : 'Token login is off: set LARES_WEB_TOKEN, or use a login link.');
    return startSession(c, 'token');
  });

  // the link only shows a button: a link preview (chat apps fetch URLs) must not use it up
  app.get('/login/link', (c) => c.html(views.loginLinkPage(c.req.query('code') ?? '')));
  app.post('/login/link', async (c) => {
    const body = await formBody(c);
    const code = typeof body.code === 'string' ? body.code : '';
    // a link this console signed is never throttled: the owner can always get in with a fresh one
    if (!deps.auth.loginCodeSigned(code) && deps.auth.loginThrottled(clientAddress(c))) return throttled(c);
    const result = await deps.auth.useLoginCode(code);
    if (result !== 'ok') return refuseLogin(c, 'link', 'That login link is invalid, used or expired. Make a new one: npx lares web --login-link', result === 'forged');
    return startSession(c, 'link');
  });

  // ---- everything below needs a session, and every POST its CSRF token

  app.use('*', async (c, next) => {
    const id = getCookie(c, SESSION_COOKIE);
    const session = await deps.auth.session(id);
    if (!session) {
      if (c.req.method === 'GET' && !wantsJson(c)) return c.redirect('/login', 303);
      return fail(c, 401, 'Not logged in.');
    }
    c.set('csrf', session.csrf);
    c.set('sessionId', id!);
    if (c.req.method === 'POST') {
      const header = c.req.header('x-csrf-token');
      const body = header === undefined ? await formBody(c) : {};
      const token = header ?? (typeof body._csrf === 'string' ? body._csrf : undefined);
      if (token === undefined || !safeEqual(token, session.csrf)) {
        log().warn({ event: 'web_refused', reason: 'csrf', path: c.req.path }, 'web console: refused a request without the CSRF token');
        return fail(c, 403, 'The form was stale or not from this console (CSRF token missing or wrong). Reload the page and try again.');
      }
    }
    await next();
  });

  app.post('/logout', async (c) => {
    await deps.auth.endSession(c.get('sessionId'));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    ownerAction('logout');
    return c.redirect('/login', 303);
  });

  // ---- chat

  const recentMessages = async () => (await deps.store.recentMessages(60)).reverse();

  app.get('/', async (c) => c.html(views.chatPage({ messages: await recentMessages(), pending: await deps.approvals.listPending(), csrf: c.get('csrf') })));
  app.get('/fragments/messages', async (c) => c.html(views.messagesView(await recentMessages()).value));
  app.get('/fragments/pending', async (c) => c.html(views.pendingView(await deps.approvals.listPending(), c.get('csrf')).value));
  app.get('/fragments/recent', async (c) => c.html(views.recentView(await deps.approvals.listRecent?.(20)).value));

  app.post('/chat', async (c) => {
    const body = await formBody(c);
    const message = typeof body.message === 'string' ? body.message.trim() : '';
    if (!message) throw new BadRequest(400, 'The message is empty.');
    if (message.length > 100_000) throw new BadRequest(400, 'The message is too long (at most 100,000 characters).');
    ownerAction('chat_message', { chars: message.length });
    if (!(c.req.header('accept') ?? '').includes('text/event-stream')) {
      await deps.agent.send({ content: message, source: 'web', metadata: { channel: 'web' } });
      return c.redirect('/', 303);
    }
    return streamSSE(c, async (stream) => {
      // writes in order; the stream closes only after the last one is out
      let written: Promise<unknown> = Promise.resolve();
      const send = (event: string, data: unknown) => { written = written.then(() => stream.writeSSE({ event, data: JSON.stringify(data) })).catch(() => undefined); };
      try {
        const result = await deps.agent.send({ content: message, source: 'web', metadata: { channel: 'web' } }, {
          onText: (delta) => send('text', { delta }),
          onToolCall: (call) => send('tool_call', call),
          onToolResult: (result) => send('tool_result', result),
          onRetry: (info) => send('retry', info),
        });
        send('done', { reply: result.reply, incomplete: result.incomplete, pendingApprovals: result.pendingApprovals });
      } catch (error) {
        send('error', { message: errorMessage(error) });
      }
      await written;
    });
  });

  // live updates: approval and job events, as the approval client sees them
  app.get('/events', (c) => streamSSE(c, async (stream) => {
    const subscription = deps.approvals.subscribe((event) => {
      void stream.writeSSE({ id: String(event.id), event: event.type, data: JSON.stringify({ id: event.data.id ?? event.data.jobId ?? null, status: event.data.status ?? null }) }).catch(() => undefined);
    });
    // new messages from any channel (Discord, the terminal, approval outcomes, jobs): the page reloads its log
    // from the newest message the page showed (?after=), so a turn stored while the page loaded is not missed
    const after = Number(c.req.query('after'));
    let newest = Number.isInteger(after) && after >= 0 ? after : (await deps.store.recentMessages(1))[0]?.id ?? 0;
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        void deps.store.recentMessages(1).then((latest) => {
          const id = latest[0]?.id ?? 0;
          if (id !== newest) { newest = id; return stream.writeSSE({ event: 'messages', data: JSON.stringify({ newest: id }) }); }
          if (++ticks % 25 === 0) return stream.writeSSE({ event: 'ping', data: '{}' });
          return undefined;
        }).catch(() => resolve());
      }, 1000);
      timer.unref();
      stream.onAbort(() => { clearInterval(timer); resolve(); });
    });
    subscription.close();
  }));

  // ---- memory

  app.get('/memory', async (c) => {
    const q = c.req.query('q')?.trim();
    const passages = q ? (deps.recall ? await deps.recall.searchPassages(q, { limit: 50 }) : await deps.store.searchPassages(q, { limit: 50 })) : (await deps.store.listPassages()).reverse().slice(0, 100);
    return c.html(views.memoryPage({ blocks: await deps.store.listBlocks(), passages, query: q, csrf: c.get('csrf') }));
  });

  app.post('/memory/passages', async (c) => {
    const body = await formBody(c);
    const text = typeof body.text === 'string' ? body.text.trim() : '';
    if (!text) throw new BadRequest(400, 'The passage is empty.');
    const tags = typeof body.tags === 'string' ? body.tags.split(',').map((t) => t.trim()).filter(Boolean) : [];
    const passage = await deps.store.insertPassage({ text, tags });
    ownerAction('passage_added', { id: passage.id, chars: text.length });
    return c.redirect('/memory', 303);
  });

  app.post('/memory/passages/:id/delete', async (c) => {
    const id = Number(c.req.param('id'));
    if (!Number.isInteger(id) || id < 1) throw new BadRequest(400, 'The passage id must be a whole number.');
    if (!(await deps.store.deletePassage(id))) throw new BadRequest(404, `There is no passage #${id}.`);
    ownerAction('passage_deleted', { id });
    return backTo(c, '/memory');
  });

  // blocks live under /memory/block/ so that no label (not even "passages") collides with another route
  app.get('/memory/block/:label/history', async (c) => {
    const label = c.req.param('label');
    if (!(await deps.store.getBlock(label))) throw new BadRequest(404, `There is no memory block "${label}".`);
    return c.html(views.blockHistoryPage({ label, versions: await deps.store.blockHistory(label), csrf: c.get('csrf') }));
  });

  app.post('/memory/block/:label', async (c) => {
    const label = c.req.param('label');
    const body = await formBody(c);
    if (typeof body.content !== 'string') throw new BadRequest(400, 'The form has no content field.');
    if (typeof body.updatedAt !== 'string') throw new BadRequest(400, 'The form has no updatedAt field (the version of the block it edits). Reload the page and try again.');
    const block = await deps.store.getBlock(label);
    if (!block) throw new BadRequest(404, `There is no memory block "${label}".`);
    if (block.readOnly) throw new BadRequest(409, `The block "${label}" is read-only.`);
    // the agent (or another page) may have edited the block since this page was loaded: saving would undo that edit
    if (body.updatedAt !== block.updatedAt) {
      throw new BadRequest(409, `The block "${label}" was changed at ${block.updatedAt.replace('T', ' ').slice(0, 19)} UTC, after this page was loaded (by Lares or another page). Nothing was saved: copy your text, reload the Memory page to see the new content, and edit again.`);
    }
    // browsers send textarea lines as CRLF; the agent's edits use LF
    const content = body.content.replace(/\r\n/g, '\n');
    // the rule of the agent's memory tools: a block already over its limit (e.g. migrated) may be edited as long as the edit shrinks it
    if (content.length > block.charLimit && content.length > block.content.length) throw new BadRequest(400, `The block "${label}" holds at most ${block.charLimit} characters; this is ${content.length} (${content.length - block.charLimit} too many). Nothing was saved.`);
    if (content !== block.content) {
      // the same call the agent's memory tools make; the history records the owner
      await deps.store.setBlockContent(label, content, 'owner');
      ownerAction('block_edited', { label, chars: content.length });
    }
    return c.redirect(`/memory#block-${encodeURIComponent(label)}`, 303);
  });

  // ---- approvals

  app.get('/approvals', async (c) => c.html(views.approvalsPage({ pending: await deps.approvals.listPending(), recent: await deps.approvals.listRecent?.(20), csrf: c.get('csrf') })));

  // a request decided already (a second click, or the owner answered on Discord or Telegram first)
  // is news, not a failure: the page says what became of it
  const alreadyDecided = async (c: Context<Env>, id: string, error: unknown) => {
    if (!(error instanceof ApprovalError) || error.httpStatus !== 409 || wantsJson(c)) throw error;
    const status = await deps.approvals.get(id).then((r) => r.status, () => undefined);
    return c.html(views.noticePage('Already decided', `This request was already decided${status ? ` (${status})` : ''}; nothing more was done.`, c.get('csrf')), 409);
  };

  app.post('/approvals/:id/approve', async (c) => {
    const body = await formBody(c);
    const always = body.always === 'true';
    const id = c.req.param('id');
    let record;
    try { record = await deps.approvals.approve(id, { always }); } catch (error) { return alreadyDecided(c, id, error); }
    ownerAction('approval_approved', { id: record.id, tool: record.tool, always, status: record.status });
    return backTo(c, '/approvals');
  });

  app.post('/approvals/:id/deny', async (c) => {
    const body = await formBody(c);
    const reason = typeof body.reason === 'string' && body.reason.trim() ? body.reason.trim().slice(0, 500) : undefined;
    const id = c.req.param('id');
    let record;
    try { record = await deps.approvals.deny(id, reason); } catch (error) { return alreadyDecided(c, id, error); }
    ownerAction('approval_denied', { id: record.id, tool: record.tool });
    return backTo(c, '/approvals');
  });

  // ---- history

  app.get('/history', async (c) => {
    const query = { q: c.req.query('q')?.trim() || undefined, role: c.req.query('role') || undefined, since: c.req.query('since') || undefined, until: c.req.query('until') || undefined, mode: c.req.query('mode') || undefined };
    if (query.role && !['user', 'assistant', 'system'].includes(query.role)) throw new BadRequest(400, 'role: expected user, assistant or system.');
    if (query.mode && !['hybrid', 'keyword'].includes(query.mode)) throw new BadRequest(400, 'mode: expected hybrid or keyword.');
    const dates = { since: parseDate(query.since, false, 'since'), until: parseDate(query.until, true, 'until') };
    let hits;
    if (query.q) {
      if (!deps.recall) throw new BadRequest(409, 'Search needs direct mode.');
      hits = await deps.recall.searchMessages(query.q, { limit: 20, roles: query.role ? [query.role as MessageRole] : undefined, startDate: dates.since, endDate: dates.until, mode: query.mode === 'keyword' ? 'keyword' : undefined });
      ownerAction('history_searched', { mode: query.mode ?? 'hybrid' });
    }
    return c.html(views.historyPage({ query, hits, summaries: (await deps.store.listSummaries()).reverse(), csrf: c.get('csrf') }));
  });

  app.get('/history/messages/:id', async (c) => {
    const id = Number(c.req.param('id'));
    if (!Number.isInteger(id) || id < 1) throw new BadRequest(400, 'The message id must be a whole number.');
    const message = await deps.store.getMessage(id);
    if (!message) throw new BadRequest(404, `There is no message #${id}.`);
    const messages = await deps.store.messagesInRange(Math.max(1, id - 6), id + 6, message.conversationId);
    return c.html(views.messageContextPage({ id, messages, csrf: c.get('csrf') }));
  });

  // ---- context and cost

  app.get('/cost', async (c) => {
    const days = lastDays(30);
    const usage = await usageReport(deps.store, { since: `${days[0]}T00:00:00.000Z`, by: 'day' }, deps.prices);
    return c.html(views.costPage({ context: await deps.context?.(), usage, days, budgetUsd: deps.config.budget.dailyUsd, csrf: c.get('csrf') }));
  });

  // ---- jobs

  app.get('/jobs', async (c) => {
    const perch = deps.config.perchIntervalMinutes === 0 ? 'Perch time is off (LARES_PERCH_INTERVAL_MINUTES=0).' : `Every ${deps.config.perchIntervalMinutes} minutes while lares run runs (LARES_PERCH_INTERVAL_MINUTES); a tick with nothing new makes no model call.`;
    return c.html(views.jobsPage({ jobs: await deps.jobs?.list(true), perch, csrf: c.get('csrf') }));
  });

  app.post('/jobs/:id/:action', async (c) => {
    const jobs = deps.jobs;
    if (!jobs) throw new BadRequest(409, 'Jobs cannot be managed from this page here.');
    const id = c.req.param('id');
    const actionName = c.req.param('action');
    if (!await jobs.get(id)) throw new BadRequest(404, `There is no job ${id}.`);
    if (actionName === 'pause' || actionName === 'resume') await jobs.setPaused(id, actionName === 'pause');
    else if (actionName === 'remove') await jobs.remove(id);
    else if (actionName === 'run') await jobs.runNow(id);
    else throw new BadRequest(404, `Unknown job action "${actionName}": use pause, resume, remove or run.`);
    ownerAction(`job_${actionName === 'run' ? 'run_now' : actionName === 'remove' ? 'removed' : `${actionName}d`}`, { jobId: id });
    return c.redirect('/jobs', 303);
  });

  app.notFound((c) => fail(c, 404, `There is no page ${c.req.path}.`));
  return app;
}

function refererOrigin(referer: string | undefined): string | undefined {
  if (!referer) return undefined;
  try { return new URL(referer).origin; } catch { return undefined; }
}

/** Back to the page the form was on (same origin only), else the fallback. */
function backTo(c: Context, fallback: string) {
  const referer = c.req.header('referer');
  let path = fallback;
  if (referer) {
    try {
      const url = new URL(referer);
      if (url.host === c.req.header('host')) path = url.pathname;
    } catch { /* the fallback */ }
  }
  return c.redirect(path, 303);
}

function parseDate(value: string | undefined, endOfDay: boolean, name: string): string | undefined {
  if (!value) return undefined;
  try { return isoDate(value, endOfDay); } catch { throw new BadRequest(400, `${name}: "${value}" is not a date; use 2026-01-31.`); }
}

function lastDays(n: number, now = new Date()): string[] {
  const days: string[] = [];
  for (let i = n - 1; i >= 0; i--) days.push(new Date(now.getTime() - i * 86_400_000).toISOString().slice(0, 10));
  return days;
}
