// The Discord channel against the fake Discord, driven by the real discord.js client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitMessage } from '../../src/channels/discord/split-message.ts';
import { startFakeDiscord } from '../fakes/discord.ts';
import { ScriptedAgent, cleanup, gate, startLares } from './helpers.ts';

async function setup(t: import('node:test').TestContext, agent = new ScriptedAgent(), extra: { allowed?: string[] } = {}) {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const owner = fake.user('robin');
  const h = await startLares({ fake, owner, agent, allowed: extra.allowed });
  defer(() => h.channel.close());
  return h;
}

test('a message from the owner gets a reply, threaded to it, with the typing indicator', async (t) => {
  const { fake, owner, agent } = await setup(t, new ScriptedAgent(() => 'Hello Robin! 🌿'));
  const said = fake.userSays(fake.channelId, owner, 'hello lares');
  const reply = await fake.waitFor(() => fake.botMessages()[0], { what: 'a reply' });

  assert.equal(reply.content, 'Hello Robin! 🌿');
  assert.equal(reply.message_reference?.message_id, said.id, 'the reply is threaded to the message');
  assert.deepEqual((reply.sentBody?.allowed_mentions as { parse: string[] }).parse, [], 'the model cannot ping @everyone or roles');
  assert.ok(fake.typingCount >= 1, 'typing was shown while the agent worked');

  assert.equal(agent.calls.length, 1);
  const input = agent.calls[0];
  assert.equal(input.source, 'discord');
  assert.equal(input.content, `[robin at ${said.timestamp}] hello lares`);
  assert.equal(input.replyToMessageId, said.id);
  assert.equal(input.sourceRef, `discord:${said.id}`);
  assert.equal(fake.unhandled.length, 0, `fake got requests it does not implement: ${fake.unhandled.join(', ')}`);
});

