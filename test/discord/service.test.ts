// Restarts, reconnects, perch time, scheduled jobs and /health of the Discord service.
import { until } from '../support/until.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, DiscordAPIError, GatewayIntentBits, type TextChannel } from 'discord.js';
import { startDiscordChannel } from '../../src/channels/discord/discord-channel.ts';
import { buildHealthReport, startHealthServer } from '../../src/channels/discord/health-server.ts';
import { isSilentReply } from '../../src/channels/discord/perch.ts';
import { isLaresError } from '../../src/errors.ts';
import { startFakeDiscord } from '../fakes/discord.ts';
import { cleanup, discordWithApprovals, gate, LogCapture, MemoryMeta, ScriptedAgent, startLares } from './helpers.ts';

test('messages sent while Lares was stopped are answered after start, in order; strangers still ignored', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const owner = fake.user('robin');
  const store = new MemoryMeta();
  const agent = new ScriptedAgent((input) => `re: ${String(input.content).replace(/^\[[^\]]+\] /, '')}`);

  const first = await startLares({ fake, owner, agent, store });
  defer(() => first.channel.close());
  const dm = fake.dmChannel(owner);
  const before = fake.userSays(fake.channelId, owner, 'before the restart');
  await fake.waitFor(() => fake.botMessages().length === 1, { what: 'the first reply' });
  const dmBefore = fake.userSays(dm, owner, 'a private note');
  await fake.waitFor(() => fake.botMessages(dm).length === 1, { what: 'the first DM reply' });
  await first.channel.close();
  await fake.waitFor(() => fake.connectedSessions === 0, { what: 'the bot to disconnect' });

  const missed1 = fake.userSays(fake.channelId, owner, 'are you there?');
  fake.userSays(fake.channelId, fake.user('mallory'), 'let me in');
  const missed2 = fake.userSays(fake.channelId, owner, 'remember to water the plants');
  const missedDm = fake.userSays(dm, owner, 'and a private one');

  const second = await startLares({ fake, owner, agent, store });
  defer(() => second.channel.close());
  const replies = await fake.waitFor(() => fake.botMessages().length === 3 && fake.botMessages().slice(1), { what: 'the missed messages answered' });
  assert.deepEqual(replies.map((r) => [r.content, r.message_reference?.message_id]), [
    ['re: are you there?', missed1.id],
    ['re: remember to water the plants', missed2.id],
  ]);
  const dmReply = await fake.waitFor(() => fake.botMessages(dm)[1], { what: 'the missed DM answered' });
  assert.equal(dmReply.message_reference?.message_id, missedDm.id);
  assert.deepEqual(agent.calls.map((c) => c.sourceRef), [before, dmBefore, missed1, missed2, missedDm].map((m) => `discord:${m.id}`), 'each message once, in order');
  assert.ok(second.logs.has('discord_caught_up', { messages: 2, channelId: fake.channelId }));
});

test('a busy channel: what strangers said moves the position on, so after a restart only what came since is fetched', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const owner = fake.user('robin');
  const mallory = fake.user('mallory');
  const store = new MemoryMeta();
  const agent = new ScriptedAgent((input) => `re: ${String(input.content).replace(/^\[[^\]]+\] /, '')}`);
  const first = await startLares({ fake, owner, agent, store });
  defer(() => first.channel.close());
  fake.userSays(fake.channelId, owner, 'hello');
  await fake.waitFor(() => fake.botMessages().length === 1, { what: 'the first reply' });
  // more chatter than one start fetches (20 pages of 100), while Lares listens and ignores it
  let last = '';
  for (let i = 0; i < 2050; i++) last = fake.userSays(fake.channelId, mallory, `chatter ${i}`).id;
  await first.logs.waitFor('discord_ignored', { messageId: last }, 60_000);
  await first.channel.close();
  assert.equal(await store.getMeta(`discord.last_seen.${fake.channelId}`), last);

  const missed = fake.userSays(fake.channelId, owner, 'anything new?');
  const second = await startLares({ fake, owner, agent, store });
  defer(() => second.channel.close());
  const reply = await fake.waitFor(() => fake.botMessages().find((m) => m.content === 're: anything new?'), { what: 'the missed message answered' });
  assert.equal(reply.message_reference?.message_id, missed.id);
});

