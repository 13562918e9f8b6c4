// Approval cards on Telegram: an inline keyboard (Approve / Deny / Always allow), decided by the
// owner's press only, exactly once, against the real approval queue.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { gate, ScriptedAgent, telegramHarness } from './helpers.ts';

async function setup(t: TestContext) {
  const h = await telegramHarness(t, { approvals: true, agent: new ScriptedAgent((input) => (input.source === 'approval' ? 'Noted the outcome.' : 'ok')) });
  // the bot may write to the owner only after the owner wrote first (/start)
  h.fake.says(h.owner, '/start');
  await h.start();
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 1, 'the /start answer');
  return { ...h, approvals: h.approvals! };
}

test('a card shows the whole call with an inline keyboard; a stranger\'s press is "not yours"; the owner\'s Approve runs it once, edits the card and feeds the outcome', async (t) => {
  const { fake, owner, approvals, agent, store } = await setup(t);
  const record = await approvals.queue.enqueue('run_shell_command', { command: 'ls -la /srv', working_dir: '/home/robin' }, 'not on the allowlist');
  const cardMessage = await fake.waitFor(() => fake.botMessages(owner.id).find((m) => m.reply_markup && m.text?.includes(record.id)), 'the card');
  assert.deepEqual(cardMessage.reply_markup!.inline_keyboard[0].map((b) => [b.text, b.callback_data]), [
    ['Approve', `lares:approve:${record.id}`], ['Deny', `lares:deny:${record.id}`], ['Always allow', `lares:always:${record.id}`],
  ]);
  assert.match(cardMessage.text!, /Tool: run_shell_command/);
  assert.match(cardMessage.text!, /"command": "ls -la \/srv"/);
  assert.match(cardMessage.text!, /Why: not on the allowlist/);
  assert.match(cardMessage.text!, /Expires: /);
  assert.equal(cardMessage.sent?.parse_mode, 'HTML');
  assert.match(cardMessage.sent!.raw, /<pre><code class="language-json">/);

  const stranger = fake.user('Mallory');
  const theirs = fake.press(stranger, cardMessage, `lares:approve:${record.id}`);
  await fake.waitFor(() => fake.callbackAnswers.find((a) => a.callback_query_id === theirs), 'the answer to the stranger');
  assert.match(String(fake.callbackAnswers.find((a) => a.callback_query_id === theirs)!.text), /Not yours/);
  assert.equal((await approvals.queue.get(record.id)).status, 'pending');

  const mine = fake.press(owner, cardMessage, `lares:approve:${record.id}`);
  await fake.waitFor(() => fake.callbackAnswers.find((a) => a.callback_query_id === mine), 'the answer to the owner');
  await fake.waitFor(() => !cardMessage.reply_markup && cardMessage.text?.includes('Approved — it ran.'), 'the card edited, without its keyboard');
  assert.equal((await approvals.queue.get(record.id)).status, 'executed');
  assert.equal(approvals.executed.length, 1);
  await fake.waitFor(() => fake.botMessages(owner.id).some((m) => m.reply_to_message?.message_id === cardMessage.message_id && /total 0/.test(m.text ?? '')), 'the outcome, as a reply to the card');
  await agent.waitFor(() => agent.calls.find((c) => c.source === 'approval'), 'the outcome turn');
  await fake.waitFor(() => fake.botMessages(owner.id).some((m) => m.text === 'Noted the outcome.'), "Lares's answer to the outcome");
  assert.ok(await store.getMeta(`telegram.approval.${record.id}`), 'the card is remembered across restarts');
});

