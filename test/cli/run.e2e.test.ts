// `lares run` as a user runs it: the real CLI process, real discord.js against the fake Discord,
// the real SDK against the fake Anthropic API, the built-in MCP tools and approval queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeAnthropic } from '../fakes/anthropic.ts';
import { startFakeDiscord } from '../fakes/discord.ts';
import { LARES_BIN, NODE, ROOT } from '../support/cli.ts';

test('lares run: answers the owner, asks before a risky tool, runs it once on the owner\'s ✅, and stops cleanly on SIGTERM', async (t) => {
  const anthropic = await startFakeAnthropic();
  const discord = await startFakeDiscord();
  const dir = mkdtempSync(join(tmpdir(), 'lares-run-'));
  t.after(async () => { await anthropic.close(); await discord.close(); rmSync(dir, { recursive: true, force: true }); });
  const owner = discord.user('robin');
  const stranger = discord.user('mallory');
  const marker = join(dir, 'created-by-approval');

  anthropic.setResponder((request) => {
    const text = JSON.stringify(request.body.messages.at(-1).content);
    if (text.includes('[perch time')) return { text: '(silent)' };
    if (text.includes('[approval result]')) return { text: 'The owner approved it and the file now exists.' };
    if (text.includes('make the file')) return { text: 'I will ask first.', toolUses: [{ name: 'run_shell_command', input: { command: `touch ${marker} && echo done` } }] };
    if (text.includes('tool_result')) return { text: 'It is waiting for your approval.' };
    return { text: 'Hello Robin!' };
  });

  const child = spawn(NODE, [LARES_BIN, 'run'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '', HOME: dir, LOG_LEVEL: 'info', LOG_FORMAT: 'json',
      ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6',
      SQLITE_DB_PATH: join(dir, 'data', 'lares.db'), USE_DIRECT_LLM: 'true',
      DISCORD_BOT_TOKEN: discord.token, DISCORD_CHANNEL_ID: discord.channelId, DISCORD_OWNER_ID: owner.id, DISCORD_API_URL: discord.apiUrl,
      LARES_HTTP_PORT: '0', LARES_PERCH_INTERVAL_MINUTES: '0', LARES_ALLOWED_PATHS: dir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });

  t.after(() => { if (process.env.DEBUG_RUN) process.stderr.write(stderr); });
  while (!stderr.includes('"event":"started"')) {
    if (child.exitCode !== null) assert.fail(`lares run exited early: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.match(stderr, /"event":"mode".*direct/);

  discord.userSays(discord.channelId, stranger, 'hello from a stranger');
  discord.userSays(discord.channelId, owner, 'hello');
  const hello = await discord.waitFor(() => discord.botMessages().find((m) => m.content.includes('Hello Robin!')), { what: 'the reply', timeoutMs: 30_000 });
  assert.ok(hello);

  discord.userSays(discord.channelId, owner, 'please make the file');
  // the owner reacts once the request shows its ✅ ❌ buttons, as a person would
  const request = await discord.waitFor(() => discord.botMessages().find((m) => m.content.includes('run_shell_command') && m.reactionsBy.get('❌')?.has(discord.bot.id)), { what: 'the approval request', timeoutMs: 30_000 });
  assert.equal(existsSync(marker), false, 'nothing ran before approval');
  discord.react(stranger, request.id, '✅');
  discord.react(owner, request.id, '✅');
  await discord.waitFor(() => discord.botMessages().find((m) => m.content.includes('The owner approved it and the file now exists.')), { what: 'the outcome in the conversation', timeoutMs: 30_000 });
  assert.equal(existsSync(marker), true, 'the approved command ran');
  assert.equal(anthropic.requests.filter((r) => JSON.stringify(r.body.messages.at(-1).content).includes('[approval result]')).length, 1, 'the outcome reached the conversation once');
  assert.equal(discord.botMessages().some((m) => m.content.includes('stranger')), false);

  // SIGUSR2: a perch tick now; the model chooses silence, so nothing is posted
  const posted = discord.botMessages().length;
  child.kill('SIGUSR2');
  while (!anthropic.requests.some((r) => JSON.stringify(r.body.messages.at(-1).content).includes('[perch time'))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  while (!stderr.includes('"event":"perch_silent"')) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(discord.botMessages().length, posted, 'a silent perch tick posts nothing');

  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr.slice(-3000));
  assert.match(stderr, /"event":"stopped"/);
  void ROOT;
});