test('a dropped gateway connection resumes and the message sent meanwhile is answered', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const owner = fake.user('robin');
  const h = await startLares({ fake, owner, agent: new ScriptedAgent(() => 'still here') });
  defer(() => h.channel.close());
  fake.dropConnections();
  const said = fake.userSays(fake.channelId, owner, 'did you miss this?');
  const reply = await fake.waitFor(() => fake.botMessages()[0], { what: 'a reply after the resume' });
  assert.equal(reply.message_reference?.message_id, said.id);
  assert.equal(fake.resumes, 1, 'the session was resumed, not restarted');
});

test('a perch tick during a conversation waits its turn; its reply follows the conversation', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const owner = fake.user('robin');
  const held = gate();
  const agent = new ScriptedAgent(async (input) => {
    if (input.source === 'discord') { await held.promise; return 'answer to robin'; }
    if (input.source === 'perch') return 'While reflecting I tidied my notes about your garden.';
    return '';
  });
  const h = await startLares({ fake, owner, agent });
  defer(() => h.channel.close());

  fake.userSays(fake.channelId, owner, 'a long question');
  await agent.waitFor(() => agent.timeline.includes('start discord'), 'the conversation turn to start');
  const tick = h.channel.perch.tick();
  await agent.waitFor(() => agent.calls.some((c) => c.source === 'perch'), 'the perch turn to be sent');
  assert.deepEqual(agent.timeline, ['start discord'], 'the perch turn has not started beside the conversation');
  assert.ok(h.channel.perch.lastTickAt(), 'the tick time is recorded for /health');

  held.open();
  await tick;
  assert.deepEqual(agent.timeline, ['start discord', 'end discord', 'start perch', 'end perch']);
  assert.deepEqual(fake.botMessages().map((m) => m.content), ['answer to robin', 'While reflecting I tidied my notes about your garden.']);
  assert.match(String(agent.calls[1].content), /perch time/);
});

test('a silent perch tick posts nothing', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const agent = new ScriptedAgent(() => '(silent)');
  const h = await startLares({ fake, owner: fake.user('robin'), agent });
  defer(() => h.channel.close());
  await h.channel.perch.tick();
  assert.equal(agent.calls.length, 1);
  assert.equal(agent.calls[0].source, 'perch');
  assert.equal(fake.botMessages().length, 0);
  assert.ok(h.logs.has('perch_silent'));
  for (const s of ['', '  ', '(silent)', '*(silent)*', 'Silent.', '(no reply)']) assert.equal(isSilentReply(s), true, s);
  assert.equal(isSilentReply('The silent hours were good.'), false);
});

test('the perch timer ticks by itself every interval', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const agent = new ScriptedAgent(() => '(silent)');
  const h = await startLares({ fake, owner: fake.user('robin'), agent, perchIntervalMs: 20 });
  defer(() => h.channel.close());
  await agent.waitFor(() => agent.calls.filter((c) => c.source === 'perch').length >= 2, 'two timed perch ticks');
});

test('a scheduled reminder (job_due) becomes a turn whose reply is posted; a silent one still posts the reminder', async (t) => {
  const { defer, fake, approvals } = await discordWithApprovals(t);
  const agent = new ScriptedAgent((input) => (String(input.content).includes('water') ? 'Time to water the plants, Robin! 🪴' : ''));
  const h = await startLares({ fake, owner: fake.user('robin'), agent, approvals });
  defer(() => h.channel.close());

  await approvals.events.append('job_due', { jobId: 'job1', kind: 'once', spec: '2026-11-26T09:00:00Z', message: 'remind Robin to water the plants', scheduledFor: '2026-11-26T09:00:00.000Z', nextRunAt: null });
  const posted = await fake.waitFor(() => fake.botMessages()[0], { what: 'the reminder' });
  assert.equal(posted.content, 'Time to water the plants, Robin! 🪴');
  const turn = agent.calls[0];
  assert.equal(turn.source, 'job');
  assert.match(String(turn.content), /^\[scheduled job job1 due at 2026-11-26T09:00:00.000Z, once .*\] remind Robin to water the plants/);
  assert.equal(turn.sourceRef, 'job:job1:2026-11-26T09:00:00.000Z');

  await approvals.events.append('job_due', { jobId: 'job2', kind: 'once', spec: 'x', message: 'stretch', scheduledFor: '2026-11-26T10:00:00.000Z', nextRunAt: null });
  await fake.waitFor(() => fake.botMessages().some((m) => m.content === '⏰ stretch'), { what: 'the fallback reminder' });
});