test('a 5,000-character reply arrives in parts under 2,000 characters, code blocks intact, nothing dropped', async (t) => {
  const code = Array.from({ length: 70 }, (_, i) => `    result_${i} = transform(data[${i}])  # step ${i}`).join('\n');
  const prose = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} explains one more detail of the plan.`).join(' ');
  const long = `${prose}\n\n\`\`\`python\ndef run(data):\n${code}\n    return data\n\`\`\`\n\n${prose}`;
  assert.ok(long.length >= 5000);
  const { fake, owner } = await setup(t, new ScriptedAgent(() => long));
  const said = fake.userSays(fake.channelId, owner, 'show me the plan');
  const expected = splitMessage(long);
  const parts = await fake.waitFor(() => fake.botMessages().length === expected.length && fake.botMessages(), { what: `${expected.length} parts` });

  assert.ok(parts.length >= 3);
  assert.deepEqual(parts.map((p) => p.content), expected, 'the parts arrive in order');
  for (const part of parts) {
    assert.ok(part.content.length <= 2000);
    assert.equal((part.content.match(/```/g) ?? []).length % 2, 0, 'each part renders its code block closed');
    assert.equal(part.message_reference?.message_id, said.id, 'each part is threaded to the message');
  }
  const strip = (s: string) => s.replace(/```\w*/g, '').replace(/\s+/g, '');
  assert.equal(strip(parts.map((p) => p.content).join('\n')), strip(long), 'nothing the model said is dropped');
  for (const part of parts.filter((p) => p.content.includes('result_'))) assert.match(part.content, /^```python\n|\n```python\n/);
});

test('a stranger and another bot are ignored (with a log line); allowed users and the owner are answered', async (t) => {
  const friend = { id: '', username: 'sam' };
  const agent = new ScriptedAgent((input) => `ok ${input.metadata?.author}`);
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const owner = fake.user('robin');
  Object.assign(friend, fake.user('sam'));
  const h = await startLares({ fake, owner, agent, allowed: [friend.id] });
  defer(() => h.channel.close());

  const stranger = fake.user('mallory');
  const otherBot = { ...fake.user('spambot'), bot: true };
  fake.userSays(fake.channelId, stranger, 'lares, run rm -rf for me');
  fake.userSays(fake.channelId, otherBot, 'beep');
  fake.userSays(fake.channelId, friend, 'hi from sam');
  fake.userSays(fake.channelId, owner, 'hi from robin');
  await fake.waitFor(() => fake.botMessages().length === 2, { what: 'two replies' });

  assert.deepEqual(agent.calls.map((c) => c.metadata?.author), ['sam', 'robin'], 'only the allowed user and the owner reached the agent, in order');
  assert.deepEqual(fake.botMessages().map((m) => m.content), ['ok sam', 'ok robin']);
  assert.ok(h.logs.has('discord_ignored', { reason: 'author not allowed', authorId: stranger.id }), 'the stranger is logged');
  assert.ok(h.logs.has('discord_ignored', { reason: 'bot', authorId: otherBot.id }), 'the bot is logged');
});

test('direct messages: the owner is answered in the DM, anyone else is ignored', async (t) => {
  const { fake, owner, agent, logs } = await setup(t, new ScriptedAgent(() => 'private hello'));
  const stranger = fake.user('mallory');
  const strangerDm = fake.dmChannel(stranger);
  fake.userSays(strangerDm, stranger, 'psst');
  await logs.waitFor('discord_ignored', { authorId: stranger.id });
  const ownerDm = fake.dmChannel(owner);
  const said = fake.userSays(ownerDm, owner, 'just between us');
  const reply = await fake.waitFor(() => fake.botMessages(ownerDm)[0], { what: 'a DM reply' });
  assert.equal(reply.message_reference?.message_id, said.id);
  assert.equal(agent.calls.length, 1);
  assert.match(String(agent.calls[0].content), /^\[robin at .+ \(direct message\)\] just between us$/);
  assert.equal(fake.botMessages(strangerDm).length, 0);
});

test('image attachments become image content and small text files become text', async (t) => {
  const { fake, owner, agent } = await setup(t, new ScriptedAgent(() => 'nice picture'));
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a2dd7e0e0000000049454e44ae426082', 'hex');
  fake.userSays(fake.channelId, owner, 'look', {
    attachments: [
      { filename: 'dot.png', contentType: 'image/png', data: png },
      { filename: 'notes.txt', contentType: 'text/plain; charset=utf-8', data: 'buy milk\ncall mum' },
      { filename: 'song.mp3', contentType: 'audio/mpeg', data: Buffer.alloc(10) },
    ],
  });
  await fake.waitFor(() => fake.botMessages()[0], { what: 'a reply' });
  const blocks = agent.calls[0].content;
  assert.ok(Array.isArray(blocks));
  assert.equal(blocks.length, 4);
  assert.match((blocks[0] as { text: string }).text, /^\[robin at .+\] look$/);
  assert.deepEqual(blocks[1], { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png.toString('base64') } });
  assert.deepEqual(blocks[2], { type: 'text', text: '[attachment notes.txt]\nbuy milk\ncall mum' });
  assert.match((blocks[3] as { text: string }).text, /^\[attachment song\.mp3 \(audio\/mpeg, 10 bytes\): not shown/);
});

test('messages that arrive during a turn are queued and answered in order, one turn at a time', async (t) => {
  const first = gate();
  const agent = new ScriptedAgent(async (input, index) => {
    if (index === 0) await first.promise;
    return `answer ${index}`;
  });
  const { fake, owner } = await setup(t, agent);
  const m0 = fake.userSays(fake.channelId, owner, 'one');
  await agent.waitFor(() => agent.timeline.includes('start discord'), 'the first turn to start');
  const m1 = fake.userSays(fake.channelId, owner, 'two');
  const m2 = fake.userSays(fake.channelId, owner, 'three');
  await agent.waitFor(() => agent.calls.length === 3, 'all three messages handed to the agent');
  first.open();
  const replies = await fake.waitFor(() => fake.botMessages().length === 3 && fake.botMessages(), { what: 'three replies' });
  assert.deepEqual(replies.map((r) => [r.content, r.message_reference?.message_id]), [['answer 0', m0.id], ['answer 1', m1.id], ['answer 2', m2.id]]);
  assert.equal(agent.maxConcurrent, 1);
});

test('discord_react and discord_send_message act only on messages Lares has seen', async (t) => {
  const outcomes: unknown[] = [];
  const fakeRef: { id?: string } = {};
  const agent = new ScriptedAgent(async (input) => {
    const tools = h.channel.tools;
    const context = { conversationId: 'default', replyToMessageId: input.replyToMessageId };
    outcomes.push(await tools.callTool('discord_react', { emoji: '👍' }, context));
    outcomes.push(await tools.callTool('discord_react', { emoji: '👍', message_id: '123456789012345678' }, context));
    outcomes.push(await tools.callTool('discord_react', { emoji: 'thumbs' }, context));
    outcomes.push(await tools.callTool('discord_send_message', { content: 'a side note', reply_to: fakeRef.id }, context));
    outcomes.push(await tools.callTool('discord_send_message', { content: 'x', reply_to: '999999999999999999' }, context));
    return 'done';
  });
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const owner = fake.user('robin');
  const h = await startLares({ fake, owner, agent });
  defer(() => h.channel.close());
  const said = fake.userSays(fake.channelId, owner, 'react to this');
  fakeRef.id = said.id;
  await fake.waitFor(() => fake.botMessages().length === 2 && fake.botMessages(), { what: 'side note and reply' });

  assert.deepEqual([...fake.message(said.id).reactionsBy.get('👍') ?? []], [fake.bot.id], 'reacted to the message being answered');
  const [react, reactUnknown, badEmoji, send, sendUnknown] = outcomes as Array<{ isError: boolean; content: string }>;
  assert.equal(react.isError, false);
  assert.equal(reactUnknown.isError, true);
  assert.match(reactUnknown.content, /not a Discord message you have seen/);
  assert.equal(badEmoji.isError, true, 'Discord refuses an unknown emoji and the tool says so');
  assert.equal(send.isError, false);
  assert.equal(sendUnknown.isError, true);
  assert.deepEqual(fake.botMessages().map((m) => [m.content, m.message_reference?.message_id]), [['a side note', said.id], ['done', said.id]]);
});
