// Approvals by reaction, against the real approval queue of `lares mcp` (SQLite on a temp file).
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ApprovalBridge, formatApprovalRequest } from '../../src/channels/discord/approval-bridge.ts';
import type { FakeDiscord, FakeMessage } from '../fakes/discord.ts';
import { until } from '../support/until.ts';
import { discordWithApprovals, LogCapture, MemoryMeta, ScriptedAgent, startLares, TestApprovals } from './helpers.ts';

async function setup(t: TestContext) {
  const { defer, fake, approvals } = await discordWithApprovals(t);
  const owner = fake.user('robin');
  const agent = new ScriptedAgent((input) => (input.source === 'approval' ? 'Thanks, noted the outcome.' : 'ok'));
  const store = new MemoryMeta();
  const h = await startLares({ fake, owner, agent, approvals, store });
  defer(() => h.channel.close());
  return { ...h, approvals };
}

const requestFor = (fake: FakeDiscord, id: string) => () => fake.botMessages().find((m) => m.content.includes(`\`${id}\``) && m.content.includes('Approval'));
const hasBotReactions = (message: FakeMessage, emojis: string[]) => emojis.every((e) => message.reactionsBy.get(e)?.size === 1);

test("an approval is posted once with its tool, arguments and reason; a stranger's ✅ is ignored; the owner's ✅ runs it exactly once and the outcome reaches the conversation", async (t) => {
  const { fake, owner, agent, approvals, logs } = await setup(t);
  const record = await approvals.queue.enqueue('run_shell_command', { command: 'ls -la /srv', working_dir: '/home/robin' }, 'the command is not on the allowlist');
  const request = await fake.waitFor(() => { const m = requestFor(fake, record.id)(); return m && hasBotReactions(m, ['✅', '❌', '🔓']) && m; }, { what: 'the approval request with its reactions' });
  assert.match(request.content, /Tool: `run_shell_command`/);
  assert.match(request.content, /"command": "ls -la \/srv"/);
  assert.match(request.content, /Why: the command is not on the allowlist/);
  assert.match(request.content, /🔓 to always allow this exact command/);

  const stranger = fake.user('mallory');
  fake.react(stranger, request.id, '✅');
  await logs.waitFor('approval_reaction_ignored', { userId: stranger.id });
  assert.equal((await approvals.queue.get(record.id)).status, 'pending', "a stranger's ✅ decides nothing");

  fake.react(owner, request.id, '✅');
  const outcome = await fake.waitFor(() => fake.botMessages().find((m) => m.message_reference?.message_id === request.id), { what: 'the outcome message' });
  assert.match(outcome.content, /Approved.*ran.*run_shell_command/s);
  assert.match(outcome.content, /total 0/, 'the result is shown');
  assert.equal((await approvals.queue.get(record.id)).status, 'executed');
  assert.deepEqual(approvals.executed, [{ tool: 'run_shell_command', args: { command: 'ls -la /srv', working_dir: '/home/robin' } }], 'ran once, with exactly the stored arguments');
  await fake.waitFor(() => fake.message(request.id).content.includes('**Approved**'), { what: 'the request edited to show the decision' });

  // the outcome is a new turn of the conversation, and Lares's answer to it is posted
  const turn = await agent.waitFor(() => agent.calls.find((c) => c.source === 'approval'), 'the approval turn');
  assert.match(String(turn.content), new RegExp(`approved run_shell_command \\(approval ${record.id}\\)\\. It ran\\. Result:\\nran run_shell_command`));
  await fake.waitFor(() => fake.botMessages().some((m) => m.content === 'Thanks, noted the outcome.'), { what: "Lares's answer to the outcome" });

  // a second tap (or a late ❌) changes nothing
  fake.react(owner, request.id, '❌');
  await logs.waitFor('approval_reaction_late', { approvalId: record.id });
  assert.equal(approvals.executed.length, 1);
  assert.equal(agent.calls.filter((c) => c.source === 'approval').length, 1);
  assert.equal(fake.botMessages().filter((m) => requestFor(fake, record.id)() === m).length, 1, 'posted once');
});