test('/health reports Discord, perch time and pending approvals on loopback', async (t) => {
  const { defer, fake, approvals } = await discordWithApprovals(t);
  const h = await startLares({ fake, owner: fake.user('robin'), agent: new ScriptedAgent(() => '(silent)'), approvals });
  defer(() => h.channel.close());
  await approvals.queue.enqueue('run_shell_command', { command: 'ls' }, 'x');
  await h.channel.perch.tick();
  const startedAt = new Date().toISOString();
  const health = await startHealthServer({ port: 0, report: () => buildHealthReport({ mode: 'direct', startedAt, channel: h.channel, approvals: approvals.client() }) });
  defer(() => health.close());
  assert.match(health.url, /^http:\/\/127\.0\.0\.1:\d+\/health$/);
  const response = await fetch(health.url);
  assert.equal(response.status, 200);
  const body = await response.json() as Record<string, any>;
  assert.equal(body.discord.connected, true);
  assert.equal(body.perch.lastTickAt, h.channel.perch.lastTickAt());
  assert.equal(body.approvals.pending, 1);
  assert.equal(body.status, 'ok');
  assert.equal(body.mode, 'direct');
  assert.equal((await fetch(health.url.replace('/health', '/other'))).status, 404);
  assert.equal((await fetch(health.url, { method: 'POST' })).status, 405);
  await h.channel.close();
  const down = await fetch(health.url);
  assert.equal(down.status, 503, 'degraded once Discord is disconnected');
  assert.equal((await down.json() as Record<string, any>).discord.connected, false);
});

test('configuration errors are clear: missing ids, a refused token', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const base = { agent: new ScriptedAgent(), store: new MemoryMeta(), logger: new LogCapture().logger, perchIntervalMs: 0 };
  await assert.rejects(
    startDiscordChannel({ ...base, config: { discord: { allowedUserIds: [] }, perchIntervalMinutes: 0 } }),
    (error: unknown) => isLaresError(error) && error.code === 'CONFIG_INVALID' && /DISCORD_BOT_TOKEN, DISCORD_CHANNEL_ID, DISCORD_OWNER_ID/.test(error.message),
  );
  await assert.rejects(
    startDiscordChannel({ ...base, config: { discord: { botToken: 'wrong', channelId: fake.channelId, ownerId: fake.user('robin').id, allowedUserIds: [], apiUrl: fake.apiUrl }, perchIntervalMinutes: 0 } }),
    (error: unknown) => isLaresError(error) && error.code === 'DISCORD_ERROR' && /DISCORD_BOT_TOKEN/.test(error.message) && !error.message.includes('wrong'),
  );
  await assert.rejects(
    startDiscordChannel({ ...base, config: { discord: { botToken: fake.token, channelId: '123456789012345678', ownerId: fake.user('robin').id, allowedUserIds: [], apiUrl: fake.apiUrl }, perchIntervalMinutes: 0 } }),
    (error: unknown) => isLaresError(error) && error.code === 'CONFIG_INVALID' && /DISCORD_CHANNEL_ID 123456789012345678/.test(error.message),
  );
});

test('the fake is strict like Discord: 2,001 characters are refused with code 50035', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl } });
  defer(() => client.destroy());
  await client.login(fake.token);
  const channel = await client.channels.fetch(fake.channelId) as TextChannel;
  await assert.rejects(channel.send('x'.repeat(2001)), (error: unknown) => error instanceof DiscordAPIError && error.code === 50035 && error.status === 400);
  await assert.rejects(channel.send({ content: 'hi', reply: { messageReference: '123456789012345678' } }), (error: unknown) => error instanceof DiscordAPIError && error.code === 50035);
  const ok = await channel.send('x'.repeat(2000));
  assert.equal(ok.content.length, 2000);
});

