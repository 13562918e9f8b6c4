// The console's security rules on their own: where it may listen, login codes, sessions, hosts, origins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.ts';
import { WebAuth, allowedHosts, checkWebSettings, makeLoginCode, sameOrigin } from '../../src/web/security.ts';
import { consoleUrl } from '../../src/web/console-server.ts';
import { escapeHtml, h } from '../../src/web/html.ts';
import { diffLines } from '../../src/web/diff.ts';

const web = (env: Record<string, string>) => loadConfig({ USE_DIRECT_LLM: 'true', ...env }).web;

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
  assert.equal(consoleUrl(web({}), 8766), 'http://127.0.0.1:8766');
  assert.equal(consoleUrl(web({ LARES_WEB_HOST: '0.0.0.0', LARES_WEB_ORIGIN: 'https://lares.example.org/' }), 8766), 'https://lares.example.org');
});

test('login codes are signed, expire and work once; tokens compare in constant time', () => {
  const auth = new WebAuth({ loginKey: 'k'.repeat(64), token: 'a-token-of-some-length' });
  const now = Date.now();
  const code = makeLoginCode('k'.repeat(64), now);
  assert.equal(auth.useLoginCode(makeLoginCode('another-key', now)), false);
  assert.equal(auth.useLoginCode(code, now + 16 * 60_000), false, 'expired after 15 minutes');
  assert.equal(auth.useLoginCode(code, now), true);
  assert.equal(auth.useLoginCode(code, now), false, 'once');
  assert.equal(auth.useLoginCode('garbage'), false);
  assert.equal(auth.checkToken('a-token-of-some-length'), true);
  assert.equal(auth.checkToken('a-token-of-some-lengtH'), false);
  assert.equal(new WebAuth({ loginKey: 'k' }).checkToken(''), false, 'no token login without LARES_WEB_TOKEN');
  for (let i = 0; i < 9; i++) auth.noteLoginFailure(now);
  assert.equal(auth.loginThrottled(now), false);
  auth.noteLoginFailure(now);
  assert.equal(auth.loginThrottled(now), true, 'ten failures in a minute');
  assert.equal(auth.loginThrottled(now + 61_000), false, 'a minute later');
  const session = auth.createSession(now);
  assert.equal(auth.session(session.id, now)?.csrf, session.csrf);
  assert.equal(auth.session(session.id, now + 8 * 86_400_000), undefined, 'sessions end after a week');
  auth.endSession(session.id);
  assert.equal(auth.session(session.id, now), undefined);
});

test('Host and Origin: the console\'s own names only', () => {
  const local = allowedHosts(web({}), () => 8766);
  assert.equal(local('127.0.0.1:8766'), true);
  assert.equal(local('localhost:8766'), true);
  assert.equal(local('evil.example:8766'), false);
  assert.equal(local('127.0.0.1:9999'), false);
  assert.equal(local(undefined), false);
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
