// Who may use the console and from where: the bind-address rule, login (token or one-time
// link), sessions (HttpOnly, SameSite=Strict cookie), CSRF tokens, and the Host/Origin check
// that stops DNS rebinding. Nothing here ever logs or returns a secret.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/config.ts';
import { LaresError } from '../errors.ts';
import type { MemoryStore } from '../memory/store.ts';

export const SESSION_COOKIE = 'lares_session';
const SESSION_MS = 7 * 86_400_000;
const LOGIN_LINK_MS = 15 * 60_000;
const LOGIN_KEY_META = 'web_login_key';

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Refuses a console on another address without TLS in front: the login token and the session
 * cookie would cross the network in clear. TLS in front is declared by LARES_WEB_ORIGIN=https://…
 */
export function checkWebSettings(web: Config['web']): void {
  if (isLoopback(web.host)) return;
  if (web.origin?.startsWith('https://')) return;
  if (web.allowPlainHttp) return;
  throw new LaresError('CONFIG_INVALID', `LARES_WEB_HOST=${web.host} would serve the console over plain HTTP to the network, where the login token and session cookie can be read. `
    + 'Keep the default 127.0.0.1 and reach it through an SSH tunnel, Tailscale or a TLS reverse proxy (set LARES_WEB_ORIGIN=https://your.host), '
    + 'or accept the risk with LARES_WEB_ALLOW_PLAIN_HTTP=true. See README "Web console".');
}

/** The signing key of login links, kept in the store so `lares web --login-link` can make one for a running console. */
export async function loginKey(store: MemoryStore): Promise<string> {
  const existing = await store.getMeta(LOGIN_KEY_META);
  if (existing) return existing;
  await store.claimMeta(LOGIN_KEY_META, randomBytes(32).toString('hex'));
  return (await store.getMeta(LOGIN_KEY_META))!;
}

function sign(key: string, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

/** A login code valid for 15 minutes and once: `<expiry>.<nonce>.<signature>`. */
export function makeLoginCode(key: string, now = Date.now()): string {
  const payload = `${now + LOGIN_LINK_MS}.${randomBytes(12).toString('base64url')}`;
  return `${payload}.${sign(key, payload)}`;
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

interface Session { csrf: string; expiresAt: number }

export class WebAuth {
  readonly #key: string;
  readonly #token?: string;
  readonly #sessions = new Map<string, Session>();
  readonly #usedNonces = new Map<string, number>();
  #failures: number[] = [];

  constructor(options: { loginKey: string; token?: string }) {
    this.#key = options.loginKey;
    this.#token = options.token;
  }

  get tokenLogin(): boolean { return this.#token !== undefined; }

  /** Checks a login code (one-time link) and uses it up. */
  useLoginCode(code: string, now = Date.now()): boolean {
    const parts = code.split('.');
    if (parts.length !== 3) return false;
    const [expiry, nonce, signature] = parts;
    if (!safeEqual(sign(this.#key, `${expiry}.${nonce}`), signature)) return false;
    if (!(Number(expiry) > now) || this.#usedNonces.has(nonce)) return false;
    for (const [n, until] of this.#usedNonces) if (until < now) this.#usedNonces.delete(n);
    this.#usedNonces.set(nonce, Number(expiry));
    return true;
  }

  /** After 10 failed logins in a minute, logins wait: a guessed token or link gets nowhere fast. */
  loginThrottled(now = Date.now()): boolean {
    this.#failures = this.#failures.filter((t) => t > now - 60_000);
    return this.#failures.length >= 10;
  }

  noteLoginFailure(now = Date.now()): void {
    this.#failures.push(now);
  }

  checkToken(token: string): boolean {
    return this.#token !== undefined && safeEqual(token, this.#token);
  }

  createSession(now = Date.now()): { id: string; csrf: string; maxAgeSeconds: number } {
    for (const [id, s] of this.#sessions) if (s.expiresAt < now) this.#sessions.delete(id);
    const id = randomBytes(32).toString('base64url');
    const session = { csrf: randomBytes(24).toString('base64url'), expiresAt: now + SESSION_MS };
    this.#sessions.set(id, session);
    return { id, csrf: session.csrf, maxAgeSeconds: SESSION_MS / 1000 };
  }

  session(id: string | undefined, now = Date.now()): Session | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session || session.expiresAt < now) return undefined;
    return session;
  }

  endSession(id: string | undefined): void {
    if (id) this.#sessions.delete(id);
  }
}

/**
 * The Host names a browser may use: loopback names at the console's port, and LARES_WEB_HOST's and
 * LARES_WEB_ORIGIN's. A rebinding page's requests carry its own name in Host and are refused.
 */
export function allowedHosts(web: Config['web'], port: () => number): (host: string | undefined) => boolean {
  return (host) => {
    if (!host) return false;
    const p = port();
    const names = [`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`];
    if (!isLoopback(web.host)) names.push(web.host.includes(':') ? `[${web.host}]:${p}` : `${web.host}:${p}`);
    if (web.origin) names.push(new URL(web.origin).host);
    return names.includes(host.toLowerCase());
  };
}

/** An Origin (or Referer's origin) that belongs to the console itself. */
export function sameOrigin(web: Config['web'], host: string, origin: string | undefined): boolean {
  if (!origin) return false;
  if (web.origin && origin === new URL(web.origin).origin) return true;
  return origin === `http://${host}` || origin === `https://${host}`;
}
