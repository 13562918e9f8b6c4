// The console's security rules on their own: where it may listen, login codes, sessions, hosts, origins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.ts';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import { WebAuth, allowedHosts, checkWebSettings, makeLoginCode, safeEqual, sameOrigin, type NonceStore } from '../../src/web/security.ts';
import { consoleUrl, startupMessage } from '../../src/web/console-server.ts';
import { escapeHtml, h } from '../../src/web/html.ts';
import { diffLines } from '../../src/web/diff.ts';

const web = (env: Record<string, string>) => loadConfig({ USE_DIRECT_LLM: 'true', ...env }).web;

/** claimMeta of a store, in memory */
function memoryNonces(): NonceStore {
  const meta = new Map<string, string>();
  return {
    claimMeta: async (key, value) => { if (meta.has(key)) return false; meta.set(key, value); return true; },
    getMeta: async (key) => meta.get(key),
  };
}

test('the console is off and on loopback by default; another address needs TLS in front or an explicit yes', () => {
  assert.deepEqual(web({}), { enabled: false, host: '127.0.0.1', token: undefined, allowPlainHttp: false, origin: undefined });
  assert.equal(web({ LARES_WEB: 'true' }).enabled, true);
  checkWebSettings(web({}));
  checkWebSettings(web({ LARES_WEB_HOST: '::1' }));
  assert.throws(() => checkWebSettings(web({ LARES_WEB_HOST: '0.0.0.0' })), (error: Error & { exitCode?: number }) => {
    assert.match(error.message, /plain HTTP/);
    assert.match(error.message, /LARES_WEB_ALLOW_PLAIN_HTTP=true/);
    assert.equal(error.exitCode, 2);
    return true;
  });
  assert.throws(() => checkWebSettings(web({ LARES_WEB_HOST: '0.0.0.0', LARES_WEB_ORIGIN: 'http://lares.lan' })));
  checkWebSettings(web({ LARES_WEB_HOST: '0.0.0.0', LARES_WEB_ORIGIN: 'https://lares.example.org' }));
  checkWebSettings(web({ LARES_WEB_HOST: '192.168.1.5', LARES_WEB_ALLOW_PLAIN_HTTP: 'true' }));
  assert.throws(() => loadConfig({ LARES_WEB_TOKEN: 'short' }), (error: Error) => {
    assert.match(error.message, /LARES_WEB_TOKEN=\(hidden\): expected at least 16 characters/);
    assert.doesNotMatch(error.message, /short/);
    return true;
  });
  // a wildcard bind: browsers may use any name, which the Host check cannot know; LARES_WEB_ORIGIN names it
  assert.throws(() => checkWebSettings(web({ LARES_WEB_HOST: '0.0.0.0', LARES_WEB_ALLOW_PLAIN_HTTP: 'true' })), (error: Error & { exitCode?: number }) => {
    assert.match(error.message, /set LARES_WEB_ORIGIN/i);
    assert.equal(error.exitCode, 2);
    return true;
  });
  assert.throws(() => checkWebSettings(web({ LARES_WEB_HOST: '::', LARES_WEB_ALLOW_PLAIN_HTTP: 'true' })), /LARES_WEB_ORIGIN/);
  checkWebSettings(web({ LARES_WEB_HOST: '0.0.0.0', LARES_WEB_ALLOW_PLAIN_HTTP: 'true', LARES_WEB_ORIGIN: 'http://192.168.1.5:8766' }));
  assert.equal(consoleUrl(web({}), 8766), 'http://127.0.0.1:8766');
  assert.equal(consoleUrl(web({ LARES_WEB_HOST: '0.0.0.0', LARES_WEB_ORIGIN: 'https://lares.example.org/' }), 8766), 'https://lares.example.org');
});

