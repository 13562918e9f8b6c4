// Attacks a reviewer tried against `lares mcp`: writes through dangling symlinks,
// code planted in the vault's hidden folders, hostile patterns and pages that would
// freeze the server, commands that outlive their timeout, secrets in the shell's
// environment, and approval lines that lie in a terminal.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { describeCall } from '../../src/mcp-server/approvals.ts';
import { startMcpHttpServer, type McpHttpServer } from '../../src/mcp-server/http.ts';
import { globMatcher } from '../../src/mcp-server/paths.ts';
import { runCommand } from '../../src/mcp-server/shell.ts';
import { fetchUrlTool, htmlToText, parseFeed } from '../../src/mcp-server/web.ts';
import { connectClient, makeConfig, makeWorkspace, rest, startServer, textOf, type Workspace } from './helpers.ts';

// The hostile inputs below are sized so the old code (backtracking regular
// expressions) blocked the event loop for tens of seconds while the fixed code takes
// milliseconds: the per-test limit turns such a freeze into a failure.
const HANG_GUARD = { timeout: 10_000 };

describe('hardening: attacks on the tools (real SDK client over HTTP)', () => {
  let ws: Workspace;
  let server: McpHttpServer;
  let client: Client;
  let pages: Server;
  let pagesBase: string;
  const secrets = { ANTHROPIC_API_KEY: 'sk-ant-ENV-LEAK', LARES_MCP_TOKEN: 'token-ENV-LEAK', DISCORD_BOT_TOKEN: 'discord-ENV-LEAK', DATABASE_URL: 'postgres://ENV-LEAK' };
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    ws = makeWorkspace();
    const allowlist = join(ws.dir, 'allowlist.txt');
    writeFileSync(allowlist, '["env"]\n{"prefix": ["echo"]}\n');
    for (const [key, value] of Object.entries(secrets)) { saved[key] = process.env[key]; process.env[key] = value; }
    const hostile = '<!--'.repeat(100_000) + '<title>'.repeat(50_000) + '<'.repeat(200_000);
    pages = createServer((req, res) => {
      if (req.url === '/hostile.html') { res.writeHead(200, { 'content-type': 'text/html' }).end(hostile); return; }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pagesBase = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    server = await startServer(makeConfig(ws, { LARES_ALLOWLIST_FILE: allowlist }));
    client = await connectClient(server);
  });

  after(async () => {
    for (const [key, value] of Object.entries(saved)) { if (value === undefined) delete process.env[key]; else process.env[key] = value; }
    await client?.close();
    await server?.close();
    await new Promise((resolve) => pages?.close(resolve));
    ws?.cleanup();
  });

  const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args });

  it('never writes through a symlink whose target is missing (file or folder, write_file and notes)', async () => {
    symlinkSync(join(ws.outside, 'planted.md'), join(ws.vault, 'evil.md'));
    symlinkSync(join(ws.outside, 'newdir'), join(ws.vault, 'ghost'));
    symlinkSync(join(ws.outside, 'planted.txt'), join(ws.allowed, 'dangling.txt'));
    const attempts: Array<[string, Record<string, unknown>]> = [
      ['write_file', { path: 'vault/evil.md', content: 'PWNED' }],
      ['write_file', { path: 'vault/ghost/x.md', content: 'PWNED' }],
      ['write_note', { path: 'evil', content: 'PWNED' }],
      ['append_to_note', { path: 'evil', content: 'PWNED' }],
      ['append_to_note', { path: 'ghost/inner', content: 'PWNED' }],
    ];
    for (const [name, args] of attempts) {
      const result = await call(name, args);
      assert.equal(result.isError, true, `${name} ${JSON.stringify(args)}: ${textOf(result)}`);
      assert.match(textOf(result), /symbolic link whose target does not exist/);
    }
    // Outside the vault the write is queued; approving it must not escape either.
    const queued = await call('write_file', { path: 'dangling.txt', content: 'PWNED' });
    const id = (queued.structuredContent as { approvalId?: string } | undefined)?.approvalId;
    if (id) {
      const approved = await rest(server, 'POST', `/approvals/${id}/approve`);
      assert.equal(approved.json.status, 'failed');
    } else {
      assert.equal(queued.isError, true);
    }
    assert.deepEqual(readdirSync(ws.outside), [], 'nothing was created outside the allowed directories');
  });

  it('queues a new file in a hidden folder of the vault (.obsidian plugins, .git hooks) instead of writing it', async () => {
    mkdirSync(join(ws.vault, '.git', 'hooks'), { recursive: true });
    for (const path of ['vault/.obsidian/plugins/evil/main.js', 'vault/.git/hooks/pre-commit']) {
      const result = await call('write_file', { path, content: 'require("child_process").exec("curl evil")' });
      assert.match(textOf(result), /PENDING APPROVAL — NOT DONE/, path);
      assert.match(textOf(result), /hidden file or folder/, path);
      assert.equal(existsSync(join(ws.allowed, path)), false, `${path} was not written`);
    }
    const visible = await call('write_file', { path: 'vault/Ideas/garden.md', content: 'tomatoes' });
    assert.match(textOf(visible), /^created /, 'an ordinary new note file is still written at once');
  });

  it('search_files answers a pathological name pattern instead of freezing the server', HANG_GUARD, async () => {
    writeFileSync(join(ws.allowed, 'a'.repeat(80)), '');
    const result = await call('search_files', { pattern: `${'*a'.repeat(6)}*b` });
    assert.notEqual(result.isError, true, textOf(result));
    assert.match(textOf(result), /no files matching/);
    const hit = await call('search_files', { pattern: '*A*A*' });
    assert.match(textOf(hit), /a{80}/);
  });

  it('fetch_url reduces a hostile page (unclosed comments, titles, brackets) without freezing the server', HANG_GUARD, async () => {
    const queued = await call('fetch_url', { url: `${pagesBase}/hostile.html` });
    const id = (queued.structuredContent as { approvalId: string }).approvalId;
    const approved = await rest(server, 'POST', `/approvals/${id}/approve`);
    assert.equal(approved.json.status, 'executed', approved.json.result?.text);
    assert.match(approved.json.result.text, /hostile\.html \(text\/html\)/);
    const health = await rest(server, 'GET', '/health', undefined, null);
    assert.equal(health.status, 200);
  });

  it('the shell environment carries no secrets from the server environment', async () => {
    const result = await call('run_shell_command', { command: 'env' });
    assert.match(textOf(result), /exit code 0/);
    assert.match(textOf(result), /PATH=/);
    assert.doesNotMatch(textOf(result), /ENV-LEAK|ANTHROPIC|LARES_MCP_TOKEN|DISCORD/);
  });

  it('more injection variants wait for the owner ($IFS, globs, env assignment, CR, redirection)', async () => {
    for (const command of ['echo$IFS/etc/passwd', 'echo *', 'echo ?asswd', 'FOO=1 env', 'echo hi\rtouch x', 'echo hi >x', 'echo hi 2>&1', 'echo ${HOME}']) {
      const result = await call('run_shell_command', { command });
      assert.match(textOf(result), /PENDING APPROVAL — NOT DONE/, JSON.stringify(command));
    }
    assert.equal(existsSync(join(ws.allowed, 'x')), false);
  });

  it('a NUL character in a command is a clear error naming the field', async () => {
    const result = await call('run_shell_command', { command: 'echo a\u0000b' });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /^command: contains a NUL character/);
  });

  it('impossible schedules and journal dates name the field instead of failing obscurely', async () => {
    const interval = await call('schedule_job', { kind: 'interval', spec: '99999999999d', message: 'x' });
    assert.equal(interval.isError, true);
    assert.match(textOf(interval), /^spec: /);
    const date = await call('add_journal_entry', { text: 'hi', date: '2026-13-45' });
    assert.equal(date.isError, true);
    assert.match(textOf(date), /^date: /);
    assert.equal(existsSync(join(ws.vault, 'Journal', '2026-13-45.md')), false);
  });
});

