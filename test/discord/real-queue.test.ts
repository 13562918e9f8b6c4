// The Discord service with the real tool runtime of `lares mcp` in-process (as `lares run`
// without MCP_URL): a shell command queued by the policy runs when the owner reacts ✅,
// and a job scheduled with the real scheduler is posted as a reminder.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { LaresToolRuntime } from '../../src/mcp-server/runtime.ts';
import { createLocalApprovalsClient } from '../../src/tools/approvals-client.ts';
import { startDiscordChannel } from '../../src/channels/discord/discord-channel.ts';
import { startFakeDiscord } from '../fakes/discord.ts';
import { LogCapture, MemoryMeta, ScriptedAgent, cleanup } from './helpers.ts';

test('with the real in-process tool runtime: ✅ runs the queued shell command once, and a scheduled job is posted', async (t) => {
  const defer = cleanup(t);
  const dir = mkdtempSync(join(tmpdir(), 'lares-discord-runtime-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ SQLITE_DB_PATH: join(dir, 'lares.db'), LARES_ALLOWED_PATHS: dir, LOG_LEVEL: 'silent', LARES_EMBEDDER: 'none' });
  const runtime = await LaresToolRuntime.open(config, { startScheduler: false });
  defer(() => runtime.close());
  const approvals = createLocalApprovalsClient(runtime, { pollMs: 50 });
  defer(() => approvals.close());
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const owner = fake.user('robin');
  const agent = new ScriptedAgent((input) => (input.source === 'job' ? 'Reminder: the plants need water.' : 'noted'));
  const channel = await startDiscordChannel({
    config: { discord: { botToken: fake.token, channelId: fake.channelId, ownerId: owner.id, allowedUserIds: [], apiUrl: fake.apiUrl }, perchIntervalMinutes: 0 },
    agent, store: new MemoryMeta(), logger: new LogCapture().logger, approvals, perchIntervalMs: 0,
  });
  defer(() => channel.close());

  const target = join(dir, 'made-by-approval');
  const call = await runtime.call('run_shell_command', { command: `mkdir ${target}` });
  assert.equal(call.kind, 'pending', 'the policy queues a command that is not on the allowlist');
  const id = call.kind === 'pending' ? call.approval.id : '';
  const request = await fake.waitFor(() => fake.botMessages().find((m) => m.content.includes(id) && m.reactionsBy.get('✅')?.size === 1), { what: 'the request' });
  assert.equal(existsSync(target), false, 'nothing ran before the owner decided');

  fake.react(owner, request.id, '✅');
  await fake.waitFor(() => fake.botMessages().find((m) => m.message_reference?.message_id === request.id), { what: 'the outcome' });
  assert.equal(existsSync(target), true, 'the approved command ran');
  assert.equal((await approvals.get(id)).status, 'executed', 'and ran once: a second mkdir would have failed');

  await runtime.scheduler.schedule({ kind: 'once', spec: '1m', message: 'water the plants' });
  await runtime.scheduler.fireDue(new Date(Date.now() + 61_000));
  await fake.waitFor(() => fake.botMessages().some((m) => m.content === 'Reminder: the plants need water.'), { what: 'the reminder' });
  assert.match(String(agent.calls.find((c) => c.source === 'job')?.content), /water the plants/);
});
