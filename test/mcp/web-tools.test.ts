import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { McpHttpServer } from '../../src/mcp-server/http.ts';
import { connectClient, makeConfig, makeWorkspace, rest, startServer, textOf, type Workspace } from './helpers.ts';

const RSS = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Garden News</title><link>http://example.invalid/</link>
<item><title>Tomatoes &amp; basil</title><link>http://example.invalid/1</link><pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate><description>&lt;p&gt;Plant them &lt;b&gt;together&lt;/b&gt;.&lt;/p&gt;</description></item>
<item><title>Second</title><link>http://example.invalid/2</link></item>
<item><title>Third</title><link>http://example.invalid/3</link></item>
</channel></rss>`;

const ATOM = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Diary</title>
<entry><title type="text">First entry</title><link rel="alternate" href="http://example.invalid/a1"/><updated>2026-11-20T08:00:00Z</updated><summary>short summary</summary></entry>
<entry><title>Only entry two</title><link href="http://example.invalid/a2"/><published>2026-11-21T08:00:00Z</published><content type="html">&lt;em&gt;rich&lt;/em&gt; content</content></entry>
</feed>`;

const HTML = `<!doctype html><html><head><title>A page</title><style>body{color:red}</style><script>var secret = 1;</script></head>
<body><h1>Heading</h1><p>First &amp; foremost.</p><ul><li>one</li><li>two</li></ul></body></html>`;

describe('read_rss_feed and fetch_url against a local HTTP server', () => {
  let ws: Workspace;
  let feeds: Server;
  let base: string;
  let server: McpHttpServer;
  let client: Client;

  before(async () => {
    ws = makeWorkspace();
    feeds = createServer((req, res) => {
      const routes: Record<string, [string, string]> = {
        '/rss.xml': ['application/rss+xml', RSS],
        '/atom.xml': ['application/atom+xml', ATOM],
        '/page.html': ['text/html; charset=utf-8', HTML],
        '/big.txt': ['text/plain', 'x'.repeat(3 * 1024 * 1024)],
        '/not-a-feed': ['text/html', HTML],
      };
      if (req.url === '/hop') { res.writeHead(302, { location: '/page.html' }).end(); return; }
      const route = routes[req.url ?? ''];
      if (!route) { res.writeHead(404).end('nope'); return; }
      res.writeHead(200, { 'content-type': route[0] }).end(route[1]);
    });
    await new Promise<void>((resolve) => feeds.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(feeds.address() as AddressInfo).port}`;
    server = await startServer(makeConfig(ws));
    client = await connectClient(server);
  });

  after(async () => {
    await client?.close();
    await server?.close();
    await new Promise((resolve) => feeds?.close(resolve));
    ws?.cleanup();
  });

  // Every URL here is on 127.0.0.1, which the policy sends to the owner first: the
  // helper checks that, approves as the owner would, and returns the stored result.
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args });
    const pending = result.structuredContent as { status?: string; approvalId?: string } | undefined;
    if (pending?.status !== 'pending_approval') return result;
    assert.match(textOf(result), /PENDING APPROVAL — NOT DONE/);
    assert.match(textOf(result), /this machine or the local network \(127\.0\.0\.1\)/);
    const approved = await rest(server, 'POST', `/approvals/${pending.approvalId}/approve`);
    assert.equal(approved.status, 200);
    const outcome = approved.json.result as { text: string; isError: boolean };
    return { content: [{ type: 'text', text: outcome.text }], ...(outcome.isError ? { isError: true } : {}) };
  };

  it('reads an RSS 2.0 feed with a limit', async () => {
    const result = await call('read_rss_feed', { url: `${base}/rss.xml`, limit: 2 });
    assert.notEqual(result.isError, true, textOf(result));
    const text = textOf(result);
    assert.match(text, /^Garden News \(RSS, 3 items, showing 2\)/);
    assert.match(text, /1\. Tomatoes & basil/);
    assert.match(text, /link: http:\/\/example\.invalid\/1/);
    assert.match(text, /Plant them together\./);
    assert.match(text, /2\. Second/);
    assert.doesNotMatch(text, /Third/);
  });

  it('reads an Atom feed', async () => {
    const text = textOf(await call('read_rss_feed', { url: `${base}/atom.xml` }));
    assert.match(text, /^Atom Diary \(Atom, 2 items, showing 2\)/);
    assert.match(text, /1\. First entry\n\s+published: 2026-11-20T08:00:00Z\n\s+link: http:\/\/example\.invalid\/a1/);
    assert.match(text, /2\. Only entry two/);
    assert.match(text, /rich content/);
  });

  it('says clearly when a document is not a feed, or the server fails', async () => {
    const notFeed = await call('read_rss_feed', { url: `${base}/not-a-feed` });
    assert.equal(notFeed.isError, true);
    assert.match(textOf(notFeed), /neither an RSS nor an Atom feed/);
    const missing = await call('fetch_url', { url: `${base}/missing` });
    assert.equal(missing.isError, true);
    assert.match(textOf(missing), /HTTP 404/);
    const scheme = await call('fetch_url', { url: 'file:///etc/passwd' });
    assert.equal(scheme.isError, true);
    assert.match(textOf(scheme), /only http and https/);
  });

  it('fetch_url turns HTML into text without scripts or styles', async () => {
    const text = textOf(await call('fetch_url', { url: `${base}/page.html` }));
    assert.match(text, /A page/);
    assert.match(text, /Heading\nFirst & foremost\.\n/);
    assert.match(text, /- one\n- two/);
    assert.doesNotMatch(text, /secret|color:red|<p>/);
  });

  it('a URL on this machine or the local network waits for the owner and is not fetched before', async () => {
    let hits = 0;
    const counter = createServer((_req, res) => { hits++; res.writeHead(200, { 'content-type': 'text/plain' }).end('LOCAL-SERVICE-DATA'); });
    await new Promise<void>((resolve) => counter.listen(0, '127.0.0.1', resolve));
    try {
      const port = (counter.address() as AddressInfo).port;
      for (const url of [`http://127.0.0.1:${port}/admin`, `http://localhost:${port}/admin`, `http://[::ffff:127.0.0.1]:${port}/admin`]) {
        for (const tool of ['fetch_url', 'read_rss_feed']) {
          const result = await client.callTool({ name: tool, arguments: { url } });
          assert.match(textOf(result), /PENDING APPROVAL — NOT DONE/, `${tool} ${url}`);
          assert.doesNotMatch(textOf(result), /LOCAL-SERVICE-DATA/);
        }
      }
      assert.equal(hits, 0, 'nothing was fetched before the owner approved');
    } finally {
      await new Promise((resolve) => counter.close(resolve));
    }
  });

  it('follows redirects within the approved local address', async () => {
    const text = textOf(await call('fetch_url', { url: `${base}/hop` }));
    assert.match(text, /page\.html \(text\/html/);
    assert.match(text, /Heading/);
  });

  it('fetch_url caps what it downloads and returns', async () => {
    const text = textOf(await call('fetch_url', { url: `${base}/big.txt` }));
    assert.match(text, /download stopped at 2097152 bytes/);
    assert.match(text, /\[truncated at 40000 characters\]/);
    assert.ok(text.length < 41_000);
  });
});
