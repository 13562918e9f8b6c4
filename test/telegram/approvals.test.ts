// Approval cards on Telegram: an inline keyboard (Approve / Deny / Always allow), decided by the
// owner's press only, exactly once, against the real approval queue.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ScriptedAgent, telegramHarness } from './helpers.ts';

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
  const record = approvals.queue.enqueue('run_shell_command', { command: 'ls -la /srv', working_dir: '/home/robin' }, 'not on the allowlist');
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
  assert.equal(approvals.queue.get(record.id).status, 'pending');

  const mine = fake.press(owner, cardMessage, `lares:approve:${record.id}`);
  await fake.waitFor(() => fake.callbackAnswers.find((a) => a.callback_query_id === mine), 'the answer to the owner');
  await fake.waitFor(() => !cardMessage.reply_markup && cardMessage.text?.includes('Approved — it ran.'), 'the card edited, without its keyboard');
  assert.equal(approvals.queue.get(record.id).status, 'executed');
  assert.equal(approvals.executed.length, 1);
  await fake.waitFor(() => fake.botMessages(owner.id).some((m) => m.reply_to_message?.message_id === cardMessage.message_id && /total 0/.test(m.text ?? '')), 'the outcome, as a reply to the card');
  await agent.waitFor(() => agent.calls.find((c) => c.source === 'approval'), 'the outcome turn');
  await fake.waitFor(() => fake.botMessages(owner.id).some((m) => m.text === 'Noted the outcome.'), "Lares's answer to the outcome");
  assert.ok(await store.getMeta(`telegram.approval.${record.id}`), 'the card is remembered across restarts');
});

test('a press after a decision elsewhere, or after expiry, says so and changes nothing', async (t) => {
  const { fake, owner, approvals } = await setup(t);
  const record = approvals.queue.enqueue('write_file', { path: '/etc/hosts', content: 'x' }, 'writes outside the vault');
  const cardMessage = await fake.waitFor(() => fake.botMessages(owner.id).find((m) => m.reply_markup && m.text?.includes(record.id)), 'the card');
  assert.deepEqual(cardMessage.reply_markup!.inline_keyboard[0].map((b) => b.text), ['Approve', 'Deny']);
  approvals.queue.deny(record.id, 'decided in the terminal');
  const late = fake.press(owner, cardMessage, `lares:approve:${record.id}`);
  const answer = await fake.waitFor(() => fake.callbackAnswers.find((a) => a.callback_query_id === late), 'the answer');
  assert.match(String(answer.text), /Already decided \(denied\)/);
  assert.equal(answer.show_alert, true);
  assert.equal(approvals.executed.length, 0);
  await fake.waitFor(() => cardMessage.text?.includes('Denied — it did not run.') && !cardMessage.reply_markup, 'the card shows the denial');

  const expiring = approvals.queue.enqueue('write_file', { path: '/etc/motd', content: 'y' }, 'writes outside the vault');
  const second = await fake.waitFor(() => fake.botMessages(owner.id).find((m) => m.reply_markup && m.text?.includes(expiring.id)), 'the second card');
  approvals.db.prepare('UPDATE approval_requests SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), expiring.id);
  const tooLate = fake.press(owner, second, `lares:deny:${expiring.id}`);
  const expired = await fake.waitFor(() => fake.callbackAnswers.find((a) => a.callback_query_id === tooLate), 'the answer after expiry');
  assert.match(String(expired.text), /expired/);
  assert.equal(approvals.queue.get(expiring.id).status, 'expired');
});
