import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { makeWorkspace, TOKEN, type Workspace } from './helpers.ts';

const run = promisify(execFile);
const BIN = join(process.cwd(), 'bin', 'lares.js');

describe('lares mcp and lares approvals (CLI)', () => {
  let ws: Workspace;
  let env: Record<string, string>;
  let child: ChildProcess;
  let url: string;

  before(async () => {
    ws = makeWorkspace();
    env = {
      PATH: process.env.PATH ?? '', HOME: ws.dir, LOG_FORMAT: 'json', LOG_LEVEL: 'warn', LARES_ENV_FILE: join(ws.dir, 'no.env'),
      SQLITE_DB_PATH: ws.db, LARES_ALLOWED_PATHS: ws.allowed, OBSIDIAN_VAULT_PATH: ws.vault, LARES_MCP_TOKEN: TOKEN,
    };
    child = spawn(process.execPath, [BIN, 'mcp', '--port', '0'], { cwd: ws.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /serving \d+ tools at (http:\/\/\S+\/mcp)/.exec(seen);
        if (match) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`lares mcp exited with ${code}: ${seen}`)));
    });
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    ws?.cleanup();
  });

  const cli = (args: string[], extraEnv: Record<string, string> = {}) =>
    run(process.execPath, [BIN, ...args], { cwd: ws.dir, env: { ...env, ...extraEnv } }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('serves MCP over HTTP; lares approvals lists, shows and approves through MCP_URL', async () => {
    const client = new Client({ name: 'cli-test', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    const result = await client.callTool({ name: 'run_shell_command', arguments: { command: 'touch from-cli.txt' } });
    const id = (result.structuredContent as { approvalId: string }).approvalId;
    await client.close();

    const list = await cli(['approvals', 'list', '--json'], { MCP_URL: url });
    assert.equal(list.code, 0, list.stderr);
    assert.ok(JSON.parse(list.stdout).some((a: { id: string }) => a.id === id));
    const human = await cli(['approvals'], { MCP_URL: url });
    assert.match(human.stdout, new RegExp(`${id}\\s+pending\\s+run_shell_command: touch from-cli.txt`));
    const show = await cli(['approvals', 'show', id, '--json'], { MCP_URL: url });
    assert.equal(JSON.parse(show.stdout).status, 'pending');
    assert.equal(existsSync(join(ws.allowed, 'from-cli.txt')), false);
    const approve = await cli(['approvals', 'approve', id], { MCP_URL: url });
    assert.equal(approve.code, 0, approve.stderr);
    assert.match(approve.stdout, /status:\s+executed/);
    assert.equal(existsSync(join(ws.allowed, 'from-cli.txt')), true);
    const again = await cli(['approvals', 'approve', id], { MCP_URL: url });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /executed, not pending/);
    const wrongToken = await cli(['approvals', 'list'], { MCP_URL: url, LARES_MCP_TOKEN: 'wrong' });
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.stderr, /refused the token/);
  });

  it('lares approvals works on the local database without MCP_URL (deny with a reason)', async () => {
    const client = new Client({ name: 'cli-test', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    const result = await client.callTool({ name: 'remove_job', arguments: { id: 'job_00000000' } });
    const id = (result.structuredContent as { approvalId: string }).approvalId;
    await client.close();
    const deny = await cli(['approvals', 'deny', id, '--reason', 'keep it', '--json']);
    assert.equal(deny.code, 0, deny.stderr);
    const record = JSON.parse(deny.stdout);
    assert.equal(record.status, 'denied');
    assert.equal(record.denyReason, 'keep it');
  });

  it('refuses a non-loopback bind without a token with exit code 2', async () => {
    const result = await cli(['mcp', '--host', '0.0.0.0', '--port', '0'], { LARES_MCP_TOKEN: '' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /refusing to listen on 0\.0\.0\.0 without a token/);
  });

  it('lares mcp --stdio serves the same tools to an MCP client that spawns it', async (t) => {
    const client = new Client({ name: 'stdio-test', version: '0' });
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--stdio'], env, cwd: ws.dir, stderr: 'ignore' });
    await client.connect(transport);
    t.after(() => client.close());
    const { tools } = await client.listTools();
    assert.ok(tools.some((tool) => tool.name === 'read_note'));
    const write = await client.callTool({ name: 'write_note', arguments: { path: 'stdio-note', content: 'via stdio' } });
    assert.notEqual(write.isError, true);
    assert.equal(existsSync(join(ws.vault, 'stdio-note.md')), true);
  });
});