test('login codes are signed, expire and work once; tokens compare in constant time', async () => {
  const auth = new WebAuth({ loginKey: 'k'.repeat(64), token: 'a-token-of-some-length', nonces: memoryNonces() });
  const now = Date.now();
  const code = makeLoginCode('k'.repeat(64), now);
  assert.equal(await auth.useLoginCode(makeLoginCode('another-key', now)), 'forged');
  assert.equal(auth.loginCodeSigned(makeLoginCode('another-key', now)), false);
  assert.equal(auth.loginCodeSigned(code), true);
  assert.equal(await auth.useLoginCode(code, now + 16 * 60_000), 'expired', 'expired after 15 minutes');
  assert.equal(await auth.useLoginCode(code, now), 'ok');
  assert.equal(await auth.useLoginCode(code, now), 'used', 'once');
  assert.equal(await auth.useLoginCode('garbage'), 'forged');
  assert.equal(auth.checkToken('a-token-of-some-length'), true);
  assert.equal(auth.checkToken('a-token-of-some-lengtH'), false);
  assert.equal(auth.checkToken('a-token'), false);
  assert.equal(new WebAuth({ loginKey: 'k', nonces: memoryNonces() }).checkToken(''), false, 'no token login without LARES_WEB_TOKEN');
  // secrets compare as SHA-256 digests: any lengths, multi-byte text, never a throw
  assert.equal(safeEqual('abc', 'abc'), true);
  assert.equal(safeEqual('abc', 'abcd'), false);
  assert.equal(safeEqual('é', 'e\u0301'), false);
  assert.equal(safeEqual('', ''), true);
  // failed logins count per client address
  for (let i = 0; i < 9; i++) auth.noteLoginFailure('192.0.2.1', now);
  assert.equal(auth.loginThrottled('192.0.2.1', now), false);
  auth.noteLoginFailure('192.0.2.1', now);
  assert.equal(auth.loginThrottled('192.0.2.1', now), true, 'ten failures in a minute');
  assert.equal(auth.loginThrottled('127.0.0.1', now), false, 'another address (the owner) is not locked out');
  assert.equal(auth.loginThrottled('192.0.2.1', now + 61_000), false, 'a minute later');
  const session = auth.createSession(now);
  assert.equal((await auth.session(session.id, now))?.csrf, session.csrf);
  assert.equal(await auth.session(session.id, now + 8 * 86_400_000), undefined, 'sessions end after a week');
  // the cookie is signed: another key, or a changed expiry, is refused
  assert.equal(await new WebAuth({ loginKey: 'x'.repeat(64), nonces: memoryNonces() }).session(session.id, now), undefined);
  const [expiry, nonce, signature] = session.id.split('.');
  assert.equal(await auth.session(`${Number(expiry) + 86_400_000}.${nonce}.${signature}`, now), undefined);
  assert.equal(await auth.session('garbage', now), undefined);
  // each kind of token signs its own prefix: a session cookie is not a login code, nor the reverse
  assert.equal(auth.loginCodeSigned(session.id), false);
  assert.equal(auth.loginCodeSigned(`session:${session.id}`), false);
  assert.equal(await auth.session(makeLoginCode('k'.repeat(64), now), now), undefined);
  assert.equal(await auth.session(undefined, now), undefined);
  await auth.endSession(session.id);
  assert.equal(await auth.session(session.id, now), undefined, 'logged out');
});

test('a used login link stays used after a restart: the nonce is in the store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-nonce-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'lares.db');
  const code = makeLoginCode('k'.repeat(64));
  const first = await openSqliteStore(path);
  assert.equal(await new WebAuth({ loginKey: 'k'.repeat(64), nonces: first }).useLoginCode(code), 'ok');
  await first.close();
  // the process restarts: a new WebAuth over the same file
  const second = await openSqliteStore(path);
  t.after(() => second.close());
  assert.equal(await new WebAuth({ loginKey: 'k'.repeat(64), nonces: second }).useLoginCode(code), 'used');
  assert.match((await second.getMeta(`web_login_nonce:${code.split('.')[1]}`)) ?? '', /^\d+$/);
  // a session made before the restart (or by another worker on the same store) still works; a logout ends it everywhere
  const session = new WebAuth({ loginKey: 'k'.repeat(64), nonces: second }).createSession();
  const other = new WebAuth({ loginKey: 'k'.repeat(64), nonces: second });
  assert.equal((await other.session(session.id))?.csrf, session.csrf);
  await other.endSession(session.id);
  assert.equal(await new WebAuth({ loginKey: 'k'.repeat(64), nonces: second }).session(session.id), undefined);
});