test('close() (SIGTERM) lets the turn in progress finish and post its reply, then disconnects', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const held = gate();
  const agent = new ScriptedAgent(async () => { await held.promise; return 'finished before shutting down'; });
  const h = await startLares({ fake, owner: fake.user('robin'), agent });
  defer(() => h.channel.close());
  fake.userSays(fake.channelId, h.owner, 'long task');
  await agent.waitFor(() => agent.timeline.includes('start discord'), 'the turn to start');
  const closing = h.channel.close();
  fake.userSays(fake.channelId, h.owner, 'sent during shutdown');
  held.open();
  await closing;
  assert.deepEqual(fake.botMessages().map((m) => m.content), ['finished before shutting down']);
  assert.equal(agent.calls.length, 1, 'nothing new is started during shutdown (it is answered after the next start)');
  assert.equal(h.channel.isConnected(), false);
  await fake.waitFor(() => fake.connectedSessions === 0, { what: 'the gateway to close' });
});

test('a reminder that fired while Lares was down is posted after start; one from before Lares ever ran is not', async (t) => {
  const { defer, fake, approvals } = await discordWithApprovals(t);
  const owner = fake.user('robin');
  const store = new MemoryMeta();
  const agent = new ScriptedAgent((input) => `reminder: ${String(input.content).split('] ')[1]?.split('\n')[0]}`);
  const due = (jobId: string, message: string) => approvals.events.append('job_due', { jobId, kind: 'once', spec: 's', message, scheduledFor: new Date().toISOString(), nextRunAt: null });

  await due('ancient', 'from before Lares ever ran');
  const first = await startLares({ fake, owner, agent, approvals, store });
  defer(() => first.channel.close());
  await first.logs.waitFor('job_skipped');
  await first.channel.close();

  await due('missed', 'call the dentist');
  const second = await startLares({ fake, owner, agent, approvals, store });
  defer(() => second.channel.close());
  await fake.waitFor(() => fake.botMessages().some((m) => m.content === 'reminder: call the dentist'), { what: 'the missed reminder' });
  await due('live', 'stretch');
  await fake.waitFor(() => fake.botMessages().some((m) => m.content === 'reminder: stretch'), { what: 'the live reminder' });
  assert.deepEqual(agent.calls.map((c) => c.metadata?.jobId), ['missed', 'live'], 'each reminder once; the one from before the first run is skipped');
});

test('a reconnect that cannot resume fetches and answers what was said meanwhile', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const owner = fake.user('robin');
  const agent = new ScriptedAgent((input) => `re: ${String(input.content).replace(/^\[[^\]]+\] /, '')}`);
  const h = await startLares({ fake, owner, agent });
  defer(() => h.channel.close());
  fake.userSays(fake.channelId, owner, 'first');
  await fake.waitFor(() => fake.botMessages().length === 1, { what: 'the first reply' });
  fake.dropConnections({ resumable: false });
  const missed = fake.userSays(fake.channelId, owner, 'said while the session was lost');
  const reply = await fake.waitFor(() => fake.botMessages()[1], { what: 'the missed message answered' });
  assert.equal(reply.content, 're: said while the session was lost');
  assert.equal(reply.message_reference?.message_id, missed.id);
  assert.equal(fake.identifies, 2, 'it identified again');
  assert.equal(agent.calls.length, 2);
});

test('the very first start records where the channel stands, so a message not yet answered when that worker dies is found by the next', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const owner = fake.user('robin');
  const old = fake.userSays(fake.channelId, owner, 'from before Lares ever ran');
  const store = new MemoryMeta();
  const agent = new ScriptedAgent((input) => `re: ${String(input.content).replace(/^\[[^\]]+\] /, '')}`);
  const first = await startLares({ fake, owner, agent, store });
  defer(() => first.channel.close());
  await until(async () => store.values.get(`discord.last_seen.${fake.channelId}`) === old.id, 'the starting position stored');
  // the worker dies (no clean close: nothing more is stored); a message arrives meanwhile
  await first.channel.client.destroy();
  const missed = fake.userSays(fake.channelId, owner, 'are you there?');
  const second = await startLares({ fake, owner, agent, store });
  defer(() => second.channel.close());
  await fake.waitFor(() => fake.botMessages().find((m) => m.message_reference?.message_id === missed.id), { what: 'the message sent while no worker was connected' });
  assert.equal(agent.calls.some((c) => c.sourceRef === `discord:${old.id}`), false, 'what was said before the first start is not answered');
});
