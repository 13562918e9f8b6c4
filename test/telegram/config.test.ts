// Telegram's settings, the home channel, `lares doctor`'s Telegram checks (--live: getMe against
// the fake Bot API) and `lares run` without any channel.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { configuredChannels, requireChannelConfig } from '../../src/app/channel-service.ts';
import type { Channel, ChannelName } from '../../src/channels/channel.ts';
import { HomeChannel, LAST_CHANNEL_KEY } from '../../src/channels/home-channel.ts';
import { loadConfig } from '../../src/config/config.ts';
import { LaresError } from '../../src/errors.ts';
import { checkTelegram } from '../../src/ops/doctor-telegram.ts';
import { startFakeTelegram } from '../fakes/telegram.ts';
import { runLares } from '../support/cli.ts';
import { LogCapture, MemoryMeta } from './helpers.ts';

const TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';

test('Telegram settings: read and checked, every bad one listed, the token never shown', () => {
  const config = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_OWNER_ID: '987654321', TELEGRAM_ALLOWED_CHAT_IDS: '-1001234567890, -42', TELEGRAM_API_URL: 'http://127.0.0.1:9/', LARES_HOME_CHANNEL: 'telegram' });
  assert.deepEqual(config.telegram, { botToken: TOKEN, ownerId: '987654321', allowedChatIds: ['-1001234567890', '-42'], apiUrl: 'http://127.0.0.1:9' });
  assert.equal(config.homeChannel, 'telegram');
  assert.deepEqual(configuredChannels(config).map((p) => p.name), ['telegram']);
  assert.throws(() => loadConfig({ TELEGRAM_BOT_TOKEN: 'secret-but-wrong', TELEGRAM_OWNER_ID: '@robin', TELEGRAM_ALLOWED_CHAT_IDS: 'family', TELEGRAM_API_URL: 'nope', LARES_HOME_CHANNEL: 'slack' }), (error: unknown) => {
    assert.ok(error instanceof LaresError);
    assert.equal(error.exitCode, 2);
    for (const key of ['TELEGRAM_BOT_TOKEN', 'TELEGRAM_OWNER_ID', 'TELEGRAM_ALLOWED_CHAT_IDS', 'TELEGRAM_API_URL', 'LARES_HOME_CHANNEL']) assert.match(error.message, new RegExp(`${key}=`));
    assert.doesNotMatch(error.message, /secret-but-wrong/);
    return true;
  });
});

test('lares run refuses to start without a channel, or with one half set, and says what to set', () => {
  assert.throws(() => requireChannelConfig(loadConfig({})), /needs a channel[\s\S]*TELEGRAM_BOT_TOKEN[\s\S]*TELEGRAM_OWNER_ID[\s\S]*DISCORD_BOT_TOKEN/);
  assert.throws(() => requireChannelConfig(loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN })), /TELEGRAM_OWNER_ID: your numeric Telegram user id/);
  assert.throws(() => requireChannelConfig(loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_OWNER_ID: '1', LARES_HOME_CHANNEL: 'discord' })), /LARES_HOME_CHANNEL=discord: that channel is not configured/);
  requireChannelConfig(loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_OWNER_ID: '1' }));
});

test('lares run with no channel exits 2 and names the variables', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-run-none-'));
  try {
    const result = await runLares(['run'], { cwd: dir, env: { LARES_ENV_FILE: join(dir, 'none.env'), ANTHROPIC_API_KEY: 'sk-ant-x', SQLITE_DB_PATH: join(dir, 'lares.db') } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /TELEGRAM_BOT_TOKEN/);
    assert.match(result.stderr, /DISCORD_BOT_TOKEN/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lares doctor: Telegram skipped when unset, a missing owner fails, --live asks getMe (and a refused token says so, without the token)', async (t) => {
  const fake = await startFakeTelegram();
  t.after(() => fake.close());
  const check = async (env: Record<string, string>, live = true) => checkTelegram(loadConfig(env), live, 2000);
  assert.equal((await check({}))[0].status, 'skip');
  const noOwner = await check({ TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_URL: fake.apiRoot }, false);
  assert.equal(noOwner.find((c) => c.id === 'telegram_owner')?.status, 'fail');
  assert.match(noOwner.find((c) => c.id === 'telegram_owner')!.fix!, /@userinfobot/);
  const live = await check({ TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_OWNER_ID: '42', TELEGRAM_API_URL: fake.apiRoot });
  assert.deepEqual(live.map((c) => [c.id, c.status]), [['telegram_token', 'ok'], ['telegram_owner', 'ok'], ['telegram_live', 'ok']]);
  assert.match(live[2].message, /@lares_test_bot/);
  const refused = await check({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_OWNER_ID: '42', TELEGRAM_API_URL: fake.apiRoot });
  const refusal = refused.find((c) => c.id === 'telegram_live')!;
  assert.equal(refusal.status, 'fail');
  assert.match(refusal.message, /refused TELEGRAM_BOT_TOKEN/);
  assert.ok(!JSON.stringify(refused).includes(TOKEN));
});

test('the home channel: the one the owner last used (kept across restarts), LARES_HOME_CHANNEL when set, another connected one when it is down', async () => {
  const posted: string[] = [];
  const channel = (name: ChannelName, connected = () => true): Channel => ({
    name, isConnected: connected, close: async () => undefined,
    post: async (text) => { posted.push(`${name}: ${text}`); return ['1']; },
  });
  const store = new MemoryMeta();
  const logs = new LogCapture();
  let telegramUp = true;
  const home = new HomeChannel({ store, logger: logs.logger });
  home.add(channel('discord'));
  home.add(channel('telegram', () => telegramUp));
  await home.load();
  await home.post('first');
  home.noteOwnerActivity('telegram');
  await home.post('second');
  telegramUp = false;
  await home.post('third');
  assert.deepEqual(posted, ['discord: first', 'telegram: second', 'discord: third']);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(await store.getMeta(LAST_CHANNEL_KEY), 'telegram');
  const again = new HomeChannel({ store, logger: logs.logger });
  telegramUp = true;
  again.add(channel('discord'));
  again.add(channel('telegram', () => telegramUp));
  await again.load();
  assert.equal(again.current()?.name, 'telegram', 'remembered across a restart');
  const pinned = new HomeChannel({ store, home: 'discord', logger: logs.logger });
  pinned.add(channel('discord'));
  pinned.add(channel('telegram'));
  await pinned.load();
  pinned.noteOwnerActivity('telegram');
  assert.equal(pinned.current()?.name, 'discord', 'LARES_HOME_CHANNEL wins');
});
