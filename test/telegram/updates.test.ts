// Taking updates from Telegram: the stored offset (per bot, trusted less than the server), the
// inbox (kept when Lares closes mid-update, written in order), against the fake Bot API.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryMeta, telegramHarness } from './helpers.ts';
import { freePort } from '../support/free-port.ts';

const OFFSET = (botId: number) => `telegram.${botId}.update_offset`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !predicate(); await sleep(2)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

/** A meta store whose writes take time, like a database over the network; `delay` picks each write's latency. */
class SlowMeta extends MemoryMeta {
  readonly writes: Array<{ key: string; value: string }> = [];
  readonly delay: (key: string, index: number) => number;
  constructor(delay: (key: string, index: number) => number) { super(); this.delay = delay; }
  override async setMeta(key: string, value: string): Promise<void> {
    const index = this.writes.filter((w) => w.key === key).length;
    this.writes.push({ key, value });
    await sleep(this.delay(key, index));
    await super.setMeta(key, value);
  }
}

test('a saved offset ahead of Telegram\'s ids (an older shared key, ids restarted) is reset with a warning, and messages are answered', async (t) => {
  const h = await telegramHarness(t);
  // an older Lares kept one offset for any bot; this one is far past the fake's ids
  await h.store.setMeta('telegram.update_offset', '900000000');
  await h.start();
  const first = h.fake.says(h.owner, 'are you there?');
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).some((m) => m.reply_to_message?.message_id === first.message_id), 'the reply');
  await h.logs.waitFor('telegram_offset_reset', { savedOffset: 900000000 });
  // then Telegram's ids restart lower (after a week without updates: nothing held)
  await h.fake.waitFor(() => h.fake.pendingUpdates() === 0, 'the update confirmed');
  h.fake.restartUpdateIds(5000);
  const second = h.fake.says(h.owner, 'and now?');
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).some((m) => m.reply_to_message?.message_id === second.message_id), 'the reply after the ids restarted');
  for (let i = 0; i < 100 && (await h.store.getMeta(OFFSET(h.fake.bot.id))) !== '5001'; i++) await sleep(20);
  assert.equal(await h.store.getMeta(OFFSET(h.fake.bot.id)), '5001', 'the offset follows the last id taken');
  assert.equal(h.agent.calls.length, 2, 'each message answered once: ' + JSON.stringify(h.agent.calls.map((c) => c.content)));
  assert.ok(h.fake.getUpdatesCalls < 50, `polling does not spin (${h.fake.getUpdatesCalls} calls)`);
});

test('the offset is kept per bot: another token\'s offset on the same database changes nothing', async (t) => {
  const h = await telegramHarness(t);
  // another bot wrote the shared key of an older Lares, and its own per-bot key; this bot has its own
  await h.store.setMeta('telegram.update_offset', '900000000');
  await h.store.setMeta(OFFSET(987654321), '900000000');
  await h.store.setMeta(OFFSET(h.fake.bot.id), '700000001');
  await h.start();
  h.fake.says(h.owner, 'hello');
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 1, 'the reply');
  assert.equal(h.logs.has('telegram_offset_reset'), false, 'nothing to reset: this bot had no offset');
  assert.equal(await h.store.getMeta(OFFSET(987654321)), '900000000', "the other bot's offset is left alone");
});

test('webhook: an update is never dropped for being below a saved offset', async (t) => {
  const h = await telegramHarness(t);
  await h.store.setMeta('telegram.update_offset', '900000000');
  await h.store.setMeta(OFFSET(h.fake.bot.id), '900000000');
  const port = await freePort();
  await h.start({ webhook: { url: `http://127.0.0.1:${port}/telegram-hook`, secret: 'b'.repeat(24), port } });
  h.fake.says(h.owner, 'by webhook');
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 1, 'the reply');
  assert.equal(h.agent.calls.length, 1);
});

test('closing while an update is being stored leaves it in the inbox; the next start answers it once', async (t) => {
  const h = await telegramHarness(t);
  const store = new SlowMeta(() => 150);
  const first = await h.start({ store });
  h.fake.says(h.owner, 'written as Lares stops');
  // the inbox write has begun (it takes 150 ms): Lares is told to stop now
  await until(() => store.writes.some((w) => w.key === 'telegram.inbox'), 'the inbox write started');
  await first.close();
  await sleep(500); // anything still on its way lands
  const inbox = JSON.parse((await store.getMeta('telegram.inbox')) ?? '[]') as Array<{ message?: { text?: string } }>;
  assert.deepEqual(inbox.map((u) => u.message?.text), ['written as Lares stops'], 'kept for the next start');
  assert.equal(h.agent.calls.length, 0);
  await h.start({ store });
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 1, 'answered after the restart');
  await sleep(300);
  assert.equal(h.agent.calls.length, 1, 'answered once');
});

test('inbox writes land in order even when an older one is slow (a database pool): nothing answered stays in the inbox', async (t) => {
  const h = await telegramHarness(t);
  // the third inbox write is slow: without ordering, it would land after the fourth
  const store = new SlowMeta((key, index) => (key === 'telegram.inbox' && index === 2 ? 300 : 5));
  await h.start({ store });
  h.fake.says(h.owner, 'one');
  h.fake.says(h.owner, 'two');
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 2, 'both replies');
  await sleep(600);
  assert.ok(store.writes.filter((w) => w.key === 'telegram.inbox').length >= 4);
  assert.equal(await store.getMeta('telegram.inbox'), '[]', 'both answered, the inbox is empty');
});
