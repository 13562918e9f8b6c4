// The web console over real HTTP: login (token, one-time link), sessions, CSRF, Host and Origin
// checks, every page and action, bad input refused with a clear 4xx that changes nothing, and no
// secret or unescaped user text on any page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startHealthServer } from '../../src/channels/discord/health-server.ts';
import { createWebConsole } from '../../src/web/console-server.ts';
import { EventLog } from '../../src/mcp-server/events.ts';
import { Scheduler } from '../../src/mcp-server/scheduler.ts';
import { openStore } from '../../src/memory/open-store.ts';
import { Browserish, startConsole } from './harness.ts';

const TOKEN = 'web-token-0123456789abcdef';

/** Reads an SSE body to its end: [event, data] pairs. */
async function sse(response: Response): Promise<Array<[string, any]>> {
  const text = await response.text();
  return text.split('\n\n').filter(Boolean).map((block) => {
    const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
    const data = /^data: (.*)$/m.exec(block)?.[1];
    return [event, data ? JSON.parse(data) : null] as [string, any];
  });
}

/** Sends bytes as they are over a socket (fetch and node:http refuse malformed requests) and returns the reply. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { reply += d; });
    socket.on('end', () => resolve(reply));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
    socket.setTimeout(5000, () => { socket.destroy(); resolve(reply); });
    socket.write(text);
  });
}

/** A form post from a given local address (127.0.0.2 is another client on Linux's loopback). */
function postFrom(localAddress: string, port: number, path: string, form: Record<string, string>): Promise<{ status: number; cookie: boolean }> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, method: 'POST', localAddress, headers: { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, cookie: (res.headers['set-cookie'] ?? []).some((c) => c.startsWith('lares_session=') && !c.startsWith('lares_session=;')) });
    }).on('error', reject).end(body);
  });
}

