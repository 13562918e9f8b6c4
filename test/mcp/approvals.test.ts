import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { McpHttpServer } from '../../src/mcp-server/http.ts';
import { connectClient, makeConfig, makeWorkspace, readEvents, rest, startServer, textOf, type Workspace } from './helpers.ts';

describe('shell policy and the approval queue (real SDK client over HTTP)', () => {
  let ws: Workspace;
  let server: McpHttpServer;
  let client: Client;

  before(async () => {
    ws = makeWorkspace();
    const allowlist = join(ws.dir, 'allowlist.txt');
    writeFileSync(allowlist, [
      '# test allowlist',
      '{"exact": ["echo", "hello"]}',
      '{"prefix": ["ls"]}',
      '["pwd"]',
    ].join('\n'));
    server = await startServer(makeConfig(ws, { LARES_ALLOWLIST_FILE: allowlist }));
    client = await connectClient(server);
  });

  after(async () => {
    await client?.close();
    await server?.close();
    ws?.cleanup();
  });

  const shell = (command: string) => client.callTool({ name: 'run_shell_command', arguments: { command } });
  const pendingId = (result: unknown) => ((result as { structuredContent?: unknown }).structuredContent as { approvalId: string }).approvalId;

  it('runs allowlisted argv at once, without a shell, in the first allowed directory', async () => {
    const hello = await shell('echo hello');
    assert.notEqual(hello.isError, true, textOf(hello));
    assert.match(textOf(hello), /exit code 0/);
    assert.match(textOf(hello), /stdout:\nhello\n/);
    const pwd = await shell('pwd');
    assert.match(textOf(pwd), new RegExp(`stdout:\\n${ws.allowed}\\n`));
    writeFileSync(join(ws.allowed, 'listed.txt'), '');
    assert.match(textOf(await shell('ls -1')), /listed\.txt/);
  });

  it('queues anything off the allowlist, and an exact rule does not match longer argv', async () => {
    const result = await shell('echo hello world');
    assert.match(textOf(result), /PENDING APPROVAL — NOT DONE/);
    assert.match(textOf(result), /not on the shell allowlist/);
    assert.doesNotMatch(textOf(result), /hello world\n/);
    const id = pendingId(result);
    assert.match(id, /^[0-9a-f]{8}$/);
    assert.match(textOf(result), new RegExp(id));
  });

  it('never runs injection attempts: each becomes a pending approval and the file is not created', async () => {
    const attempts: Array<[string, string]> = [
      ['ls; touch inj1', 'inj1'],
      ['ls && touch inj2', 'inj2'],
      ['ls || touch inj3', 'inj3'],
      ['echo $(touch inj4)', 'inj4'],
      ['echo `touch inj5`', 'inj5'],
      ['echo hello > inj6', 'inj6'],
      ['ls | tee inj7', 'inj7'],
      ['ls\ntouch inj8', 'inj8'],
      ['ls & touch inj9', 'inj9'],
    ];
    for (const [command, file] of attempts) {
      const result = await shell(command);
      assert.notEqual(result.isError, true, command);
      assert.match(textOf(result), /PENDING APPROVAL — NOT DONE/, command);
      assert.equal((result.structuredContent as { status: string }).status, 'pending_approval', command);
      assert.equal(existsSync(join(ws.allowed, file)), false, `${command} must not run`);
    }
    const pending = await rest(server, 'GET', '/approvals/pending');
    const commands = pending.json.map((a: { args: { command: string } }) => a.args.command);
    for (const [command] of attempts) assert.ok(commands.includes(command), `${command} is in the queue`);
  });

  it('approve runs exactly the stored call once; a second approve is a 409', async () => {
    const result = await shell("sh -c 'echo run >> counter.txt'");
    const id = pendingId(result);
    assert.equal(existsSync(join(ws.allowed, 'counter.txt')), false);
    const first = await rest(server, 'POST', `/approvals/${id}/approve`, {});
    assert.equal(first.status, 200);
    assert.equal(first.json.status, 'executed');
    assert.match(first.json.result.text, /exit code 0/);
    assert.equal(readFileSync(join(ws.allowed, 'counter.txt'), 'utf8'), 'run\n');
    const second = await rest(server, 'POST', `/approvals/${id}/approve`, {});
    assert.equal(second.status, 409);
    assert.match(second.json.message, /executed, not pending/);
    assert.equal(readFileSync(join(ws.allowed, 'counter.txt'), 'utf8'), 'run\n');
    const stored = await rest(server, 'GET', `/approvals/${id}`);
    assert.equal(stored.json.status, 'executed');
    assert.deepEqual(stored.json.args, { command: "sh -c 'echo run >> counter.txt'" });
  });

  it('an approved command with shell syntax runs as the owner read it', async () => {
    const id = pendingId(await shell('echo one; echo two > piped.txt'));
    const approved = await rest(server, 'POST', `/approvals/${id}/approve`);
    assert.equal(approved.json.status, 'executed');
    assert.match(approved.json.result.text, /one/);
    assert.equal(readFileSync(join(ws.allowed, 'piped.txt'), 'utf8'), 'two\n');
  });

  it('a failing approved call is stored as failed', async () => {
    const id = pendingId(await shell('definitely-not-a-program-xyz'));
    const approved = await rest(server, 'POST', `/approvals/${id}/approve`);
    assert.equal(approved.json.status, 'failed');
    assert.match(approved.json.error, /command not found/);
  });

  it('GET /approvals/recent lists decided requests, newest first, never pending ones', async () => {
    const pendingOne = pendingId(await shell('touch still-pending.txt'));
    const deniedOne = pendingId(await shell('touch recent-denied.txt'));
    await rest(server, 'POST', `/approvals/${deniedOne}/deny`, {});
    const recent = await rest(server, 'GET', '/approvals/recent?limit=50');
    assert.equal(recent.status, 200);
    const ids = recent.json.map((a: { id: string }) => a.id);
    assert.equal(ids[0], deniedOne);
    assert.ok(!ids.includes(pendingOne));
    assert.ok(recent.json.every((a: { status: string }) => a.status !== 'pending'));
    assert.equal((await rest(server, 'GET', '/approvals/recent?limit=1')).json.length, 1);
    assert.equal((await rest(server, 'GET', '/approvals/recent?limit=0')).status, 400);
  });

  it('deny stores the reason, never runs, and a later approve is a 409', async () => {
    const id = pendingId(await shell('touch denied.txt'));
    const denied = await rest(server, 'POST', `/approvals/${id}/deny`, { reason: 'not now' });
    assert.equal(denied.status, 200);
    assert.equal(denied.json.status, 'denied');
    assert.equal(denied.json.denyReason, 'not now');
    assert.equal((await rest(server, 'POST', `/approvals/${id}/approve`)).status, 409);
    assert.equal((await rest(server, 'POST', `/approvals/${id}/deny`)).status, 409);
    assert.equal(existsSync(join(ws.allowed, 'denied.txt')), false);
    assert.equal((await rest(server, 'GET', '/approvals/ffffffff')).status, 404);
  });

  it('"always allow" adds the exact argv only, and refuses commands with shell syntax', async () => {
    const id = pendingId(await shell('echo always-ok'));
    const approved = await rest(server, 'POST', `/approvals/${id}/approve`, { always: true });
    assert.equal(approved.json.status, 'executed');
    assert.equal(approved.json.alwaysAllowed, true);
    const again = await shell('echo always-ok');
    assert.match(textOf(again), /stdout:\nalways-ok/);
    assert.match(textOf(await shell('echo always-ok extra')), /PENDING APPROVAL/);
    const syntaxId = pendingId(await shell('echo a; echo b'));
    const refused = await rest(server, 'POST', `/approvals/${syntaxId}/approve`, { always: true });
    assert.equal(refused.status, 400);
    assert.match(refused.json.message, /shell syntax/);
    assert.equal((await rest(server, 'GET', `/approvals/${syntaxId}`)).json.status, 'pending');
  });

  it('POST /approvals queues a call (202) and names a bad field (400)', async () => {
    const queued = await rest(server, 'POST', '/approvals', { tool: 'write_file', args: { path: 'via-rest.txt', content: 'hi' } });
    assert.equal(queued.status, 202);
    assert.equal(queued.json.status, 'pending');
    assert.equal(existsSync(join(ws.allowed, 'via-rest.txt')), false);
    const bad = await rest(server, 'POST', '/approvals', { tool: 'write_file', args: { path: 'x' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /content/);
    const unknown = await rest(server, 'POST', '/approvals', { tool: 'rm_rf', args: {} });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.message, /unknown tool rm_rf/);
    const done = await rest(server, 'POST', `/approvals/${queued.json.id}/approve`);
    assert.equal(done.json.status, 'executed');
    assert.equal(readFileSync(join(ws.allowed, 'via-rest.txt'), 'utf8'), 'hi');
  });

  it('expired requests cannot be approved (409) and the stream says so', async () => {
    const id = pendingId(await shell('touch expired.txt'));
    const before = (await rest(server, 'GET', `/approvals/${id}`)).json;
    // Jump past the TTL (24 h by default) instead of waiting for it.
    await server.runtime.queue.expireDue(new Date(Date.parse(before.expiresAt) + 1));
    assert.equal((await rest(server, 'GET', `/approvals/${id}`)).json.status, 'expired');
    const approve = await rest(server, 'POST', `/approvals/${id}/approve`);
    assert.equal(approve.status, 409);
    assert.match(approve.json.message, /expired/);
    assert.equal(existsSync(join(ws.allowed, 'expired.txt')), false);
    const events = await readEvents(server, { lastEventId: '0', until: (seen) => seen.some((e) => e.data.id === id && e.data.status === 'expired') });
    assert.ok(events.some((e) => e.event === 'approval_result' && e.data.id === id && e.data.status === 'expired'));
  });

  it('SSE replays stored events after Last-Event-ID, with ids, then streams new ones', async () => {
    const all = await readEvents(server, { lastEventId: '0', until: (seen) => seen.length >= 3 });
    assert.ok(all.every((e) => /^\d+$/.test(e.id)));
    const ids = all.map((e) => Number(e.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    const from = all[1].id;
    const replay = await readEvents(server, { lastEventId: from, until: (seen) => seen.length >= 1 });
    assert.equal(replay[0].id, all[2].id, 'replay starts right after Last-Event-ID');
    assert.ok(all.some((e) => e.event === 'approval_needed' && typeof e.data.summary === 'string'));
    // live: subscribe from the current end, then cause an event
    const lastId = String(await server.runtime.events.lastId());
    const live = readEvents(server, { lastEventId: lastId, until: (seen) => seen.some((e) => e.event === 'approval_needed') });
    const id = pendingId(await shell('touch live.txt'));
    const seen = await live;
    assert.ok(seen.some((e) => e.event === 'approval_needed' && e.data.id === id && e.data.tool === 'run_shell_command'));
  });

  it('schedule_job fires a job_due event on the stream', async () => {
    const lastId = String(await server.runtime.events.lastId());
    const due = readEvents(server, { lastEventId: lastId, until: (seen) => seen.some((e) => e.event === 'job_due') });
    const scheduled = await client.callTool({ name: 'schedule_job', arguments: { kind: 'once', spec: '1m', message: 'water the plants' } });
    assert.notEqual(scheduled.isError, true, textOf(scheduled));
    const jobId = /scheduled (job_[0-9a-f]+)/.exec(textOf(scheduled))![1];
    assert.match(textOf(await client.callTool({ name: 'list_jobs', arguments: {} })), new RegExp(jobId));
    // a minute later (the scheduler's clock moved forward, not the test's)
    await server.runtime.scheduler.fireDue(new Date(Date.now() + 61_000));
    const events = await due;
    const event = events.find((e) => e.event === 'job_due')!;
    assert.equal(event.data.jobId, jobId);
    assert.equal(event.data.message, 'water the plants');
    assert.equal(textOf(await client.callTool({ name: 'list_jobs', arguments: {} })), 'no scheduled jobs');
    const cron = await client.callTool({ name: 'schedule_job', arguments: { kind: 'cron', spec: '0 9 * * 1-5', message: 'standup' } });
    const cronId = /scheduled (job_[0-9a-f]+)/.exec(textOf(cron))![1];
    const remove = await client.callTool({ name: 'remove_job', arguments: { id: cronId } });
    assert.match(textOf(remove), /PENDING APPROVAL/);
  });
});
