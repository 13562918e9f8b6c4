// Telegram by webhook (TELEGRAM_WEBHOOK_URL): the fake Bot API POSTs updates to Lares, which
// listens on 127.0.0.1, takes only requests with the secret, and answers 200 once an update is stored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { telegramHarness } from './helpers.ts';
import { freePort } from '../support/free-port.ts';

test('webhook: updates arrive by POST with the secret (no polling), a request without it is refused, and what came while Lares was down is delivered again and answered once', async (t) => {
  const h = await telegramHarness(t);
  const port = await freePort();
  const webhook = { url: `http://127.0.0.1:${port}/telegram-hook`, secret: 'a'.repeat(16) + 'secret-0123456789', port };
  const first = await h.start({ webhook });
  h.fake.says(h.owner, 'hello by webhook');
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 1, 'the reply');
  assert.equal(h.fake.getUpdatesCalls, 0, 'no polling');
  assert.ok(h.fake.calls.includes('setWebhook'));

  const forged = await fetch(webhook.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'wrong' }, body: JSON.stringify({ update_id: 1, message: { message_id: 99, date: 0, chat: { id: h.owner.id, type: 'private' }, from: h.owner, text: 'forged' } }) });
  assert.equal(forged.status, 401);
  await h.logs.waitFor('telegram_webhook_refused');
  assert.equal((await fetch(`http://127.0.0.1:${port}/elsewhere`, { method: 'POST' })).status, 404);

  await first.close();
  h.fake.says(h.owner, 'written while down');
  await h.fake.waitFor(() => h.fake.webhookFailures > 0, 'a failed delivery while Lares is down');
  await h.start({ webhook });
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 2, 'the missed message answered');
  await h.fake.waitFor(() => h.fake.pendingUpdates() === 0, 'Telegram has nothing left to deliver');
  assert.deepEqual(h.agent.calls.map((c) => String(c.content).replace(/^\[[^\]]+\] /, '')), ['hello by webhook', 'written while down']);
});