test('❌ denies: the tool does not run, the request and the conversation say so', async (t) => {
  const { fake, owner, agent, approvals } = await setup(t);
  const record = await approvals.queue.enqueue('write_file', { path: '/etc/hosts', content: '127.0.0.1 example' }, 'writes outside the vault');
  const request = await fake.waitFor(() => { const m = requestFor(fake, record.id)(); return m && hasBotReactions(m, ['✅', '❌']) && m; }, { what: 'the request' });
  assert.equal(request.reactionsBy.has('🔓'), false, '"always allow" is offered for shell commands only');
  fake.react(owner, request.id, '❌');
  const outcome = await fake.waitFor(() => fake.botMessages().find((m) => m.message_reference?.message_id === request.id), { what: 'the outcome' });
  assert.match(outcome.content, /Denied.*did not run/);
  assert.equal((await approvals.queue.get(record.id)).status, 'denied');
  assert.equal(approvals.executed.length, 0);
  await fake.waitFor(() => fake.message(request.id).content.includes('**Denied**'), { what: 'the request edited' });
  const turn = await agent.waitFor(() => agent.calls.find((c) => c.source === 'approval'), 'the approval turn');
  assert.match(String(turn.content), /The owner denied write_file .* It did not run\./);
});

test('🔓 approves and always allows the exact shell command', async (t) => {
  const { fake, owner, approvals } = await setup(t);
  const record = await approvals.queue.enqueue('run_shell_command', { command: 'git status' }, 'not on the allowlist');
  const request = await fake.waitFor(() => { const m = requestFor(fake, record.id)(); return m && hasBotReactions(m, ['🔓']) && m; }, { what: 'the request' });
  fake.react(owner, request.id, '🔓');
  await fake.waitFor(() => fake.botMessages().find((m) => m.message_reference?.message_id === request.id), { what: 'the outcome' });
  const after = await approvals.queue.get(record.id);
  assert.equal(after.status, 'executed');
  assert.equal(after.alwaysAllowed, true);
});

test('🔓 is not offered for a shell command with shell syntax (the queue cannot allowlist it)', async (t) => {
  const { fake, approvals } = await setup(t);
  const record = await approvals.queue.enqueue('run_shell_command', { command: 'make build && make install' }, 'uses shell syntax');
  const request = await fake.waitFor(() => { const m = requestFor(fake, record.id)(); return m && hasBotReactions(m, ['✅', '❌']) && m; }, { what: 'the request' });
  assert.equal(request.reactionsBy.has('🔓'), false);
  assert.doesNotMatch(request.content, /always allow/);
});

test('a 🔓 the queue refuses is explained in the channel, and the request still waits for ✅ or ❌', async (t) => {
  const { fake, owner, approvals } = await setup(t);
  approvals.alwaysRefusal = '"always allow" is switched off on this server';
  const record = await approvals.queue.enqueue('run_shell_command', { command: 'git status' }, 'not on the allowlist');
  const request = await fake.waitFor(() => { const m = requestFor(fake, record.id)(); return m && hasBotReactions(m, ['🔓']) && m; }, { what: 'the request' });
  fake.react(owner, request.id, '🔓');
  const note = await fake.waitFor(() => fake.botMessages().find((m) => m.message_reference?.message_id === request.id), { what: 'the explanation' });
  assert.match(note.content, /not recorded: "always allow" is switched off on this server/);
  assert.match(note.content, /still waiting/);
  assert.equal((await approvals.queue.get(record.id)).status, 'pending');
  fake.react(owner, request.id, '✅');
  await fake.waitFor(() => fake.message(request.id).content.includes('**Approved**'), { what: 'the request edited' });
  assert.equal(approvals.executed.length, 1);
});

test('an approval decided elsewhere (CLI, REST) updates its Discord message', async (t) => {
  const { fake, approvals, agent } = await setup(t);
  const record = await approvals.queue.enqueue('run_shell_command', { command: 'reboot' }, 'not on the allowlist');
  const request = await fake.waitFor(requestFor(fake, record.id), { what: 'the request' });
  await approvals.queue.deny(record.id, 'not now');
  await fake.waitFor(() => fake.message(request.id).content.includes('**Denied**'), { what: 'the request edited' });
  const outcome = await fake.waitFor(() => fake.botMessages().find((m) => m.message_reference?.message_id === request.id), { what: 'the outcome' });
  assert.match(outcome.content, /Reason: not now/);
  await agent.waitFor(() => agent.calls.find((c) => c.source === 'approval' && String(c.content).includes('(not now)')), 'the outcome turn');
});

