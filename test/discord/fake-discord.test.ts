// The fake Discord itself, driven by discord.js: heartbeats, intents, auth and paging behave
// like Discord's, so the channel tests can trust it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, Events, GatewayIntentBits, type Message, type TextChannel } from 'discord.js';
import { startFakeDiscord } from '../fakes/discord.ts';
import { cleanup } from './helpers.ts';

test('heartbeats are acknowledged and the connection stays up', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord({ heartbeatIntervalMs: 30 });
  defer(() => fake.close());
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl } });
  defer(() => client.destroy());
  await client.login(fake.token);
  await fake.waitFor(() => fake.heartbeats >= 3, { what: 'three heartbeats' });
  assert.equal(client.isReady(), true, 'acknowledged heartbeats keep the session (no zombie reconnect)');
  assert.equal(fake.identifies, 1);
});

test('without the Message Content intent, guild messages arrive without content, as on Discord', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const client = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages], rest: { api: fake.apiUrl } });
  defer(() => client.destroy());
  await client.login(fake.token);
  const received = new Promise<Message>((resolve) => client.once(Events.MessageCreate, resolve));
  fake.userSays(fake.channelId, fake.user('robin'), 'secret words');
  assert.equal((await received).content, '');
});

test('REST: a wrong token is refused with 401; messages page with after/limit, newest first; limit over 100 is refused', async (t) => {
  const defer = cleanup(t);
  const fake = await startFakeDiscord();
  defer(() => fake.close());
  const unauthorized = await fetch(`${fake.apiUrl}/v10/users/@me`, { headers: { authorization: 'Bot nope' } });
  assert.equal(unauthorized.status, 401);
  assert.deepEqual(await unauthorized.json(), { message: '401: Unauthorized', code: 0 });

  const robin = fake.user('robin');
  const sent = ['a', 'b', 'c', 'd'].map((text) => fake.userSays(fake.channelId, robin, text));
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl } });
  defer(() => client.destroy());
  await client.login(fake.token);
  const channel = await client.channels.fetch(fake.channelId) as TextChannel;
  const page = await channel.messages.fetch({ after: sent[0].id, limit: 2 });
  assert.deepEqual([...page.values()].map((m) => m.content), ['c', 'b'], 'the 2 oldest after the cursor, newest first');
  const bad = await fetch(`${fake.apiUrl}/v10/channels/${fake.channelId}/messages?limit=101`, { headers: { authorization: `Bot ${fake.token}` } });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json() as { code: number }).code, 50035);
  assert.equal((await fetch(`${fake.apiUrl}/v10/channels/123456789012345678`, { headers: { authorization: `Bot ${fake.token}` } })).status, 404);
});
