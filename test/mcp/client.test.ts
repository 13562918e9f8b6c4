import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { pino } from 'pino';
import { z } from 'zod';
import { isLaresError } from '../../src/errors.ts';
import { createLogger, setLogger } from '../../src/log.ts';
import { startMcpHttpServer, type McpHttpServer } from '../../src/mcp-server/http.ts';
import { createHttpApprovalsClient, restBaseUrl, type LaresEvent } from '../../src/tools/approvals-client.ts';
import { createInProcessLaresTools } from '../../src/tools/in-process-mcp.ts';
import { connectMcpToolProvider, McpToolProvider } from '../../src/tools/mcp-client.ts';
import { connectLaresTools } from '../../src/tools/mcp-lares.ts';
import { ToolRouter } from '../../src/tools/tool-router.ts';
import { connectMcpServersFile, readMcpServersFile } from '../../src/tools/mcp-servers-file.ts';
import { makeConfig, makeWorkspace, startServer, TOKEN, type Workspace } from './helpers.ts';
import { freePort } from '../support/free-port.ts';

const EVERYTHING = join(process.cwd(), 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
const ctx = { conversationId: 'test' };
const text = (content: unknown) => (typeof content === 'string' ? content : JSON.stringify(content));

/** Captures log lines (JSON) while `fn` runs. */
async function captureLogs<T>(fn: () => Promise<T>): Promise<{ value: T; lines: any[] }> {
  const lines: any[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  setLogger(pino({ level: 'debug' }, sink));
  try { return { value: await fn(), lines }; } finally { setLogger(createLogger({ level: 'silent', pretty: false })); }
}

function nextEvent(events: LaresEvent[], waiters: Array<() => void>, predicate: (e: LaresEvent) => boolean): Promise<LaresEvent> {
  return new Promise((resolve) => {
    const check = () => { const found = events.find(predicate); if (found) { resolve(found); return true; } return false; };
    if (!check()) waiters.push(() => { check(); });
  });
}

describe('the agent side: MCP tool providers, registry and approvals client', () => {
  let ws: Workspace;
  let server: McpHttpServer;

  before(async () => {
    ws = makeWorkspace();
    writeFileSync(join(ws.allowed, 'note.txt'), 'provider can read this');
    server = await startServer(makeConfig(ws));
  });
  after(async () => {
    await server?.close();
    ws?.cleanup();
  });

  it('over HTTP with a bearer token: lists tools with annotations, calls them, maps pending approvals', async (t) => {
    const provider = await connectMcpToolProvider({ name: 'lares-mcp', url: server.url, token: TOKEN });
    t.after(() => provider.close());
    assert.equal(provider.available, true);
    const tools = await provider.listTools();
    const readFile = tools.find((tool) => tool.name === 'read_file')!;
    assert.equal(readFile.annotations?.readOnlyHint, true);
    assert.equal(readFile.inputSchema.type, 'object');
    const read = await provider.callTool('read_file', { path: 'note.txt' }, ctx);
    assert.deepEqual(read, { content: 'provider can read this', isError: false });
    const pending = await provider.callTool('run_shell_command', { command: 'ls; touch provider-inj' }, ctx);
    assert.equal(pending.isError, false);
    assert.match(pending.pendingApprovalId ?? '', /^[0-9a-f]{8}$/);
    assert.match(text(pending.content), /PENDING APPROVAL — NOT DONE/);
    assert.equal(existsSync(join(ws.allowed, 'provider-inj')), false);
    const refused = await provider.callTool('read_file', { path: '../../etc/passwd' }, ctx);
    assert.equal(refused.isError, true);
    const invalid = await provider.callTool('read_file', {}, ctx);
    assert.equal(invalid.isError, true);
    assert.match(text(invalid.content), /path/);
  });

  it('a wrong token is reported as unavailable with what to fix', async (t) => {
    const { value: provider, lines } = await captureLogs(() => connectMcpToolProvider({ name: 'lares-mcp', url: server.url, token: 'nope' }, { attempts: 1 }));
    t.after(() => provider.close());
    assert.deepEqual(await provider.listTools(), []);
    assert.match(provider.unavailableReason ?? '', /token/);
    assert.ok(lines.some((l) => l.event === 'mcp_unavailable'));
  });

  it('approvals client over REST + SSE: pending list, approve with result event, deny, 409', async (t) => {
    const approvals = createHttpApprovalsClient({ baseUrl: restBaseUrl(server.url), token: TOKEN });
    t.after(() => approvals.close());
    assert.equal(restBaseUrl('http://127.0.0.1:8765/mcp'), 'http://127.0.0.1:8765');
    const events: LaresEvent[] = [];
    const waiters: Array<() => void> = [];
    const connected = new Promise<void>((resolve) => {
      approvals.subscribe((event) => { events.push(event); for (const w of waiters.splice(0)) w(); }, { onStatus: (s) => { if (s === 'connected') resolve(); } });
    });
    await connected;
    const provider = await connectMcpToolProvider({ name: 'lares-mcp', url: server.url, token: TOKEN });
    t.after(() => provider.close());
    const call = await provider.callTool('run_shell_command', { command: "sh -c 'echo approved-by-client > via-client.txt'" }, ctx);
    const id = call.pendingApprovalId!;
    const needed = await nextEvent(events, waiters, (e) => e.type === 'approval_needed' && e.data.id === id);
    assert.equal(needed.data.tool, 'run_shell_command');
    assert.ok((await approvals.listPending()).some((a) => a.id === id));
    assert.equal((await approvals.get(id)).status, 'pending');
    const done = await approvals.approve(id);
    assert.equal(done.status, 'executed');
    assert.equal(existsSync(join(ws.allowed, 'via-client.txt')), true);
    const result = await nextEvent(events, waiters, (e) => e.type === 'approval_result' && e.data.id === id);
    assert.equal(result.data.status, 'executed');
    await assert.rejects(approvals.approve(id), (error: unknown) => isLaresError(error) && (error as { httpStatus?: number }).httpStatus === 409);
    const second = (await provider.callTool('write_file', { path: 'x.txt', content: 'x' }, ctx)).pendingApprovalId!;
    const denied = await approvals.deny(second, 'no thanks');
    assert.equal(denied.status, 'denied');
    const deniedEvent = await nextEvent(events, waiters, (e) => e.type === 'approval_result' && e.data.id === second);
    assert.equal(deniedEvent.data.status, 'denied');
    assert.equal(deniedEvent.data.reason, 'no thanks');
  });

  it('the official reference server (server-everything) over stdio: lists and calls echo', async (t) => {
    const provider = await connectMcpToolProvider({ name: 'everything', command: process.execPath, args: [EVERYTHING, 'stdio'] });
    t.after(() => provider.close());
    assert.equal(provider.available, true, provider.unavailableReason);
    const tools = await provider.listTools();
    assert.ok(tools.some((tool) => tool.name === 'echo'));
    const echo = await provider.callTool('echo', { message: 'hello lares' }, ctx);
    assert.deepEqual(echo, { content: 'Echo: hello lares', isError: false });
    const image = await provider.callTool('get-tiny-image', {}, ctx);
    assert.ok(Array.isArray(image.content) && image.content.some((b) => b.type === 'image'));
    const unknown = await provider.callTool('no-such-tool', {}, ctx);
    assert.equal(unknown.isError, true);
    assert.match(text(unknown.content), /no-such-tool/);
  });

  it('a down server: no tools, a clear warning naming the URL, an error outcome naming the server; then it comes back', async (t) => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/mcp`;
    const { value: provider, lines } = await captureLogs(() => connectMcpToolProvider({ name: 'lares-mcp', url, token: TOKEN }, { attempts: 2, initialDelayMs: 5, reconnectIntervalMs: 0 }));
    t.after(() => provider.close());
    assert.equal(provider.available, false);
    const warning = lines.find((l) => l.event === 'mcp_unavailable');
    assert.ok(warning, 'a warning is logged');
    assert.match(warning.msg, new RegExp(`MCP server "lares-mcp" at ${url} is unavailable`));
    assert.match(warning.msg, /lares mcp/);
    const outcome = await provider.callTool('read_file', { path: 'note.txt' }, ctx);
    assert.equal(outcome.isError, true);
    assert.match(text(outcome.content), new RegExp(`Tool read_file is unavailable: the MCP server "lares-mcp" at ${url} is unavailable`));
    assert.deepEqual(await provider.listTools(), []);

    const revived = await startMcpHttpServer(makeConfig(ws), { host: '127.0.0.1', port });
    t.after(() => revived.close());
    const tools = await provider.listTools();
    assert.ok(tools.some((tool) => tool.name === 'read_file'), 'reconnects when the server is back');
    assert.equal((await provider.callTool('read_file', { path: 'note.txt' }, ctx)).content, 'provider can read this');

    // The server restarts on the same port: the old session is gone. A call that races the
    // restart may be reported unavailable (it is never silently retried if it might have run);
    // the provider reconnects by itself and the next call works, without restarting the agent.
    await revived.close();
    const restarted = await startMcpHttpServer(makeConfig(ws), { host: '127.0.0.1', port });
    t.after(() => restarted.close());
    const first = await provider.callTool('read_file', { path: 'note.txt' }, ctx);
    if (first.isError) assert.match(text(first.content), /is unavailable/);
    else assert.equal(first.content, 'provider can read this');
    assert.equal((await provider.callTool('read_file', { path: 'note.txt' }, ctx)).content, 'provider can read this');
  });

  it('re-lists on tools/list_changed', async (t) => {
    const extra = new McpServer({ name: 'extra', version: '1.0.0' });
    extra.registerTool('first', { description: 'first tool', inputSchema: { a: z.string() } }, async () => ({ content: [{ type: 'text', text: 'one' }] }));
    const changed: string[][] = [];
    let notify!: () => void;
    const gotChange = new Promise<void>((resolve) => { notify = resolve; });
    const provider = await connectMcpToolProvider({
      name: 'extra',
      async createTransport() {
        const [client, serverSide] = InMemoryTransport.createLinkedPair();
        await extra.connect(serverSide);
        return client;
      },
    }, { onToolsChanged: (tools) => { changed.push(tools.map((tool) => tool.name)); notify(); } });
    t.after(async () => { await provider.close(); await extra.close(); });
    assert.deepEqual((await provider.listTools()).map((tool) => tool.name), ['first']);
    extra.registerTool('second', { description: 'second tool' }, async () => ({ content: [{ type: 'text', text: 'two' }] }));
    await gotChange;
    assert.deepEqual((await provider.listTools()).map((tool) => tool.name).sort(), ['first', 'second']);
    assert.equal((await provider.callTool('second', {}, ctx)).content, 'two');
  });

  it('the registry resolves clashes predictably: first provider wins, later ones become <server>__<tool>', async (t) => {
    const local = await createInProcessLaresTools(makeConfig(ws), { startScheduler: false });
    const other = new McpServer({ name: 'other', version: '1.0.0' });
    other.registerTool('read_file', { description: 'another read_file', inputSchema: { path: z.string() } }, async ({ path }) => ({ content: [{ type: 'text', text: `other read ${path}` }] }));
    const otherProvider = await connectMcpToolProvider({
      name: 'other.server',
      async createTransport() { const [c, s] = InMemoryTransport.createLinkedPair(); await other.connect(s); return c; },
    });
    const registry = new ToolRouter([local.provider, otherProvider]);
    t.after(async () => { await registry.close(); await local.close(); await other.close(); });
    await registry.refresh();
    const names = registry.definitions().map((tool) => tool.name);
    assert.equal(names.filter((n) => n === 'read_file').length, 1);
    assert.ok(names.includes('other_server__read_file'));
    assert.equal((await registry.call('read_file', { path: 'note.txt' }, ctx)).content, 'provider can read this');
    assert.equal((await registry.call('other_server__read_file', { path: 'p' }, ctx)).content, 'other read p');
    const unknown = await registry.call('nope', {}, ctx);
    assert.equal(unknown.isError, true);
    assert.deepEqual(registry.unavailable(), []);
  });

  it('reads the standard mcpServers file and connects its stdio servers; bad files name the field', async (t) => {
    const file = join(ws.dir, 'mcp-servers.json');
    writeFileSync(file, JSON.stringify({ mcpServers: {
      everything: { command: process.execPath, args: [EVERYTHING, 'stdio'], env: { EXAMPLE: '1' } },
      remote: { url: 'http://127.0.0.1:9/mcp', headers: { authorization: 'Bearer x' }, disabled: true },
    } }));
    const providers = await connectMcpServersFile(file);
    t.after(() => Promise.all(providers.map((p) => p.close())));
    assert.deepEqual(providers.map((p) => p.name), ['everything']);
    assert.ok((await providers[0].listTools()).some((tool) => tool.name === 'echo'));
    const bad = join(ws.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ mcpServers: { broken: { args: ['x'] } } }));
    assert.throws(() => readMcpServersFile(bad), (error: unknown) => isLaresError(error) && error.exitCode === 2 && /mcpServers\.broken/.test(error.message));
    assert.throws(() => readMcpServersFile(join(ws.dir, 'missing.json')), /does not exist/);
  });

  it('in-process (MCP_URL unset): same provider interface, local approvals client with events', async (t) => {
    const tools = await connectLaresTools(makeConfig(ws), { startScheduler: false });
    t.after(() => tools.close());
    assert.equal(tools.mode, 'in-process');
    assert.ok(tools.provider instanceof McpToolProvider);
    assert.ok((await tools.provider.listTools()).some((tool) => tool.name === 'run_shell_command'));
    const events: LaresEvent[] = [];
    const waiters: Array<() => void> = [];
    const subscription = tools.approvals.subscribe((event) => { events.push(event); for (const w of waiters.splice(0)) w(); });
    t.after(() => subscription.close());
    const call = await tools.provider.callTool('run_shell_command', { command: 'touch in-process.txt' }, ctx);
    const id = call.pendingApprovalId!;
    assert.ok(id);
    assert.equal(existsSync(join(ws.allowed, 'in-process.txt')), false);
    await nextEvent(events, waiters, (e) => e.type === 'approval_needed' && e.data.id === id);
    const done = await tools.approvals.approve(id);
    assert.equal(done.status, 'executed');
    assert.equal(existsSync(join(ws.allowed, 'in-process.txt')), true);
    const result = await nextEvent(events, waiters, (e) => e.type === 'approval_result' && e.data.id === id);
    assert.equal(result.data.status, 'executed');
  });

  it('with MCP_URL set, connectLaresTools uses HTTP for tools and approvals', async (t) => {
    const config = makeConfig(ws, { MCP_URL: server.url });
    const tools = await connectLaresTools(config);
    t.after(() => tools.close());
    assert.equal(tools.mode, 'http');
    assert.equal(tools.approvals.kind, 'http');
    assert.ok((await tools.provider.listTools()).length > 10);
    assert.ok(Array.isArray(await tools.approvals.listPending()));
  });
});