test('a restart neither loses nor re-posts approvals, and reactions on requests from before the restart still count', async (t) => {
  const { defer, fake, approvals } = await discordWithApprovals(t);
  const owner = fake.user('robin');
  const store = new MemoryMeta();
  const agent = new ScriptedAgent(() => 'ok');

  const first = await startLares({ fake, owner, agent, approvals, store });
  defer(() => first.channel.close());
  const a = await approvals.queue.enqueue('run_shell_command', { command: 'make deploy' }, 'not on the allowlist');
  const b = await approvals.queue.enqueue('run_shell_command', { command: 'make clean' }, 'not on the allowlist');
  await fake.waitFor(() => requestFor(fake, a.id)() && requestFor(fake, b.id)(), { what: 'both requests' });
  await first.channel.close();

  // while Lares is down: one is decided from the CLI, a new one is queued
  await approvals.queue.deny(b.id, 'from the CLI');
  const c = await approvals.queue.enqueue('run_shell_command', { command: 'make test' }, 'not on the allowlist');

  const second = await startLares({ fake, owner, agent, approvals, store });
  defer(() => second.channel.close());
  const requests = () => fake.botMessages().filter((m) => m.content.includes('Approval'));
  assert.equal(requests().filter((m) => m.content.includes(a.id)).length, 1, 'the pending one is not posted again');
  assert.equal(requests().filter((m) => m.content.includes(c.id)).length, 1, 'the one queued while away is posted');
  await fake.waitFor(() => fake.message(requestFor(fake, b.id)()!.id).content.includes('**Denied**'), { what: 'the one decided while away is updated' });

  // the client of this run has never seen request a: the reaction arrives as a partial and still counts
  const requestA = requestFor(fake, a.id)()!;
  fake.react(owner, requestA.id, '✅');
  await until(async () => (await approvals.queue.get(a.id)).status === 'executed', 'a executed');
  assert.deepEqual(approvals.executed.map((e) => e.args.command), ['make deploy']);
});

test('an approval whose post failed (Discord briefly down) is posted by the next sync, and only once', async (t) => {
  const approvals = new TestApprovals();
  t.after(() => approvals.close());
  const posts: string[] = [];
  let discordDown = true;
  const logs = new LogCapture();
  const bridge = new ApprovalBridge({
    approvals: approvals.client(),
    outlet: {
      post: async (content) => {
        if (discordDown) throw new Error('503 Service Unavailable');
        posts.push(content);
        return [String(100000000000000000n + BigInt(posts.length))];
      },
      edit: async () => {},
      react: async () => {},
    },
    store: new MemoryMeta(),
    agent: new ScriptedAgent(),
    ownerId: '200000000000000000',
    logger: logs.logger,
    postAgentReply: async () => {},
  });
  t.after(() => bridge.stop());
  const record = await approvals.queue.enqueue('run_shell_command', { command: 'git push' }, 'not on the allowlist');
  await bridge.handleEvent({ type: 'approval_needed', data: { id: record.id } });
  assert.equal(logs.has('approval_event_failed', { approvalId: record.id }), true);
  assert.equal(posts.length, 0);
  discordDown = false;
  await bridge.sync();
  assert.equal(posts.length, 1);
  assert.match(posts[0], new RegExp(record.id));
  await bridge.sync();
  await bridge.handleEvent({ type: 'approval_needed', data: { id: record.id } });
  assert.equal(posts.length, 1, 'never posted twice');
});

test('the request message always fits Discord, whatever the arguments', () => {
  const text = formatApprovalRequest({ id: 'abcd1234', tool: 'write_file', status: 'pending', reason: 'r'.repeat(1000), args: { path: '/x', content: 'z'.repeat(10_000) + '```' } });
  assert.ok(text.length <= 2000, `${text.length} characters`);
  assert.equal((text.match(/```/g) ?? []).length, 2, 'the arguments cannot break out of their code block');
  assert.match(text, /more characters\)/);
});
