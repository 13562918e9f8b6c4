// Who may use the console and from where: the bind-address rule, login (token or one-time
// link), sessions (HttpOnly, SameSite=Strict cookie), CSRF tokens, and the Host/Origin check
// that stops DNS rebinding. Nothing here ever logs or returns a secret.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/config.ts';
import { LaresError } from '../errors.ts';
import type { MemoryStore } from '../memory/store.ts';

export const SESSION_COOKIE = 'lares_session';
const SESSION_MS = 7 * 86_400_000;
const LOGIN_LINK_MS = 15 * 60_000;
const LOGIN_KEY_META = 'web_login_key';
/** a used login link's nonce, kept in the store so a restart (or another worker) cannot accept it again */
const NONCE_META_PREFIX = 'web_login_nonce:';
/** Sessions logged out before their expiry (the cookie would still verify). */
const ENDED_SESSION_PREFIX = 'web_session_ended:';
const FAILURE_WINDOW_MS = 60_000;
const MAX_FAILURES = 10;

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
  if (!web.allowPlainHttp) plainHttpRefused(web);
  // the Host names a browser may use are the console's own; on 0.0.0.0 or :: those are unknown
  if (isWildcard(web.host) && !web.origin) {
    throw new LaresError('CONFIG_INVALID', `LARES_WEB_HOST=${web.host} listens on every address, so Lares cannot tell which host name browsers will use, and it refuses `
      + 'requests for names it does not know (DNS rebinding). Set LARES_WEB_ORIGIN to the address you open, e.g. LARES_WEB_ORIGIN=http://192.168.1.5:8766 '
      + 'or https://lares.example.org, or set LARES_WEB_HOST to that one address. See README "Web console".');
  }
}

export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

function plainHttpRefused(web: Config['web']): never {
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
  return `${payload}.${sign(key, `login:${payload}`)}`;
}

/** Compares secrets in constant time, length included: both sides are hashed to 32 bytes first. */
export function safeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

interface Session { csrf: string; expiresAt: number }

/** What became of a login code: `forged` when its signature does not verify (a guess). */
export type LoginCodeResult = 'ok' | 'forged' | 'expired' | 'used';

/** Where used nonces and ended sessions are recorded: the store's atomic insert-if-absent. */
export type NonceStore = Pick<MemoryStore, 'claimMeta' | 'getMeta'>;

export class WebAuth {
  readonly #key: string;
  readonly #token?: string;
  readonly #nonces: NonceStore;
  /** failed logins per client address, in the last minute */
  readonly #failures = new Map<string, number[]>();

  constructor(options: { loginKey: string; token?: string; nonces: NonceStore }) {
    this.#key = options.loginKey;
    this.#token = options.token;
    this.#nonces = options.nonces;
  }