test('the web console', async (t) => {
  const h = await startConsole({ env: { LARES_WEB_TOKEN: TOKEN } });
  t.after(() => h.close());
  const anonymous = new Browserish(h.base);

  await t.test('an unauthenticated browser sees only the login page', async () => {
    for (const path of ['/', '/memory', '/approvals', '/history', '/cost', '/jobs', '/memory/block/human/history']) {
      const response = await anonymous.get(path);
      assert.equal(response.status, 303, path);
      assert.equal(response.headers.get('location'), '/login');
    }
    assert.equal((await anonymous.get('/fragments/pending')).status, 401);
    assert.equal((await anonymous.get('/events')).status, 401);
    const chat = await anonymous.post('/chat', { message: 'hi' }, { csrf: false });
    assert.equal(chat.status, 401);
    const login = await anonymous.get('/login');
    assert.equal(login.status, 200);
    const html = await login.text();
    assert.match(html, /Console token/);
    assert.doesNotMatch(html, /csrf-token/);
    assert.equal(login.headers.get('x-frame-options'), 'DENY');
    assert.match(login.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal((await anonymous.get('/static/console.css')).status, 200);
    assert.equal((await h.runtime.store.recentMessages(10)).length, 0, 'nothing reached the agent');
  });

  await t.test('token login: a wrong token is refused; the right one sets an HttpOnly SameSite=Strict cookie', async () => {
    const wrong = await anonymous.post('/login', { token: 'not-the-token-at-all' }, { csrf: false });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /not right/);
    assert.equal(anonymous.cookie, '');
    const client = new Browserish(h.base);
    const right = await client.post('/login', { token: TOKEN }, { csrf: false });
    assert.equal(right.status, 303);
    const cookie = right.headers.getSetCookie().find((c) => c.startsWith('lares_session='))!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\//);
    assert.doesNotMatch(cookie, /Secure/, 'no Secure cookie on http://127.0.0.1');
    await client.refreshCsrf();
    const page = await (await client.get('/')).text();
    assert.ok(!page.includes(TOKEN), 'the token is never on a page');
    assert.ok(!page.includes(h.fake.apiKey), 'the API key is never on a page');
    // a login form posted from another site (login CSRF) is refused
    const foreign = await anonymous.post('/login', { token: TOKEN }, { csrf: false, headers: { origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
  });

  await t.test('a login link works once, for this console only', async () => {
    const link = new URL(h.web.loginLink());
    const code = link.searchParams.get('code')!;
    const client = new Browserish(h.base);
    // opening the link (a chat app's preview) does not use it up
    const preview = await client.get(`/login/link?code=${encodeURIComponent(code)}`);
    assert.equal(preview.status, 200);
    assert.equal(client.cookie, '');
    assert.equal((await client.post('/login/link', { code }, { csrf: false })).status, 303);
    assert.notEqual(client.cookie, '');
    const again = new Browserish(h.base);
    assert.equal((await again.post('/login/link', { code }, { csrf: false })).status, 401, 'a used link is refused');
    const tampered = `${code.split('.').slice(0, 2).join('.')}.AAAA`;
    assert.equal((await again.post('/login/link', { code: tampered }, { csrf: false })).status, 401);
    assert.equal((await again.post('/login/link', { code: `${Date.now() - 1000}.x.y` }, { csrf: false })).status, 401);
    assert.equal(again.cookie, '');
  });

  await t.test('a used login link stays used after a restart (the nonce is in the store)', async () => {
    const code = new URL(h.web.loginLink()).searchParams.get('code')!;
    assert.equal((await new Browserish(h.base).post('/login/link', { code }, { csrf: false })).status, 303);
    // a second console over the same store, as after `systemctl restart lares`
    const web2 = await createWebConsole(h.config, h.runtime);
    const server2 = await startHealthServer({ port: 0, handle: web2.handle, report: () => ({ status: 'ok', mode: 'direct', discord: { connected: false }, perch: { intervalMinutes: 0, lastTickAt: null }, approvals: { pending: 0 }, startedAt: '' }) });
    try {
      web2.setPort(server2.port);
      const restarted = new Browserish(`http://127.0.0.1:${server2.port}`);
      assert.equal((await restarted.post('/login/link', { code }, { csrf: false })).status, 401, 'replayed after a restart');
      assert.equal(restarted.cookie, '');
      // a fresh link from the same key works on the restarted console
      const fresh = new URL(web2.loginLink()).searchParams.get('code')!;
      assert.equal((await restarted.post('/login/link', { code: fresh }, { csrf: false })).status, 303);
    } finally {
      await server2.close();
      await web2.close();
    }
  });

  await t.test('failed logins are counted per address; a valid link is never throttled', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await postFrom('127.0.0.2', h.port, '/login', { token: `wrong-token-number-${i}` })).status, 401);
    assert.equal((await postFrom('127.0.0.2', h.port, '/login', { token: TOKEN })).status, 429, 'the guessing address waits');
    assert.equal((await postFrom('127.0.0.2', h.port, '/login/link', { code: `${Date.now() + 60_000}.x.forged` })).status, 429);
    // the owner, from another address, is not locked out
    const owner = await postFrom('127.0.0.1', h.port, '/login', { token: TOKEN });
    assert.equal(owner.status, 303);
    assert.equal(owner.cookie, true);
    // and a link this console signed logs in even from the throttled address
    const link = await postFrom('127.0.0.2', h.port, '/login/link', { code: new URL(h.web.loginLink()).searchParams.get('code')! });
    assert.equal(link.status, 303);
    assert.equal(link.cookie, true);
  });

  await t.test('a malformed request line is a 400, and the server keeps serving', async () => {
    const reply = await rawRequest(h.port, 'GET http://[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.equal((await fetch(`${h.base}/health`)).status, 200);
    assert.equal((await fetch(`${h.base}/login`)).status, 200);
  });

  await t.test('static files: only the console\'s own, never Object\'s properties', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'nope.js']) {
      assert.equal((await anonymous.get(`/static/${name}`)).status, 404, name);
    }
    assert.equal((await anonymous.get('/static/console.js')).status, 200);
  });

  await t.test('a malformed form body is a 400, not a 500', async () => {
    const malformed = { 'content-type': 'multipart/form-data; boundary=zzz', origin: h.base };
    const login = await fetch(`${h.base}/login`, { method: 'POST', redirect: 'manual', headers: malformed, body: 'this is not multipart' });
    assert.equal(login.status, 400);
    assert.match(await login.text(), /malformed/);
    const link = await fetch(`${h.base}/login/link`, { method: 'POST', redirect: 'manual', headers: malformed, body: '--zzz\r\nbroken' });
    assert.equal(link.status, 400);
  });

  const client = await h.login();

  /** A block edit as the Memory page posts it: with the version of the block the page showed. */
  const editBlock = async (label: string, content: string, updatedAt?: string) => {
    const version = updatedAt ?? (await h.runtime.store.getBlock(label))?.updatedAt ?? '';
    return client.post(`/memory/block/${encodeURIComponent(label)}`, { content, updatedAt: version });
  };

  await t.test('Host is checked (DNS rebinding) and Origin on every state change', async () => {
    // fetch will not send another Host: node:http will, as a rebinding page's browser would
    const withHost = (host: string, path: string) => new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: h.port, path, headers: { host, cookie: client.cookie } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject).end();
    });
    assert.equal(await withHost('evil.example', '/'), 421);
    assert.equal(await withHost(`evil.example:${h.port}`, '/login'), 421);
    assert.equal(await withHost(`localhost:${h.port}`, '/login'), 200);
    // loopback names at another port (an SSH tunnel from another local port) are the console's own
    assert.equal(await withHost('localhost:18766', '/login'), 200);
    assert.equal(await withHost('127.0.0.1:1', '/login'), 200);
    assert.equal(await withHost('[::1]:9000', '/login'), 200);
    assert.equal(await withHost('localhost.evil.example:18766', '/login'), 421);
    const before = (await h.runtime.store.getBlock('human'))!.content;
    const updatedAt = (await h.runtime.store.getBlock('human'))!.updatedAt;
    const crossSite = await client.post('/memory/block/human', { content: 'pwned', updatedAt }, { headers: { origin: 'http://evil.example' } });
    assert.equal(crossSite.status, 403);
    const noOrigin = await fetch(`${h.base}/memory/block/human`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ content: 'pwned', updatedAt, _csrf: client.csrf }), headers: { cookie: client.cookie } });
    assert.equal(noOrigin.status, 403);
    assert.equal((await h.runtime.store.getBlock('human'))!.content, before, 'nothing changed');
  });

  await t.test('every state change needs the CSRF token', async () => {
    const before = (await h.runtime.store.getBlock('human'))!;
    const missing = await client.post('/memory/block/human', { content: 'changed', updatedAt: before.updatedAt, _csrf: '' });
    assert.equal(missing.status, 403);
    assert.match(await missing.text(), /CSRF/);
    const wrong = await client.post('/chat', { message: 'hello' }, { headers: { 'x-csrf-token': 'nope' } });
    assert.equal(wrong.status, 403);
    // same length, one character off
    const nearly = client.csrf.slice(0, -1) + (client.csrf.endsWith('A') ? 'B' : 'A');
    assert.equal((await client.post('/memory/block/human', { content: 'changed', updatedAt: before.updatedAt, _csrf: nearly })).status, 403);
    // a malformed body with a session is a 400 (the CSRF check reads the body first)
    const malformed = await fetch(`${h.base}/memory/passages`, { method: 'POST', redirect: 'manual', body: 'not multipart', headers: { cookie: client.cookie, origin: h.base, 'content-type': 'multipart/form-data; boundary=zzz' } });
    assert.equal(malformed.status, 400);
    assert.equal((await h.runtime.store.getBlock('human'))!.content, before.content);
    assert.equal((await h.runtime.store.recentMessages(10)).length, 0);
  });

  await t.test('chat streams the reply as Server-Sent Events into the shared conversation', async () => {
    const response = await client.post('/chat', { message: 'hello from the web' }, { headers: { accept: 'text/event-stream' } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = await sse(response);
    assert.equal(events[0][0], 'text');
    assert.equal(events.at(-1)![0], 'done');
    assert.equal(events.filter(([e]) => e === 'text').map(([, d]) => d.delta).join(''), 'echo: hello from the web');
    assert.equal(events.at(-1)![1].reply, 'echo: hello from the web');
    const stored = (await h.runtime.store.recentMessages(2)).reverse();
    assert.deepEqual(stored.map((m) => m.role), ['user', 'assistant']);
    assert.equal(stored[0].metadata?.channel, 'web');
    const page = await (await client.get('/')).text();
    assert.match(page, /echo: hello from the web/);
    // without script: a plain form post runs the turn and comes back to the page
    const plain = await client.post('/chat', { message: 'no script here' });
    assert.equal(plain.status, 303);
    assert.match(await (await client.get('/fragments/messages')).text(), /echo: no script here/);
    assert.equal((await client.post('/chat', { message: '   ' }, { headers: { accept: 'text/event-stream' } })).status, 400);
  });

  await t.test('user content is escaped: a <script> in a message or block is shown as text', async () => {
    await client.post('/chat', { message: '<script>alert("x")</script><img src=x onerror=alert(1)>' }, { headers: { accept: 'text/event-stream' } }).then((r) => r.text());
    const page = await (await client.get('/')).text();
    assert.ok(!page.includes('<script>alert'), 'no live script');
    assert.ok(!page.includes('<img src=x'), 'no live image tag');
    assert.match(page, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
    assert.equal((await editBlock('ideas', '</textarea><script>alert(2)</script>')).status, 303);
    const memory = await (await client.get('/memory')).text();
    assert.ok(!memory.includes('<script>alert(2)'));
    assert.match(memory, /&lt;\/textarea&gt;&lt;script&gt;alert\(2\)/);
  });

  await t.test('memory: edit a block through the store, recorded with actor owner, its history as diffs', async () => {
    const page0 = await (await client.get('/memory')).text();
    // the form carries the version of the block it shows
    const shown = /action="\/memory\/block\/human"><input type="hidden" name="_csrf" value="[^"]*"><input type="hidden" name="updatedAt" value="([^"]+)">/.exec(page0)![1];
    assert.equal(shown, (await h.runtime.store.getBlock('human'))!.updatedAt);
    const edit = await editBlock('human', 'Name: Sam\r\nLikes: tomatoes', shown);
    assert.equal(edit.status, 303);
    const block = (await h.runtime.store.getBlock('human'))!;
    assert.equal(block.content, 'Name: Sam\nLikes: tomatoes');
    const last = (await h.runtime.store.blockHistory('human')).at(-1)!;
    assert.equal(last.actor, 'owner');
    const history = await (await client.get('/memory/block/human/history')).text();
    assert.match(history, /<strong>owner<\/strong>/);
    assert.match(history, /class="added">\+ Likes: tomatoes/);
    const page = await (await client.get('/memory')).text();
    assert.match(page, new RegExp(`human <span class="muted">${block.content.length} / ${block.charLimit} chars`));
    // bad input: a clear 4xx, nothing saved
    const tooLong = await editBlock('human', 'x'.repeat(block.charLimit + 1));
    assert.equal(tooLong.status, 400);
    assert.match(await tooLong.text(), /at most \d+ characters/);
    assert.equal((await editBlock('nosuch', 'x', 'whenever')).status, 404);
    assert.equal((await client.post('/memory/block/human', {})).status, 400);
    assert.equal((await client.post('/memory/block/human', { content: 'no version' })).status, 400);
    assert.equal((await client.get('/memory/block/nosuch/history')).status, 404);
    assert.equal((await h.runtime.store.getBlock('human'))!.content, 'Name: Sam\nLikes: tomatoes');
  });

  await t.test('memory: an edit made on a page loaded before the agent\'s edit is refused (409), not saved over it', async () => {
    const loaded = (await h.runtime.store.getBlock('human'))!.updatedAt;
    await new Promise((resolve) => setTimeout(resolve, 5));
    // the agent edits the block while the owner's page is open
    await h.runtime.store.setBlockContent('human', 'Name: Sam\nLikes: tomatoes\nAllergic to wasps', 'agent:memory_insert');
    const stale = await editBlock('human', 'Name: Sam\nLikes: basil', loaded);
    assert.equal(stale.status, 409);
    assert.match(await stale.text(), /was changed .* after this page was loaded.*Nothing was saved/s);
    assert.equal((await h.runtime.store.getBlock('human'))!.content, 'Name: Sam\nLikes: tomatoes\nAllergic to wasps', 'the agent\'s edit stays');
    assert.equal((await editBlock('human', 'Name: Sam\nLikes: basil\nAllergic to wasps')).status, 303, 'with the current version it saves');
  });

  await t.test('memory: a block over its limit (migrated) may be edited down, as the agent\'s tools allow', async () => {
    const block = (await h.runtime.store.getBlock('state'))!;
    await h.runtime.store.setBlockContent('state', 'y'.repeat(block.charLimit + 50), 'migration');
    const page = await (await client.get('/memory')).text();
    assert.match(page, new RegExp(`id="content-state" name="content" rows="6" maxlength="${block.charLimit + 50}"`), 'the browser lets it be shortened');
    assert.equal((await editBlock('state', 'y'.repeat(block.charLimit + 60))).status, 400, 'longer: refused');
    assert.equal((await editBlock('state', 'y'.repeat(block.charLimit + 10))).status, 303, 'shorter but still over: saved');
    assert.equal((await h.runtime.store.getBlock('state'))!.content.length, block.charLimit + 10);
    assert.equal((await editBlock('state', block.content)).status, 303);
  });

  await t.test('memory: any label works, "passages" and characters that need encoding included', async () => {
    for (const label of ['passages', 'to do/later? #1']) {
      await h.runtime.store.putBlock({ label, content: 'old', description: '', charLimit: 500, readOnly: false }, 'test');
      const page = await (await client.get('/memory')).text();
      const path = `/memory/block/${encodeURIComponent(label)}`;
      assert.ok(page.includes(`action="${path}"`), label);
      assert.ok(page.includes(`href="${path}/history"`), label);
      const saved = await editBlock(label, `new ${label}`);
      assert.equal(saved.status, 303, label);
      assert.equal(saved.headers.get('location'), `/memory#block-${encodeURIComponent(label)}`);
      assert.equal((await h.runtime.store.getBlock(label))!.content, `new ${label}`);
      assert.equal((await client.get(`${path}/history`)).status, 200, label);
    }
    // adding a passage is still its own route
    assert.equal((await client.post('/memory/passages', { text: 'not a block edit' })).status, 303);
    assert.equal((await h.runtime.store.getBlock('passages'))!.content, 'new passages');
  });

  await t.test('memory: archival passages are added, searched and deleted', async () => {
    assert.equal((await client.post('/memory/passages', { text: 'The greenhouse key is under the blue pot', tags: 'garden, keys' })).status, 303);
    const passages = await h.runtime.store.listPassages();
    assert.deepEqual(passages.at(-1)!.tags, ['garden', 'keys']);
    const found = await (await client.get('/memory?q=greenhouse')).text();
    assert.match(found, /blue pot/);
    assert.equal((await client.post('/memory/passages', { text: '  ' })).status, 400);
    const id = passages.at(-1)!.id;
    assert.equal((await client.post(`/memory/passages/${id}/delete`, {})).status, 303);
    assert.equal((await h.runtime.store.listPassages()).some((p) => p.id === id), false);
    assert.doesNotMatch(await (await client.get('/memory?q=greenhouse')).text(), /blue pot/);
    assert.equal((await client.post(`/memory/passages/${id}/delete`, {})).status, 404);
    assert.equal((await client.post('/memory/passages/abc/delete', {})).status, 400);
  });

  await t.test('approvals: a pending shell command shows inline and on its page; approve runs it exactly once', async () => {
    const file = join(h.dir, 'ran.txt');
    const events = await sse(await client.post('/chat', { message: `run the command: echo ran >> ${file}` }, { headers: { accept: 'text/event-stream' } }));
    const result = events.find(([e]) => e === 'tool_result')![1];
    assert.ok(result.pendingApprovalId);
    const id: string = result.pendingApprovalId;
    assert.match(await (await client.get('/')).text(), new RegExp(`data-approval="${id}"`));
    const page = await (await client.get('/approvals')).text();
    assert.match(page, /Always allow this exact command/);
    assert.match(page, new RegExp(`/approvals/${id}/approve`));
    const approve = await client.post(`/approvals/${id}/approve`, {}, { headers: { referer: `${h.base}/approvals` } });
    assert.equal(approve.status, 303);
    assert.equal(approve.headers.get('location'), '/approvals');
    assert.equal(readFileSync(file, 'utf8'), 'ran\n');
    const twice = await client.post(`/approvals/${id}/approve`, {});
    assert.equal(twice.status, 409);
    // on the page a second click is news, not an error
    const notice = await twice.text();
    assert.match(notice, /<p class="notice" role="status">This request was already decided \(executed\); nothing more was done\.<\/p>/);
    assert.doesNotMatch(notice, /class="error"/);
    const deniedLate = await client.post(`/approvals/${id}/deny`, {});
    assert.equal(deniedLate.status, 409);
    assert.match(await deniedLate.text(), /already decided/);
    // a script asking for JSON still gets the error as JSON
    const json = await client.post(`/approvals/${id}/approve`, {}, { headers: { accept: 'application/json' } });
    assert.equal(json.status, 409);
    assert.match(((await json.json()) as { error: string }).error, /not pending/);
    assert.equal(readFileSync(file, 'utf8'), 'ran\n', 'ran exactly once');
    assert.match(await (await client.get('/approvals')).text(), /executed/);
    assert.equal((await client.post('/approvals/nosuch/approve', {})).status, 404);
  });

  await t.test('approvals: deny never runs; "always allow" adds the exact command to the allowlist', async () => {
    const denied = join(h.dir, 'denied.txt');
    const first = await sse(await client.post('/chat', { message: `run the command: touch ${denied}` }, { headers: { accept: 'text/event-stream' } }));
    const id1: string = first.find(([e]) => e === 'tool_result')![1].pendingApprovalId;
    assert.equal((await client.post(`/approvals/${id1}/deny`, { reason: 'not today' })).status, 303);
    assert.equal((await h.runtime.approvals.get(id1)).status, 'denied');
    assert.equal((await h.runtime.approvals.get(id1)).denyReason, 'not today');
    const second = await sse(await client.post('/chat', { message: `run the command: touch ${join(h.dir, 'always.txt')}` }, { headers: { accept: 'text/event-stream' } }));
    const id2: string = second.find(([e]) => e === 'tool_result')![1].pendingApprovalId;
    assert.equal((await client.post(`/approvals/${id2}/approve`, { always: 'true' })).status, 303);
    const record = await h.runtime.approvals.get(id2);
    assert.equal(record.status, 'executed');
    assert.equal(record.alwaysAllowed, true);
    // a command with shell syntax cannot be always allowed: 400, still pending
    const third = await sse(await client.post('/chat', { message: `run the command: echo x > ${join(h.dir, 'x.txt')}` }, { headers: { accept: 'text/event-stream' } }));
    const id3: string = third.find(([e]) => e === 'tool_result')![1].pendingApprovalId;
    assert.equal((await client.post(`/approvals/${id3}/approve`, { always: 'true' })).status, 400);
    assert.equal((await h.runtime.approvals.get(id3)).status, 'pending');
  });

  await t.test('history: search with filters, each hit opened in its context; summaries listed', async () => {
    const found = await (await client.get('/history?q=hello+web')).text();
    assert.match(found, /hello from the web/);
    const id = /href="\/history\/messages\/(\d+)"/.exec(found)![1];
    const context = await (await client.get(`/history/messages/${id}`)).text();
    assert.match(context, /id="focus"/);
    assert.match(context, /hello from the web/);
    const onlyAssistant = await (await client.get('/history?q=hello+web&role=assistant&mode=keyword')).text();
    assert.doesNotMatch(onlyAssistant, /<div class="text hit">hello from the web/);
    const future = await (await client.get('/history?q=hello&since=2999-01-01')).text();
    assert.match(future, /No messages match/);
    assert.equal((await client.get('/history?q=x&role=robot')).status, 400);
    assert.equal((await client.get('/history?q=x&since=yesterday-ish')).status, 400);
    assert.equal((await client.get('/history?q=x&mode=psychic')).status, 400);
    assert.equal((await client.get('/history/messages/abc')).status, 400);
    assert.equal((await client.get('/history/messages/999999')).status, 404);
    assert.match(await (await client.get('/history')).text(), /No summaries yet/);
  });

  await t.test('context and cost: parts of the next request, threshold, charts of tokens and spend', async () => {
    const page = await (await client.get('/cost')).text();
    assert.match(page, /Compaction at <strong>\d+<\/strong> tokens/);
    for (const part of ['tools', 'system', 'blocks', 'summary', 'messages']) assert.match(page, new RegExp(`<th scope="row">${part}</th>`));
    assert.match(page, /<svg viewBox="0 0 720 240" role="img" aria-label="Tokens per UTC day">/);
    assert.match(page, /aria-label="Spend per UTC day \(USD\)"/);
    assert.match(page, /cache read: /, 'today has a bar with cache reads');
    assert.match(page, /Cache-read ratio over \d+ calls/);
  });

  await t.test('jobs: list, pause, resume, run now, remove; unknown ones get 404', async () => {
    const db = await openStore(h.config);
    t.after(() => db.close());
    const events = new EventLog(db.toolState);
    const scheduler = new Scheduler(db.toolState, events);
    const job = await scheduler.schedule({ kind: 'interval', spec: '1d', message: 'water the <b>basil</b>' });
    const page = await (await client.get('/jobs')).text();
    assert.match(page, /water the &lt;b&gt;basil&lt;\/b&gt;/);
    assert.match(page, /Perch time/);
    assert.equal((await client.post(`/jobs/${job.id}/pause`, {})).status, 303);
    assert.equal((await scheduler.get(job.id))!.paused, true);
    assert.match(await (await client.get('/jobs')).text(), />Resume</);
    assert.equal((await client.post(`/jobs/${job.id}/resume`, {})).status, 303);
    assert.equal((await scheduler.get(job.id))!.paused, false);
    const before = await events.lastId();
    assert.equal((await client.post(`/jobs/${job.id}/run`, {})).status, 303);
    const due = (await events.since(before)).filter((e) => e.type === 'job_due');
    assert.equal(due.length, 1);
    assert.equal(due[0].data.jobId, job.id);
    assert.equal((await client.post(`/jobs/${job.id}/explode`, {})).status, 404);
    assert.equal((await client.post('/jobs/job_nosuch/pause', {})).status, 404);
    assert.equal((await client.post(`/jobs/${job.id}/remove`, {})).status, 303);
    assert.equal(await scheduler.get(job.id), undefined);
  });

  await t.test('unknown pages are a 404 page; log out ends the session', async () => {
    assert.equal((await client.get('/nope')).status, 404);
    const out = await client.post('/logout', {});
    assert.equal(out.status, 303);
    assert.equal((await client.get('/')).status, 303);
  });
});
