// Approval cards with buttons on Discord (message components beside the ✅/❌ reactions),
// against the fake gateway's INTERACTION_CREATE and the interaction callback route.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { discordWithApprovals, gate, MemoryMeta, ScriptedAgent, startLares } from './helpers.ts';

async function setup(t: TestContext) {
  const { defer, fake, approvals } = await discordWithApprovals(t);
  const owner = fake.user('robin');
  const agent = new ScriptedAgent((input) => (input.source === 'approval' ? 'Noted.' : 'ok'));
  const h = await startLares({ fake, owner, agent, approvals, store: new MemoryMeta() });
  defer(() => h.channel.close());
  return { ...h, approvals };
}

const card = (fake: Awaited<ReturnType<typeof setup>>['fake'], id: string) => () =>
  fake.botMessages().find((m) => m.content.includes(`\`${id}\``) && m.components && m.components.length > 0);

test('the card has Approve / Deny / Always allow buttons and shows the whole call with its expiry; a stranger gets an ephemeral "not yours"; the owner\'s press decides once and the card loses its buttons', async (t) => {
  const { fake, owner, approvals, agent } = await setup(t);
  const record = await approvals.queue.enqueue('run_shell_command', { command: 'ls -la /srv', working_dir: '/home/robin' }, 'not on the allowlist');
  const message = await fake.waitFor(card(fake, record.id), { what: 'the card with buttons' });
  const buttons = message.components![0].components;
  assert.deepEqual(buttons.map((b) => [b.label, b.custom_id]), [
    ['Approve', `lares:approve:${record.id}`], ['Deny', `lares:deny:${record.id}`], ['Always allow', `lares:always:${record.id}`],
  ]);
  assert.match(message.content, /"working_dir": "\/home\/robin"/);
  assert.match(message.content, /Why: not on the allowlist/);
  assert.match(message.content, new RegExp(`Expires: ${record.expiresAt.slice(0, 10)}`));

  const stranger = fake.user('mallory');
  const theirs = fake.pressButton(stranger, message.id, `lares:approve:${record.id}`);
  await fake.waitFor(() => theirs.response, { what: "the answer to the stranger's press" });
  assert.equal(theirs.response!.type, 4);
  assert.equal(theirs.response!.data?.flags, 64, 'ephemeral');
  assert.match(String(theirs.response!.data?.content), /Not yours/);
  assert.equal((await approvals.queue.get(record.id)).status, 'pending');

  const press = fake.pressButton(owner, message.id, `lares:approve:${record.id}`);
  await fake.waitFor(() => press.response, { what: "the answer to the owner's press" });
  assert.equal(press.response!.type, 6, 'acknowledged at once (deferred update)');
  await fake.waitFor(() => fake.message(message.id).content.includes('**Approved**') && (fake.message(message.id).components ?? []).length === 0, { what: 'the card edited, without buttons' });
  assert.equal((await approvals.queue.get(record.id)).status, 'executed');
  assert.equal(approvals.executed.length, 1);
  await agent.waitFor(() => agent.calls.find((c) => c.source === 'approval'), 'the outcome turn');
});

