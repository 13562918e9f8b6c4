// `lares run` with both channels on, as a user runs it: the real CLI process, grammY against the
// fake Bot API, discord.js against the fake Discord, the real SDK against the fake Anthropic API,
// the built-in tools and approval queue. One person, one memory, on both messengers.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { startFakeAnthropic } from '../fakes/anthropic.ts';
import { startFakeDiscord } from '../fakes/discord.ts';
import { startFakeTelegram } from '../fakes/telegram.ts';
import { LARES_BIN, NODE } from '../support/cli.ts';

const lastText = (request: { body: any }) => JSON.stringify(request.body.messages.at(-1).content);

test('lares run with Telegram and Discord: one memory across both, strangers ignored on both, an approval decided by one button exactly once, restart catch-up on both', async (t) => {
  const anthropic = await startFakeAnthropic();
  const discord = await startFakeDiscord();
  const telegram = await startFakeTelegram();
  const dir = mkdtempSync(join(tmpdir(), 'lares-run-both-'));
  t.after(async () => { await anthropic.close(); await discord.close(); await telegram.close(); rmSync(dir, { recursive: true, force: true }); });
  const dOwner = discord.user('robin');
  const dStranger = discord.user('mallory');
  const tOwner = telegram.user('Robin');
  const tStranger = telegram.user('Mallory');
  const marker = join(dir, 'created-by-approval');

  anthropic.setResponder((request) => {
    const last = lastText(request);
    const all = JSON.stringify(request.body.messages);
    if (last.includes('[perch time')) return { text: '(silent)' };
    if (last.includes('[approval result]')) return { text: 'Approved, and the file now exists.' };
    if (last.includes('make the file')) return { text: 'I will ask first.', toolUses: [{ name: 'run_shell_command', input: { command: `touch ${marker} && echo done` } }] };
    if (last.includes('tool_result')) return { text: 'It is waiting for your approval.' };
    if (last.includes('what is my cat called')) return { text: all.includes('My cat is called Miso') ? 'Your cat is Miso.' : 'I do not know.' };
    if (last.includes('while down on Telegram')) return { text: 'Caught up on Telegram.' };
    if (last.includes('while down on Discord')) return { text: 'Caught up on Discord.' };
    return { text: 'Noted.' };
  });

  let stderr = '';
  const start = () => {
    const child = spawn(NODE, [LARES_BIN, 'run'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '', HOME: dir, LARES_ENV_FILE: join(dir, 'none.env'), LOG_LEVEL: 'info', LOG_FORMAT: 'json',
        ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6',
        SQLITE_DB_PATH: join(dir, 'data', 'lares.db'), USE_DIRECT_LLM: 'true', LARES_EMBEDDER: 'none',
        DISCORD_BOT_TOKEN: discord.token, DISCORD_CHANNEL_ID: discord.channelId, DISCORD_OWNER_ID: dOwner.id, DISCORD_API_URL: discord.apiUrl,
        TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_OWNER_ID: String(tOwner.id), TELEGRAM_API_URL: telegram.apiRoot,
        LARES_HTTP_PORT: '0', LARES_PERCH_INTERVAL_MINUTES: '0', LARES_ALLOWED_PATHS: dir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (d) => { stderr += d; });
    t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    return child;
  };
  const started = async (child: ChildProcess, count: number) => {
    while ((stderr.match(/"event":"started"/g) ?? []).length < count) {
      if (child.exitCode !== null) assert.fail(`lares run exited early: ${stderr.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async (child: ChildProcess) => {
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr.slice(-3000));
  };
  t.after(() => { if (process.env.DEBUG_RUN) process.stderr.write(stderr); });

  let child = start();
  await started(child, 1);

  // the owner writes on Telegram, then on Discord: the same conversation
  telegram.says(tStranger, 'hello from a stranger');
  const first = telegram.says(tOwner, 'My cat is called Miso.');
  await telegram.waitFor(() => telegram.botMessages(tOwner.id).find((m) => m.reply_to_message?.message_id === first.message_id && m.text === 'Noted.'), 'the Telegram reply', 30_000);
  discord.userSays(discord.channelId, dStranger, 'hello from a stranger');
  discord.userSays(discord.channelId, dOwner, 'what is my cat called?');
  await discord.waitFor(() => discord.botMessages().find((m) => m.content === 'Your cat is Miso.'), { what: 'the Discord reply that remembers Telegram', timeoutMs: 30_000 });
  assert.equal(telegram.botMessages(tStranger.id).length, 0, 'the Telegram stranger is ignored');
  assert.equal(anthropic.requests.some((r) => lastText(r).includes('stranger')), false, 'no stranger reached the model');
  assert.equal(telegram.botMessages(tOwner.id).some((m) => m.text?.includes('Miso')), false, 'the Discord answer went to Discord only');

  // an approval: a card on both channels; the Telegram button decides, exactly once
  telegram.says(tOwner, 'please make the file');
  const tCard = await telegram.waitFor(() => telegram.botMessages(tOwner.id).find((m) => m.reply_markup && m.text?.includes('run_shell_command')), 'the Telegram card', 30_000);
  const dCard = await discord.waitFor(() => discord.botMessages().find((m) => m.components && m.content.includes('run_shell_command')), { what: 'the Discord card', timeoutMs: 30_000 });
  const dApprove = dCard.components![0].components[0].custom_id!;
  const approve = tCard.reply_markup!.inline_keyboard[0].find((b) => b.text === 'Approve')!.callback_data!;
  assert.equal(existsSync(marker), false, 'nothing ran before approval');
  telegram.press(tStranger, tCard, approve);
  telegram.press(tOwner, tCard, approve);
  await telegram.waitFor(() => telegram.botMessages(tOwner.id).find((m) => m.text === 'Approved, and the file now exists.'), 'the outcome answered on Telegram (home: the owner last used it)', 30_000);
  assert.equal(existsSync(marker), true, 'the approved command ran');
  await discord.waitFor(() => discord.message(dCard.id).content.includes('**Approved**') && (discord.message(dCard.id).components ?? []).length === 0, { what: 'the Discord card shows the decision made on Telegram', timeoutMs: 30_000 });
  // a late press on Discord says so and changes nothing
  const late = discord.pressButton(dOwner, dCard.id, dApprove);
  await discord.waitFor(() => late.response, { what: 'the answer to the late press', timeoutMs: 30_000 });
  assert.equal(late.response!.data?.flags, 64);
  assert.match(String(late.response!.data?.content), /Already decided/);
  assert.equal(anthropic.requests.filter((r) => lastText(r).includes('[approval result]')).length, 1, 'the outcome reached the conversation once');
  assert.ok(telegram.callbackAnswers.some((a) => /Not yours/.test(a.text ?? '')), 'the stranger was told');

  // restart: what is said on both channels while Lares is down is answered after the start
  await stop(child);
  telegram.says(tOwner, 'written while down on Telegram');
  discord.userSays(discord.channelId, dOwner, 'written while down on Discord');
  const repliesBefore = telegram.botMessages(tOwner.id).length;
  child = start();
  await started(child, 2);
  await telegram.waitFor(() => telegram.botMessages(tOwner.id).find((m) => m.text === 'Caught up on Telegram.'), 'the Telegram catch-up', 30_000);
  await discord.waitFor(() => discord.botMessages().find((m) => m.content === 'Caught up on Discord.'), { what: 'the Discord catch-up', timeoutMs: 30_000 });
  assert.equal(telegram.botMessages(tOwner.id).length, repliesBefore + 1, 'nothing answered twice after the restart');
  assert.equal(anthropic.requests.filter((r) => lastText(r).includes('My cat is called Miso')).length, 1, 'the first message was not replayed');
  await stop(child);
  assert.ok(!stderr.includes(telegram.token), 'the Telegram token never appears in the logs');
  // one conversation; each message records the channel it came from
  const db = new DatabaseSync(join(dir, 'data', 'lares.db'), { readOnly: true });
  const rows = db.prepare("SELECT conversation_id, source_ref, metadata_json FROM messages WHERE role = 'user' AND source_ref IS NOT NULL").all() as Array<{ conversation_id: string; source_ref: string; metadata_json: string }>;
  db.close();
  assert.equal(new Set(rows.map((r) => r.conversation_id)).size, 1, 'one conversation');
  const miso = rows.find((r) => r.source_ref === `telegram:${tOwner.id}:${first.message_id}`)!;
  assert.equal(JSON.parse(miso.metadata_json).source, 'telegram');
  assert.equal(JSON.parse(miso.metadata_json).channel, 'telegram');
  assert.ok(rows.some((r) => r.source_ref.startsWith('discord:') && JSON.parse(r.metadata_json).channel === 'discord'));
});

test('lares run with Telegram alone: setting the token and the owner id is enough; perch time posts to Telegram; /health lists the channel', async (t) => {
  const anthropic = await startFakeAnthropic();
  const telegram = await startFakeTelegram();
  const dir = mkdtempSync(join(tmpdir(), 'lares-run-telegram-'));
  t.after(async () => { await anthropic.close(); await telegram.close(); rmSync(dir, { recursive: true, force: true }); });
  const owner = telegram.user('Robin');
  anthropic.setResponder((request) => (lastText(request).includes('[perch time') ? { text: 'A thought from my perch.' } : { text: 'Hello Robin!' }));
  const child = spawn(NODE, [LARES_BIN, 'run'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '', HOME: dir, LARES_ENV_FILE: join(dir, 'none.env'), LOG_LEVEL: 'info', LOG_FORMAT: 'json',
      ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, SQLITE_DB_PATH: join(dir, 'data', 'lares.db'), USE_DIRECT_LLM: 'true', LARES_EMBEDDER: 'none',
      TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_OWNER_ID: String(owner.id), TELEGRAM_API_URL: telegram.apiRoot,
      LARES_HTTP_PORT: '0', LARES_PERCH_INTERVAL_MINUTES: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  while (!stderr.includes('"event":"started"')) {
    if (child.exitCode !== null) assert.fail(`lares run exited early: ${stderr.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const healthUrl = /"health":"([^"]+)"/.exec(stderr)![1];
  const health = await (await fetch(healthUrl)).json() as { status: string; channels: Record<string, { connected: boolean }> };
  assert.equal(health.status, 'ok');
  assert.deepEqual(health.channels, { telegram: { connected: true } });

  telegram.says(owner, 'hi');
  await telegram.waitFor(() => telegram.botMessages(owner.id).find((m) => m.text === 'Hello Robin!'), 'the reply', 30_000);
  child.kill('SIGUSR2');
  await telegram.waitFor(() => telegram.botMessages(owner.id).find((m) => m.text === 'A thought from my perch.'), 'the perch post on Telegram', 30_000);
  telegram.says(owner, '/context');
  telegram.says(owner, '/memory human');
  const context = await telegram.waitFor(() => telegram.botMessages(owner.id).find((m) => m.text?.startsWith('Context for the next turn')), 'the /context answer', 30_000);
  assert.match(context.text!, /memory blocks \d+/);
  await telegram.waitFor(() => telegram.botMessages(owner.id).find((m) => m.text?.startsWith('── human')), 'the /memory answer', 30_000);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr.slice(-3000));
});