test('the login link is printed at start only on a terminal (not into the journal)', () => {
  const web = { url: () => 'http://127.0.0.1:8766', loginLink: () => 'http://127.0.0.1:8766/login/link?code=secret' };
  assert.match(startupMessage(web, true), /Log in \(one-time link, 15 minutes\): http:\/\/127\.0\.0\.1:8766\/login\/link\?code=secret\n/);
  const journal = startupMessage(web, false);
  assert.match(journal, /^Lares console: http:\/\/127\.0\.0\.1:8766\n/);
  assert.match(journal, /npx lares web --login-link/);
  assert.ok(!journal.includes('code='), 'no working link off a terminal');
});

test('Host and Origin: the console\'s own names only', () => {
  const local = allowedHosts(web({}), () => 8766);
  assert.equal(local('127.0.0.1:8766'), true);
  assert.equal(local('localhost:8766'), true);
  assert.equal(local('evil.example:8766'), false);
  // loopback names at any port (an SSH tunnel on another local port); a rebinding name is never loopback
  assert.equal(local('127.0.0.1:9999'), true);
  assert.equal(local('localhost:18766'), true);
  assert.equal(local('[::1]:9000'), true);
  assert.equal(local('localhost'), true);
  assert.equal(local('localhost.evil.example:8766'), false);
  assert.equal(local('127.0.0.1.nip.io:8766'), false);
  assert.equal(local('evil.example'), false);
  assert.equal(local('127.0.0.1:8766@evil.example'), false);
  assert.equal(local(undefined), false);
  const lan = allowedHosts(web({ LARES_WEB_HOST: '192.168.1.5', LARES_WEB_ALLOW_PLAIN_HTTP: 'true' }), () => 8766);
  assert.equal(lan('192.168.1.5:8766'), true);
  assert.equal(lan('192.168.1.5:9999'), false, 'a network name only at the console\'s port');
  const wildcard = allowedHosts(web({ LARES_WEB_HOST: '0.0.0.0', LARES_WEB_ALLOW_PLAIN_HTTP: 'true', LARES_WEB_ORIGIN: 'http://192.168.1.5:8766' }), () => 8766);
  assert.equal(wildcard('192.168.1.5:8766'), true);
  assert.equal(wildcard('0.0.0.0:8766'), false);
  const proxied = web({ LARES_WEB_ORIGIN: 'https://lares.example.org' });
  assert.equal(allowedHosts(proxied, () => 8766)('lares.example.org'), true);
  assert.equal(sameOrigin(proxied, '127.0.0.1:8766', 'https://lares.example.org'), true);
  assert.equal(sameOrigin(proxied, '127.0.0.1:8766', 'http://127.0.0.1:8766'), true);
  assert.equal(sameOrigin(proxied, '127.0.0.1:8766', 'https://evil.example'), false);
  assert.equal(sameOrigin(proxied, '127.0.0.1:8766', undefined), false);
});

test('HTML escaping and block diffs', () => {
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  const inner = h`<b>${'<i>'}</b>`;
  assert.equal(h`<p>${inner}${['<', inner]}${null}${undefined}${false}${3}</p>`.value, '<p><b>&lt;i&gt;</b>&lt;<b>&lt;i&gt;</b>3</p>');
  assert.deepEqual(diffLines('a\nb\nc', 'a\nc\nd'), [
    { kind: 'same', text: 'a' }, { kind: 'removed', text: 'b' }, { kind: 'same', text: 'c' }, { kind: 'added', text: 'd' },
  ]);
  assert.deepEqual(diffLines('', 'x'), [{ kind: 'added', text: 'x' }]);
});
