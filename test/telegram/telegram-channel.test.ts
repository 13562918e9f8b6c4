// The Telegram channel of `lares run`, driven by grammY against the fake Bot API.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContentBlock } from '../../src/llm/content.ts';
import { gate, MemoryMeta, telegramHarness } from './helpers.ts';

test("the owner's message becomes a telegram turn, answered as a reply with typing; strangers, bots and other groups are ignored", async (t) => {
  const h = await telegramHarness(t);
  await h.start();
  const stranger = h.fake.user('Mallory');
  const bot = h.fake.user('OtherBot', { bot: true });
  const group = h.fake.group('Family');
  h.fake.says(stranger, 'hello?');
  h.fake.says(bot, 'beep');
  h.fake.says(h.owner, 'in the group', { chat: group });
  const mine = h.fake.says(h.owner, 'Hi Lares, I planted basil today.');
  const reply = await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).find((m) => m.reply_to_message?.message_id === mine.message_id), 'the reply');
  assert.equal(reply.text, 'echo: [Robin at ' + new Date(mine.date * 1000).toISOString() + ' on Telegram] Hi Lares, I planted basil today.');
  assert.equal(h.agent.calls.length, 1, 'only the owner is answered');
  const call = h.agent.calls[0];
  assert.equal(call.source, 'telegram');
  assert.equal(call.sourceRef, `telegram:${h.owner.id}:${mine.message_id}`);
  assert.equal(call.metadata?.channel, 'telegram');
  assert.ok(h.fake.chatActions.some((a) => a.chat_id === String(h.owner.id) && a.action === 'typing'), 'typing shown');
  await h.logs.waitFor('telegram_ignored', { reason: 'not the owner' });
  await h.logs.waitFor('telegram_ignored', { reason: 'bot' });
  await h.logs.waitFor('telegram_ignored', { reason: 'group not allowed' });
  assert.equal(h.fake.botMessages(stranger.id).length, 0);
  assert.equal(h.fake.botMessages(group.id).length, 0);
});

test('an allowed group answers the owner there, and only the owner', async (t) => {
  const h = await telegramHarness(t);
  const group = h.fake.group('Family');
  await h.start({ allowedChatIds: [String(group.id)] });
  h.fake.says(h.fake.user('Alex'), 'me too', { chat: group });
  h.fake.says(h.owner, 'hello group', { chat: group });
  await h.fake.waitFor(() => h.fake.botMessages(group.id).length === 1, 'a reply in the group');
  assert.equal(h.agent.calls.length, 1);
  assert.match(String(h.agent.calls[0].content), /\(in Family\)/);
});

test('a long reply is split under 4,096 characters without breaking its code block; Markdown becomes safe HTML', async (t) => {
  const code = Array.from({ length: 150 }, (_, i) => `const line${i} = ${i} < 10 && "a" > "b";`).join('\n');
  const long = `**Here** is <your> code & more:\n\`\`\`ts\n${code}\n\`\`\`\n${'word '.repeat(700)}done`;
  const h = await telegramHarness(t);
  h.agent.script = () => long;
  await h.start();
  h.fake.says(h.owner, 'write me code');
  const parts = await h.fake.waitFor(() => { const m = h.fake.botMessages(h.owner.id); return m.length >= 3 && m.some((x) => x.text?.endsWith('done')) && m; }, 'all parts');
  for (const part of parts) {
    assert.ok(part.text!.length <= 4096, `${part.text!.length} characters`);
    assert.equal(part.sent?.parse_mode, 'HTML');
  }
  assert.equal(parts[0].text!.startsWith('Here is <your> code & more:'), true, 'HTML-escaped and shown as written');
  assert.match(parts[0].sent!.raw, /^<b>Here<\/b> is &lt;your&gt; code &amp; more:\n<pre><code class="language-ts">/);
  const words = parts.map((p) => p.text).join('\n');
  assert.equal((words.match(/word/g) ?? []).length, 700, 'no word lost or cut');
  assert.equal((words.match(/const line/g) ?? []).length, 150, 'no code line lost');
  assert.deepEqual(h.fake.rejected, []);
});

