import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isLaresError } from '../../src/errors.ts';
import { startMcpHttpServer } from '../../src/mcp-server/http.ts';
import { connectClient, makeConfig, makeWorkspace, rest, startServer, textOf, TOKEN } from './helpers.ts';

describe('authentication, binding and restarts', () => {
  const ws = makeWorkspace();
  after(() => ws.cleanup());

  it('401 on /mcp and every REST route without the token or with a wrong one; /health stays open', async (t) => {
    const server = await startServer(makeConfig(ws));
    t.after(() => server.close());
    for (const token of [null, 'wrong-token']) {
      const client = new Client({ name: 'intruder', version: '0' });
      const transport = new StreamableHTTPClientTransport(new URL(server.url), token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {});
      await assert.rejects(client.connect(transport), /401|nauthorized/);
      await client.close();
      for (const [method, path] of [['GET', '/tools'], ['GET', '/approvals/pending'], ['GET', '/approvals/abc'], ['POST', '/approvals'], ['POST', '/approvals/abc/approve'], ['POST', '/approvals/abc/deny'], ['GET', '/events'], ['POST', '/mcp']]) {
        const response = await rest(server, method, path, method === 'POST' ? {} : undefined, token);
        assert.equal(response.status, 401, `${method} ${path} with ${token ?? 'no token'}`);
        assert.equal(response.json.error, 'unauthorized');
      }
    }
    const health = await rest(server, 'GET', '/health', undefined, null);
    assert.equal(health.status, 200);
    const ok = await connectClient(server, TOKEN);
    assert.ok((await ok.listTools()).tools.length > 0);
    await ok.close();
  });

  it('refuses a non-loopback bind without a token (exit code 2), before listening', async () => {
    const config = makeConfig(ws, { LARES_MCP_TOKEN: '' });
    await assert.rejects(startMcpHttpServer(config, { host: '0.0.0.0', port: 0 }), (error: unknown) => {
      assert.ok(isLaresError(error));
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /LARES_MCP_TOKEN/);
      return true;
    });
  });

  it('without a token, a loopback server rejects a foreign Host header (DNS rebinding)', async (t) => {
    const server = await startServer(makeConfig(ws, { LARES_MCP_TOKEN: '' }));
    t.after(() => server.close());
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.baseUrl}/health`, { headers: { host: 'evil.example:80' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 403);
  });

  it('keeps pending approvals across a restart, and they can be approved after it', async () => {
    const config = makeConfig(ws);
    const first = await startServer(config);
    const client = await connectClient(first);
    const result = await client.callTool({ name: 'run_shell_command', arguments: { command: 'echo survived-restart' } });
    const id = (result.structuredContent as { approvalId: string }).approvalId;
    assert.match(textOf(result), /PENDING/);
    await client.close();
    await first.close();

    const second = await startServer(config);
    try {
      const pending = await rest(second, 'GET', '/approvals/pending');
      assert.ok(pending.json.some((a: { id: string }) => a.id === id));
      const health = await rest(second, 'GET', '/health', undefined, null);
      assert.ok(health.json.pendingApprovals >= 1);
      const approved = await rest(second, 'POST', `/approvals/${id}/approve`);
      assert.equal(approved.json.status, 'executed');
      assert.match(approved.json.result.text, /survived-restart/);
    } finally {
      await second.close();
    }
  });
});
