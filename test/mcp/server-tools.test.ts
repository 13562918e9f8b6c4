import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { McpHttpServer } from '../../src/mcp-server/http.ts';
import { TOOL_POLICY } from '../../src/mcp-server/policy.ts';
import { connectClient, makeConfig, makeWorkspace, rest, startServer, textOf, type Workspace } from './helpers.ts';

describe('lares mcp over Streamable HTTP (real SDK client)', () => {
  let ws: Workspace;
  let server: McpHttpServer;
  let client: Client;

  before(async () => {
    ws = makeWorkspace();
    writeFileSync(join(ws.allowed, 'hello.txt'), 'hello from inside\n');
    writeFileSync(join(ws.outside, 'secret-plans.txt'), 'OUTSIDE-CONTENT-42\n');
    writeFileSync(join(ws.outside, 'plain.txt'), 'OUTSIDE-PLAIN-43\n');
    writeFileSync(join(ws.allowed, '.env'), 'ANTHROPIC_API_KEY=sk-ant-DO-NOT-LEAK\n');
    writeFileSync(join(ws.allowed, 'server.pem'), 'PEM-DO-NOT-LEAK\n');
    symlinkSync(join(ws.outside, 'plain.txt'), join(ws.allowed, 'link-out.txt'));
    symlinkSync(join(ws.allowed, '.env'), join(ws.allowed, 'innocent.txt'));
    server = await startServer(makeConfig(ws));
    client = await connectClient(server);
  });

  after(async () => {
    await client?.close();
    await server?.close();
    ws?.cleanup();
  });

  it('lists every tool with a schema, a description and the annotations of the policy table', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), Object.keys(TOOL_POLICY).sort());
    for (const tool of tools) {
      const policy = TOOL_POLICY[tool.name as keyof typeof TOOL_POLICY];
      assert.equal(tool.inputSchema.type, 'object');
      assert.ok((tool.description ?? '').length > 40, `${tool.name} has a usable description`);
      assert.equal(tool.annotations?.readOnlyHint, policy.annotations.readOnlyHint, `${tool.name} readOnlyHint`);
      assert.equal(tool.annotations?.destructiveHint, policy.annotations.destructiveHint, `${tool.name} destructiveHint`);
      assert.equal(tool.annotations?.idempotentHint, policy.annotations.idempotentHint, `${tool.name} idempotentHint`);
      assert.equal(tool.annotations?.openWorldHint, policy.annotations.openWorldHint, `${tool.name} openWorldHint`);
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    assert.equal(byName.read_file.annotations?.readOnlyHint, true);
    assert.equal(byName.run_shell_command.annotations?.destructiveHint, true);
    assert.equal(byName.fetch_url.annotations?.openWorldHint, true);
    assert.deepEqual(byName.run_shell_command.inputSchema.required, ['command']);
  });

  it('reads a file inside the allowed directories', async () => {
    const result = await client.callTool({ name: 'read_file', arguments: { path: 'hello.txt' } });
    assert.equal(result.isError, undefined);
    assert.match(textOf(result), /hello from inside/);
  });

  it('refuses path escapes (.., absolute outside, symlink out) without leaking content', async () => {
    const attempts = [
      '../outside/plain.txt',
      join(ws.outside, 'plain.txt'),
      'link-out.txt',
      `${ws.allowed}/../outside/plain.txt`,
      '/etc/passwd',
    ];
    for (const path of attempts) {
      const result = await client.callTool({ name: 'read_file', arguments: { path } });
      assert.equal(result.isError, true, `${path} refused`);
      const text = textOf(result);
      assert.match(text, /outside the allowed directories/, path);
      assert.doesNotMatch(text, /OUTSIDE-PLAIN-43|root:/, path);
    }
    const listing = await client.callTool({ name: 'list_directory', arguments: { path: '..' } });
    assert.equal(listing.isError, true);
    assert.doesNotMatch(textOf(listing), /secret-plans/);
  });

  it('refuses blocked files, by name and through a symlink, and hides them from listings', async () => {
    for (const path of ['.env', 'server.pem', 'innocent.txt']) {
      const result = await client.callTool({ name: 'read_file', arguments: { path } });
      assert.equal(result.isError, true, `${path} refused`);
      assert.match(textOf(result), /blocked file pattern/);
      assert.doesNotMatch(textOf(result), /DO-NOT-LEAK/);
    }
    const listing = textOf(await client.callTool({ name: 'list_directory', arguments: {} }));
    assert.match(listing, /hello\.txt/);
    assert.doesNotMatch(listing, /\.env|server\.pem/);
    const search = textOf(await client.callTool({ name: 'search_files', arguments: { pattern: '*', contains: 'DO-NOT-LEAK' } }));
    assert.match(search, /^no files matching/);
    assert.doesNotMatch(search, /\.env|server\.pem|sk-ant/);
  });

  it('gives an error naming the field for invalid arguments', async () => {
    const missing = await client.callTool({ name: 'read_file', arguments: {} });
    assert.equal(missing.isError, true);
    assert.match(textOf(missing), /path/);
    const wrongType = await client.callTool({ name: 'schedule_job', arguments: { kind: 'weekly', spec: '1h', message: 'x' } });
    assert.equal(wrongType.isError, true);
    assert.match(textOf(wrongType), /kind/);
    const badSpec = await client.callTool({ name: 'schedule_job', arguments: { kind: 'cron', spec: 'not a cron', message: 'x' } });
    assert.equal(badSpec.isError, true);
    assert.match(textOf(badSpec), /spec/);
  });

  it('queues a file write outside the vault and writes inside it at once', async () => {
    const outsideVault = await client.callTool({ name: 'write_file', arguments: { path: 'new.txt', content: 'x' } });
    assert.match(textOf(outsideVault), /PENDING APPROVAL — NOT DONE/);
    assert.equal(existsSync(join(ws.allowed, 'new.txt')), false);
    const structured = outsideVault.structuredContent as { status: string; approvalId: string };
    assert.equal(structured.status, 'pending_approval');
    const inVault = await client.callTool({ name: 'write_file', arguments: { path: 'vault/fresh.md', content: 'fresh' } });
    assert.equal(inVault.isError, undefined, textOf(inVault));
    assert.equal(readFileSync(join(ws.vault, 'fresh.md'), 'utf8'), 'fresh');
    const escape = await client.callTool({ name: 'write_file', arguments: { path: '../outside/evil.txt', content: 'x' } });
    assert.equal(escape.isError, true);
    assert.equal(existsSync(join(ws.outside, 'evil.txt')), false);
    await rest(server, 'POST', `/approvals/${structured.approvalId}/deny`, {});
  });

  it('notes: create, append, search, journal; overwriting an existing note waits for approval', async () => {
    assert.equal((await client.callTool({ name: 'write_note', arguments: { path: 'Ideas/garden', content: 'tomatoes' } })).isError, undefined);
    assert.equal((await client.callTool({ name: 'append_to_note', arguments: { path: 'Ideas/garden', content: 'basil' } })).isError, undefined);
    assert.equal(readFileSync(join(ws.vault, 'Ideas', 'garden.md'), 'utf8'), 'tomatoes\nbasil\n');
    assert.match(textOf(await client.callTool({ name: 'search_notes', arguments: { query: 'BASIL' } })), /Ideas\/garden\.md:2/);
    assert.match(textOf(await client.callTool({ name: 'read_note', arguments: { path: 'Ideas/garden.md' } })), /tomatoes/);
    assert.match(textOf(await client.callTool({ name: 'add_journal_entry', arguments: { text: 'planted things', date: '2026-11-26' } })), /Journal\/2026-11-26\.md/);
    assert.match(readFileSync(join(ws.vault, 'Journal', '2026-11-26.md'), 'utf8'), /# 2026-11-26\n\n## \d\d:\d\d\n\nplanted things/);
    assert.match(textOf(await client.callTool({ name: 'list_notes', arguments: {} })), /Ideas\/garden\.md/);
    const overwrite = await client.callTool({ name: 'write_note', arguments: { path: 'Ideas/garden', content: 'gone' } });
    assert.match(textOf(overwrite), /PENDING APPROVAL/);
    assert.equal(readFileSync(join(ws.vault, 'Ideas', 'garden.md'), 'utf8'), 'tomatoes\nbasil\n');
    const escape = await client.callTool({ name: 'read_note', arguments: { path: '../hello.txt' } });
    assert.equal(escape.isError, true);
  });

  it('serves /tools in the Anthropic format and /health without a token', async () => {
    const tools = await rest(server, 'GET', '/tools');
    assert.equal(tools.status, 200);
    const shell = tools.json.find((t: { name: string }) => t.name === 'run_shell_command');
    assert.equal(shell.input_schema.type, 'object');
    assert.ok(shell.input_schema.properties.command);
    assert.equal(typeof shell.description, 'string');
    const health = await rest(server, 'GET', '/health', undefined, null);
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    assert.equal(health.json.tools, Object.keys(TOOL_POLICY).length);
    assert.equal(typeof health.json.pendingApprovals, 'number');
  });
});