  get tokenLogin(): boolean { return this.#token !== undefined; }

  /** Whether the code was signed with this console's key (made by `lares web --login-link` or at start). */
  loginCodeSigned(code: string): boolean {
    const parts = code.split('.');
    // each kind of token signs its own prefix: a session cookie or CSRF token never passes as a login code
    return parts.length === 3 && /^\d+$/.test(parts[0]) && safeEqual(sign(this.#key, `login:${parts[0]}.${parts[1]}`), parts[2]);
  }

  /**
   * Checks a login code (one-time link) and uses it up: its nonce is claimed in the store
   * atomically, so it works once even across restarts and between workers.
   */
  async useLoginCode(code: string, now = Date.now()): Promise<LoginCodeResult> {
    if (!this.loginCodeSigned(code)) return 'forged';
    const [expiry, nonce] = code.split('.');
    if (!(Number(expiry) > now)) return 'expired';
    return (await this.#nonces.claimMeta(`${NONCE_META_PREFIX}${nonce}`, expiry)) ? 'ok' : 'used';
  }

  /**
   * After 10 failed logins in a minute from one address, that address waits: a guessed token or
   * link gets nowhere fast, and someone else's guessing does not lock the owner out.
   */
  loginThrottled(client: string, now = Date.now()): boolean {
    const recent = (this.#failures.get(client) ?? []).filter((t) => t > now - FAILURE_WINDOW_MS);
    if (recent.length === 0) this.#failures.delete(client);
    else this.#failures.set(client, recent);
    return recent.length >= MAX_FAILURES;
  }

  noteLoginFailure(client: string, now = Date.now()): void {
    // forget addresses whose failures are over a minute old, so the map stays small
    if (this.#failures.size > 1000) {
      for (const [address, times] of this.#failures) if (!times.some((t) => t > now - FAILURE_WINDOW_MS)) this.#failures.delete(address);
    }
    this.#failures.set(client, [...(this.#failures.get(client) ?? []), now].slice(-MAX_FAILURES));
  }

  checkToken(token: string): boolean {
    return this.#token !== undefined && safeEqual(token, this.#token);
  }

  /**
   * A session is its cookie: `<expiry>.<nonce>.<signature>`, signed with the console's key (kept in
   * the store), so it survives a restart and works on every worker sharing the store, with nothing
   * kept in memory. Its CSRF token is derived from it; logging out records the nonce as ended.
   */
  createSession(now = Date.now()): { id: string; csrf: string; maxAgeSeconds: number } {
    const payload = `${now + SESSION_MS}.${randomBytes(24).toString('base64url')}`;
    const id = `${payload}.${sign(this.#key, `session:${payload}`)}`;
    return { id, csrf: sign(this.#key, `csrf:${payload}`), maxAgeSeconds: SESSION_MS / 1000 };
  }

  async session(id: string | undefined, now = Date.now()): Promise<Session | undefined> {
    const parts = id?.split('.') ?? [];
    if (parts.length !== 3 || !/^\d+$/.test(parts[0])) return undefined;
    const payload = `${parts[0]}.${parts[1]}`;
    if (!safeEqual(sign(this.#key, `session:${payload}`), parts[2])) return undefined;
    const expiresAt = Number(parts[0]);
    if (!(expiresAt > now)) return undefined;
    if (await this.#nonces.getMeta(`${ENDED_SESSION_PREFIX}${parts[1]}`) !== undefined) return undefined;
    return { csrf: sign(this.#key, `csrf:${payload}`), expiresAt };
  }

  async endSession(id: string | undefined): Promise<void> {
    const parts = id?.split('.') ?? [];
    if (parts.length === 3) await this.#nonces.claimMeta(`${ENDED_SESSION_PREFIX}${parts[1]}`, parts[0]);
  }
}

/**
 * The Host names a browser may use: loopback names at any port (an SSH tunnel may forward another
 * local port), LARES_WEB_HOST's at the console's port, and LARES_WEB_ORIGIN's. A rebinding page's
 * requests carry its own (non-loopback) name in Host and are refused.
 */
export function allowedHosts(web: Config['web'], port: () => number): (host: string | undefined) => boolean {
  return (host) => {
    if (!host) return false;
    const value = host.toLowerCase();
    const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value);
    if (!match) return false;
    const name = match[1].startsWith('[') ? match[1].slice(1, -1) : match[1];
    if (isLoopback(name)) return true;
    const p = port();
    const names: string[] = [];
    if (!isLoopback(web.host) && !isWildcard(web.host)) names.push(web.host.includes(':') ? `[${web.host}]:${p}` : `${web.host}:${p}`);
    if (web.origin) names.push(new URL(web.origin).host);
    return names.includes(value);
  };
}

/** An Origin (or Referer's origin) that belongs to the console itself. */
export function sameOrigin(web: Config['web'], host: string, origin: string | undefined): boolean {
  if (!origin) return false;
  if (web.origin && origin === new URL(web.origin).origin) return true;
  return origin === `http://${host}` || origin === `https://${host}`;
}