test('when Telegram refuses the formatting, the same text goes out plain: nothing is lost', async (t) => {
  const h = await telegramHarness(t);
  h.agent.script = () => 'A **bold** claim with `code`.';
  await h.start();
  h.fake.refuseFormatting = 1;
  h.fake.says(h.owner, 'say it');
  const reply = await h.fake.waitFor(() => h.fake.botMessages(h.owner.id)[0], 'the reply');
  assert.equal(reply.text, 'A **bold** claim with `code`.');
  assert.equal(reply.sent?.parse_mode, undefined);
  assert.match(h.fake.rejected[0], /can't parse entities/);
  await h.logs.waitFor('telegram_format_fallback');
});

test('a photo reaches the agent as image content, and a small text file as text', async (t) => {
  const h = await telegramHarness(t);
  await h.start();
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]);
  h.fake.sendsPhoto(h.owner, jpeg, 'my basil');
  h.fake.sendsDocument(h.owner, 'notes.md', 'text/markdown', '# Garden\nbasil, tomatoes');
  await h.agent.waitFor(() => h.agent.calls.length === 2, 'two turns');
  const photo = h.agent.calls[0].content as ContentBlock[];
  assert.match((photo[0] as { text: string }).text, /my basil$/);
  assert.deepEqual(photo[1], { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: jpeg.toString('base64') } });
  const doc = h.agent.calls[1].content as ContentBlock[];
  assert.deepEqual(doc[1], { type: 'text', text: '[attachment notes.md]\n# Garden\nbasil, tomatoes' });
  assert.ok(!h.logs.lines.some((l) => JSON.stringify(l).includes(h.fake.token)), 'the token (part of the file URL) is never logged');
});

test('/start, /memory, /approvals and /context are answered by Lares itself, not as turns', async (t) => {
  const h = await telegramHarness(t);
  await h.start();
  h.fake.says(h.owner, '/start');
  h.fake.says(h.owner, '/memory human');
  h.fake.says(h.owner, '/approvals@lares_test_bot');
  h.fake.says(h.owner, '/context');
  const replies = await h.fake.waitFor(() => { const m = h.fake.botMessages(h.owner.id); return m.length === 4 && m; }, 'four answers');
  assert.match(replies[0].text!, /this is Lares/);
  assert.match(replies[1].text!, /── human \(5\/5000\)\nRobin/);
  assert.match(replies[2].text!, /No pending approvals/);
  assert.equal(replies[3].text, 'Context: 1234 tokens');
  assert.equal(h.agent.calls.length, 0);
});

test('restart: messages sent while Lares was down are answered once; nothing answered before is repeated', async (t) => {
  const h = await telegramHarness(t);
  const first = await h.start();
  h.fake.says(h.owner, 'one');
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 1, 'the first reply');
  await first.close();
  h.fake.says(h.owner, 'two (while down)');
  h.fake.says(h.owner, 'three (while down)');
  await h.start();
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 3, 'both missed messages answered');
  assert.deepEqual(h.agent.calls.map((c) => String(c.content).replace(/^\[[^\]]+\] /, '')), ['one', 'two (while down)', 'three (while down)']);
  assert.ok(Number(await h.store.getMeta(`telegram.${h.fake.bot.id}.update_offset`)) > 0, 'the offset is stored, per bot');
  assert.equal(await h.store.getMeta('telegram.update_offset'), undefined, 'not under the old shared key');
  for (let i = 0; i < 100 && (await h.store.getMeta('telegram.inbox')) !== '[]'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await h.store.getMeta('telegram.inbox'), '[]', 'nothing left unanswered');
});

test('an update taken but not answered when Lares stopped is answered after the restart (the inbox)', async (t) => {
  const h = await telegramHarness(t);
  const held = gate();
  h.agent.script = async (input) => { if (String(input.content).includes('slow')) await held.promise; return 'done'; };
  const first = await h.start({ closeGraceMs: 50 });
  h.fake.says(h.owner, 'slow one');
  await h.agent.waitFor(() => h.agent.calls.length === 1, 'the turn started');
  // the next getUpdates confirmed the update: Telegram has forgotten it
  await h.fake.waitFor(() => h.fake.pendingUpdates() === 0, 'the update confirmed');
  await first.close(); // the turn is still running: as if Lares died here
  // what the database holds at the moment of the "crash"
  const crashed = new MemoryMeta();
  for (const [k, v] of h.store.values) crashed.values.set(k, v);
  assert.equal(JSON.parse((await crashed.getMeta('telegram.inbox'))!).length, 1, 'the message is kept');
  h.agent.script = () => 'answered after restart';
  held.open();
  await h.agent.waitFor(() => h.agent.timeline.includes('end telegram'), 'the first turn ended');
  const before = h.agent.calls.length;
  await h.start({ store: crashed });
  await h.agent.waitFor(() => h.agent.calls.length === before + 1, 'the replayed message handed to the agent');
  assert.equal(h.agent.calls.at(-1)!.sourceRef, h.agent.calls[0].sourceRef, 'the same message (the agent drops it if it was stored already)');
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).some((m) => m.text === 'answered after restart'), 'the replayed message answered');
});