test('a press after a decision elsewhere, or after expiry, says so and changes nothing', async (t) => {
  const { fake, owner, approvals } = await setup(t);
  const record = await approvals.queue.enqueue('write_file', { path: '/etc/hosts', content: 'x' }, 'writes outside the vault');
  const cardMessage = await fake.waitFor(() => fake.botMessages(owner.id).find((m) => m.reply_markup && m.text?.includes(record.id)), 'the card');
  assert.deepEqual(cardMessage.reply_markup!.inline_keyboard[0].map((b) => b.text), ['Approve', 'Deny']);
  await approvals.queue.deny(record.id, 'decided in the terminal');
  const late = fake.press(owner, cardMessage, `lares:approve:${record.id}`);
  const answer = await fake.waitFor(() => fake.callbackAnswers.find((a) => a.callback_query_id === late), 'the answer');
  assert.match(String(answer.text), /Already decided \(denied\)/);
  assert.equal(answer.show_alert, true);
  assert.equal(approvals.executed.length, 0);
  await fake.waitFor(() => cardMessage.text?.includes('Denied — it did not run.') && !cardMessage.reply_markup, 'the card shows the denial');

  const expiring = await approvals.queue.enqueue('write_file', { path: '/etc/motd', content: 'y' }, 'writes outside the vault');
  const second = await fake.waitFor(() => fake.botMessages(owner.id).find((m) => m.reply_markup && m.text?.includes(expiring.id)), 'the second card');
  approvals.store.db.prepare('UPDATE approval_requests SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), expiring.id);
  const tooLate = fake.press(owner, second, `lares:deny:${expiring.id}`);
  const expired = await fake.waitFor(() => fake.callbackAnswers.find((a) => a.callback_query_id === tooLate), 'the answer after expiry');
  assert.match(String(expired.text), /expired/);
  assert.equal((await approvals.queue.get(expiring.id)).status, 'expired');
});

test('a second press while the approved tool runs is answered at once ("being decided"), not after the tool', async (t) => {
  const { fake, owner, approvals } = await setup(t);
  const held = gate();
  approvals.hold = held.promise;
  const record = await approvals.queue.enqueue('write_file', { path: '/etc/hosts', content: 'x' }, 'writes outside the vault');
  try {
    const card = await fake.waitFor(() => fake.botMessages(owner.id).find((m) => m.reply_markup && m.text?.includes(record.id)), 'the card');
    const first = fake.press(owner, card, `lares:approve:${record.id}`);
    const ack = await fake.waitFor(() => fake.callbackAnswers.find((a) => a.callback_query_id === first), 'the first press acknowledged');
    assert.equal(ack.text, 'Approving…');
    for (let i = 0; i < 500 && approvals.executed.length === 0; i++) await new Promise((r) => setTimeout(r, 10)); // the tool running
    const second = fake.press(owner, card, `lares:deny:${record.id}`);
    // the tool is still running (held): the answer must not wait for it
    const busy = await fake.waitFor(() => fake.callbackAnswers.find((a) => a.callback_query_id === second), 'the second press answered while the tool runs', 3000);
    assert.match(String(busy.text), /being decided/);
    assert.equal((await approvals.queue.get(record.id)).status, 'approved', 'still running');
    held.open();
    await fake.waitFor(() => card.text?.includes('Approved — it ran.'), 'the card edited once the tool finished');
    assert.equal((await approvals.queue.get(record.id)).status, 'executed');
  } finally {
    held.open(); // or closing Lares would wait for the held tool
  }
});

test('a press acknowledged ("Approving…") that the queue finds approved elsewhere says so in the chat', async (t) => {
  const h = await telegramHarness(t, { approvals: true, agent: new ScriptedAgent((input) => (input.source === 'approval' ? 'Noted.' : 'ok')) });
  const approvals = h.approvals!;
  h.fake.says(h.owner, '/start');
  const held = gate();
  approvals.hold = held.promise;
  const client = approvals.client();
  // between Lares's check and its approve, the terminal approves it (and the tool starts running)
  const racing = { ...client, approve: async (id: string, options?: { always?: boolean }) => { void approvals.queue.approve(id).catch(() => undefined); return client.approve(id, options); } };
  await h.start({ approvals: racing });
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 1, 'the /start answer');
  const record = await approvals.queue.enqueue('write_file', { path: '/etc/hosts', content: 'x' }, 'writes outside the vault');
  try {
    const card = await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).find((m) => m.reply_markup && m.text?.includes(record.id)), 'the card');
    const press = h.fake.press(h.owner, card, `lares:approve:${record.id}`);
    await h.fake.waitFor(() => h.fake.callbackAnswers.find((a) => a.callback_query_id === press && a.text === 'Approving…'), 'the acknowledgement');
    const notice = await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).find((m) => /Already approved elsewhere/.test(m.text ?? '')), 'the notice in the chat');
    assert.equal(notice.reply_to_message?.message_id, card.message_id);
    assert.equal(approvals.executed.length, 1, 'it ran once');
  } finally {
    held.open(); // or closing Lares would wait for the held tool
  }
});

test('the approval-event cursor advances only over events that are finished, in order', async (t) => {
  const h = await telegramHarness(t, { approvals: true, agent: new ScriptedAgent((input) => (input.source === 'approval' ? 'Noted.' : 'ok')) });
  const approvals = h.approvals!;
  h.fake.says(h.owner, '/start');
  const client = approvals.client();
  const held = gate();
  // reading the first request is slow (a busy queue): its event is still being handled
  const slow = { ...client, get: async (id: string) => { if ((await approvals.queue.get(id)).args.path === '/a') await held.promise; return client.get(id); } };
  await h.start({ approvals: slow });
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 1, 'the /start answer');
  for (let i = 0; i < 100 && (await h.store.getMeta('telegram.events.last_id')) === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  const before = Number(await h.store.getMeta('telegram.events.last_id'));
  const first = await approvals.queue.enqueue('write_file', { path: '/a', content: 'x' }, 'first');
  try {
    const second = await approvals.queue.enqueue('write_file', { path: '/b', content: 'y' }, 'second');
    await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).find((m) => m.text?.includes(second.id)), "the second request's card");
    await h.logs.waitFor('approval_posted', { approvalId: second.id });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(Number(await h.store.getMeta('telegram.events.last_id')), before, 'not past the first event, still being handled');
    held.open();
    await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).find((m) => m.text?.includes(first.id)), "the first request's card");
    for (let i = 0; i < 100 && Number(await h.store.getMeta('telegram.events.last_id')) <= before + 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(Number(await h.store.getMeta('telegram.events.last_id')) >= before + 2, 'past both once both are finished');
  } finally {
    held.open(); // or closing Lares would wait for the held event
  }
});