test('a press after a decision made elsewhere, or after expiry, says so and changes nothing', async (t) => {
  const { fake, owner, approvals } = await setup(t);
  const denied = await approvals.queue.enqueue('write_file', { path: '/etc/hosts', content: 'x' }, 'writes outside the vault');
  const deniedCard = await fake.waitFor(card(fake, denied.id), { what: 'the first card' });
  const buttons = deniedCard.components![0].components;
  assert.deepEqual(buttons.map((b) => b.label), ['Approve', 'Deny'], '"always allow" only for shell commands');
  // decided in the terminal before the press reaches Lares
  await approvals.queue.deny(denied.id, 'no');
  const late = fake.pressButton(owner, deniedCard.id, `lares:approve:${denied.id}`);
  await fake.waitFor(() => late.response, { what: 'the answer to the late press' });
  assert.equal(late.response!.type, 4);
  assert.equal(late.response!.data?.flags, 64);
  assert.match(String(late.response!.data?.content), /Already decided \(denied\)/);
  assert.equal(approvals.executed.length, 0);
  await fake.waitFor(() => fake.message(deniedCard.id).content.includes('**Denied**'), { what: 'the card shows the denial' });

  const expiring = await approvals.queue.enqueue('write_file', { path: '/etc/motd', content: 'y' }, 'writes outside the vault');
  const expiringCard = await fake.waitFor(card(fake, expiring.id), { what: 'the second card' });
  approvals.store.db.prepare('UPDATE approval_requests SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), expiring.id);
  const tooLate = fake.pressButton(owner, expiringCard.id, `lares:approve:${expiring.id}`);
  await fake.waitFor(() => tooLate.response, { what: 'the answer to the press after expiry' });
  assert.match(String(tooLate.response!.data?.content), /expired/);
  assert.equal((await approvals.queue.get(expiring.id)).status, 'expired');
  assert.equal(approvals.executed.length, 0);
  await fake.waitFor(() => fake.message(expiringCard.id).content.includes('**Expired**'), { what: 'the card shows the expiry' });
});

test('a second press while the approved tool runs is answered at once ("being decided"), within Discord\'s three seconds', async (t) => {
  const { fake, owner, approvals } = await setup(t);
  const held = gate();
  approvals.hold = held.promise;
  const record = await approvals.queue.enqueue('write_file', { path: '/etc/hosts', content: 'x' }, 'writes outside the vault');
  try {
    const message = await fake.waitFor(card(fake, record.id), { what: 'the card' });
    const first = fake.pressButton(owner, message.id, `lares:approve:${record.id}`);
    await fake.waitFor(() => first.response, { what: 'the first press acknowledged' });
    for (let i = 0; i < 500 && approvals.executed.length === 0; i++) await new Promise((r) => setTimeout(r, 10)); // the tool running
    const pressedAt = Date.now();
    const second = fake.pressButton(owner, message.id, `lares:deny:${record.id}`);
    await fake.waitFor(() => second.response, { what: 'the second press answered while the tool runs', timeoutMs: 3000 });
    assert.ok(Date.now() - pressedAt < 3000);
    assert.equal(second.response!.type, 4);
    assert.equal(second.response!.data?.flags, 64, 'ephemeral');
    assert.match(String(second.response!.data?.content), /being decided/);
    held.open();
    await fake.waitFor(() => fake.message(message.id).content.includes('**Approved**'), { what: 'the card edited' });
  } finally {
    held.open(); // or closing Lares would wait for the held tool
  }
});

test('a press acknowledged (deferred) that the queue finds approved elsewhere gets an ephemeral follow-up', async (t) => {
  const { defer, fake, approvals } = await discordWithApprovals(t);
  const owner = fake.user('robin');
  const held = gate();
  approvals.hold = held.promise;
  const client = approvals.client();
  // between Lares's check and its approve, the terminal approves it (and the tool starts running)
  const racing = { ...client, approve: async (id: string, options?: { always?: boolean }) => { void approvals.queue.approve(id).catch(() => undefined); return client.approve(id, options); } };
  approvals.client = () => racing;
  const h = await startLares({ fake, owner, agent: new ScriptedAgent(() => 'ok'), approvals, store: new MemoryMeta() });
  defer(() => h.channel.close());
  const record = await approvals.queue.enqueue('write_file', { path: '/etc/hosts', content: 'x' }, 'writes outside the vault');
  try {
    const message = await fake.waitFor(card(fake, record.id), { what: 'the card' });
    const press = fake.pressButton(owner, message.id, `lares:approve:${record.id}`);
    await fake.waitFor(() => press.followUps[0], { what: 'the follow-up' });
    assert.equal(press.response!.type, 6, 'acknowledged first');
    assert.match(press.followUps[0].content, /Already approved elsewhere/);
    assert.equal(press.followUps[0].flags, 64, 'ephemeral');
    assert.equal(approvals.executed.length, 1, 'it ran once');
  } finally {
    held.open(); // or closing Lares would wait for the held tool
  }
});