describe('hardening: MCP sessions', () => {
  it('keeps at most maxSessions sessions: the least recently used is closed, and its client gets a 404', async (t) => {
    const ws = makeWorkspace();
    const server = await startMcpHttpServer(makeConfig(ws), { host: '127.0.0.1', port: 0, maxSessions: 2 });
    const clients: Client[] = [];
    t.after(async () => {
      for (const c of clients) await c.close().catch(() => undefined);
      await server.close();
      ws.cleanup();
    });
    for (let i = 0; i < 3; i++) clients.push(await connectClient(server));
    await assert.rejects(clients[0].listTools(), /Session not found|404/);
    assert.ok((await clients[1].listTools()).tools.length > 0);
    assert.ok((await clients[2].listTools()).tools.length > 0);
    // Using a session makes it the most recent: a fourth client now pushes out the second, not the third.
    await clients[1].listTools();
    clients.push(await connectClient(server));
    await assert.rejects(clients[2].listTools(), /Session not found|404/);
    assert.ok((await clients[1].listTools()).tools.length > 0);
  });
});

describe('hardening: units', () => {
  it('a timed-out command is killed together with everything it started', { timeout: 20_000 }, async () => {
    const ws = makeWorkspace();
    try {
      const result = await runCommand({ shellText: 'sleep 30 | cat & echo $! > bg.pid; wait' }, { cwd: ws.allowed, timeoutMs: 300 });
      assert.equal(result.timedOut, true);
      const pid = Number(readFileSync(join(ws.allowed, 'bg.pid'), 'utf8'));
      assert.ok(pid > 0);
      // the kill is sent at the timeout; the kernel takes a moment to finish it off
      const stateOf = () => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? 'gone'; } catch { return 'gone'; } };
      let state = stateOf();
      for (let i = 0; i < 100 && state !== 'gone' && state !== 'Z'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        state = stateOf();
      }
      assert.ok(state === 'gone' || state === 'Z', `the background pipeline is dead (state ${state})`);
    } finally {
      ws.cleanup();
    }
  });

  it('fetch_url refuses a redirect from a public address into the local network (fetch is faked: no network)', async (t) => {
    const requested: string[] = [];
    t.mock.method(globalThis, 'fetch', async (input: URL | string) => {
      requested.push(String(input));
      return new Response(null, { status: 302, headers: { location: requested.length === 1 ? 'http://169.254.169.254/latest/meta-data/' : 'http://127.0.0.1:9/' } });
    });
    await assert.rejects(fetchUrlTool({ url: 'http://93.184.216.34/start' }), /redirected to http:\/\/169\.254\.169\.254\/latest\/meta-data\/, an address on this machine or the local network/);
    assert.deepEqual(requested, ['http://93.184.216.34/start']);
  });

  it('globMatcher: * and ? within a name, case-insensitive, never across /', () => {
    assert.equal(globMatcher('*.PEM')('server.pem'), true);
    assert.equal(globMatcher('*secret*')('My-Secret.TXT'), true);
    assert.equal(globMatcher('id_rsa*')('id_rsa.pub'), true);
    assert.equal(globMatcher('report-??.md')('report-07.md'), true);
    assert.equal(globMatcher('report-??.md')('report-7.md'), false);
    assert.equal(globMatcher('*.md')('notes/a.md'), false);
    assert.equal(globMatcher('.env')('.env.local'), false);
    assert.equal(globMatcher('a*b*c')('aXbYc'), true);
    assert.equal(globMatcher('a*b*c')('aXbY'), false);
  });

  it('htmlToText stays linear on hostile markup and keeps ordinary pages readable', HANG_GUARD, () => {
    for (const hostile of ['<!--'.repeat(100_000), '<title>'.repeat(100_000), '<script>'.repeat(100_000), '<'.repeat(300_000), `<head>${'<title'.repeat(100_000)}`]) {
      assert.equal(typeof htmlToText(hostile), 'string');
    }
    const page = '<html><head><title>My &amp; Page</title><style>p{}</style></head><body><h1>Hi</h1><p>1 &lt; 2 and 3 < 4</p><ul><li>one</li></ul><script>x()</script><svg/><p>after</p></body></html>';
    assert.equal(htmlToText(page), 'My & Page\n\nHi\n1 < 2 and 3 < 4\n- one\n\nafter');
  });

  it('an XML entity bomb in a feed is neither expanded nor fatal', () => {
    const levels = Array.from({ length: 9 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`).join('\n');
    const bomb = `<?xml version="1.0"?>\n<!DOCTYPE r [\n<!ENTITY l0 "lol">\n${levels}\n]>\n<rss><channel><title>&l9;</title><item><title>&l9;</title></item></channel></rss>`;
    let titleLength = 0;
    try { titleLength = (parseFeed(bomb).title ?? '').length; } catch (error) { assert.match((error as Error).message, /feed/); }
    assert.ok(titleLength < 10_000, `title is ${titleLength} characters`);
  });

  it('describeCall shows control and bidi characters escaped, so a terminal line cannot hide a command', () => {
    const line = describeCall('run_shell_command', { command: 'rm -rf ~/important\rls -la\u001b[2K\u202e' });
    assert.ok(!['\r', '\u001b', '\u202e'].some((c) => line.includes(c)), line);
    assert.match(line, /rm -rf ~\/important\\rls -la\\u001b\[2K\\u202e/);
    assert.doesNotMatch(describeCall('write_file', { path: 'a\nb' }), /\n/);
  });
});