test('a 429 from Telegram is waited out (retry_after) and the reply still arrives', async (t) => {
  const h = await telegramHarness(t);
  await h.start();
  h.fake.rateLimit('sendMessage', 1);
  const started = Date.now();
  h.fake.says(h.owner, 'hello');
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 1, 'the reply');
  assert.ok(Date.now() - started >= 900, 'waited about retry_after seconds');
  await h.logs.waitFor('telegram_rate_limited', { method: 'sendMessage', retryAfterS: 1 });
});

test('a wrong token stops the start with a clear error that does not contain the token', async (t) => {
  const h = await telegramHarness(t);
  const { startTelegramChannel } = await import('../../src/channels/telegram/telegram-channel.ts');
  const token = '999999:AAwrong-token-wrong-token-wrong';
  await assert.rejects(startTelegramChannel({
    config: { telegram: { botToken: token, ownerId: String(h.owner.id), allowedChatIds: [], apiUrl: h.fake.apiRoot }, perchIntervalMinutes: 0 },
    agent: h.agent, store: h.store, logger: h.logs.logger,
  }), (error: Error) => /refused TELEGRAM_BOT_TOKEN/.test(error.message) && !error.message.includes(token));
});

test('in an allowed group, commands are refused: memory is shown in the private chat only', async (t) => {
  const h = await telegramHarness(t);
  const group = h.fake.group('Family');
  await h.start({ allowedChatIds: [String(group.id)] });
  h.fake.says(h.owner, '/memory', { chat: group });
  const reply = await h.fake.waitFor(() => h.fake.botMessages(group.id)[0], 'the answer');
  assert.equal(reply.text, 'Commands work in our private chat only.');
  assert.ok(h.fake.calls.includes('setMyCommands'), 'the command menu is set');
});

test('only a known command at the start is a command: "/tmp is full again" and "/deploy" reach the agent', async (t) => {
  const h = await telegramHarness(t);
  await h.start();
  h.fake.says(h.owner, '/tmp is full again');
  h.fake.says(h.owner, '/deploy now please');
  h.fake.says(h.owner, 'see /memory later');
  h.fake.says(h.owner, '/help');
  await h.fake.waitFor(() => h.fake.botMessages(h.owner.id).length === 4, 'four answers');
  assert.deepEqual(h.agent.calls.map((c) => String(c.content).replace(/^\[[^\]]+\] /, '')), ['/tmp is full again', '/deploy now please', 'see /memory later']);
  assert.ok(!h.fake.botMessages(h.owner.id).some((m) => /Unknown command/.test(m.text ?? '')));
  assert.ok(h.fake.botMessages(h.owner.id).some((m) => /this is Lares/.test(m.text ?? '')), '/help is still answered by Lares');
});

test('a forwarded message is marked as forwarded for the agent', async (t) => {
  const h = await telegramHarness(t);
  await h.start();
  const alex = h.fake.user('Alex');
  h.fake.forwards(h.owner, alex, 'dinner at 8?');
  h.fake.forwards(h.owner, 'Sam Hidden', 'the wifi password is on the fridge');
  await h.agent.waitFor(() => h.agent.calls.length === 2, 'two turns');
  assert.match(String(h.agent.calls[0].content), /^\[Robin at [^\]]+ on Telegram, forwarded from Alex\] dinner at 8\?$/);
  assert.match(String(h.agent.calls[1].content), /forwarded from Sam Hidden\] the wifi password/);
});

test('voice notes, stickers and locations get one reply saying Lares cannot read them yet', async (t) => {
  const h = await telegramHarness(t);
  await h.start();
  const voice = h.fake.sendsUnreadable(h.owner, 'voice');
  const sticker = h.fake.sendsUnreadable(h.owner, 'sticker');
  const location = h.fake.sendsUnreadable(h.owner, 'location');
  const replies = await h.fake.waitFor(() => { const m = h.fake.botMessages(h.owner.id); return m.length === 3 && m; }, 'three replies');
  assert.equal(replies[0].reply_to_message?.message_id, voice.message_id);
  assert.match(replies[0].text!, /cannot read voice notes yet/);
  assert.equal(replies[1].reply_to_message?.message_id, sticker.message_id);
  assert.match(replies[1].text!, /cannot read stickers yet/);
  assert.equal(replies[2].reply_to_message?.message_id, location.message_id);
  assert.match(replies[2].text!, /cannot read locations yet/);
  assert.equal(h.agent.calls.length, 0);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(h.fake.botMessages(h.owner.id).length, 3, 'once each');
});
