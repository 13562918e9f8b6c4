// `lares run` as a process: what it does before and around the Discord connection.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startFakeAnthropic } from '../fakes/anthropic.ts';
import { startFakeDiscord } from '../fakes/discord.ts';
import { LARES_BIN, NODE } from '../support/cli.ts';

test('lares run with LARES_HTTP_PORT taken exits 2 naming the port, before connecting to Discord', async (t) => {
  const discord = await startFakeDiscord();
  const dir = mkdtempSync(join(tmpdir(), 'lares-run-port-'));
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    await discord.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = (blocker.address() as { port: number }).port;
  const owner = discord.user('robin');
  const child = spawn(NODE, [LARES_BIN, 'run'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '', HOME: dir, LARES_ENV_FILE: join(dir, 'none.env'), LOG_LEVEL: 'info', LOG_FORMAT: 'json',
      ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', SQLITE_DB_PATH: join(dir, 'data', 'lares.db'),
      DISCORD_BOT_TOKEN: discord.token, DISCORD_CHANNEL_ID: discord.channelId, DISCORD_OWNER_ID: owner.id, DISCORD_API_URL: discord.apiUrl,
      LARES_HTTP_PORT: String(port), LARES_PERCH_INTERVAL_MINUTES: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 2, stderr);
  assert.match(stderr, new RegExp(`cannot serve /health on 127\\.0\\.0\\.1:${port} \\(LARES_HTTP_PORT\\)`));
  assert.equal(discord.identifies, 0, 'Discord was never connected');
});

test('SIGTERM while Discord is unreachable (the gateway reconnecting) still stops lares run, with exit 0', async (t) => {
  const anthropic = await startFakeAnthropic();
  const discord = await startFakeDiscord();
  const dir = mkdtempSync(join(tmpdir(), 'lares-run-stop-'));
  t.after(async () => { await anthropic.close(); rmSync(dir, { recursive: true, force: true }); });
  const owner = discord.user('robin');
  const child = spawn(NODE, [LARES_BIN, 'run'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '', HOME: dir, LARES_ENV_FILE: join(dir, 'none.env'), LOG_LEVEL: 'info', LOG_FORMAT: 'json',
      ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, SQLITE_DB_PATH: join(dir, 'data', 'lares.db'),
      DISCORD_BOT_TOKEN: discord.token, DISCORD_CHANNEL_ID: discord.channelId, DISCORD_OWNER_ID: owner.id, DISCORD_API_URL: discord.apiUrl,
      LARES_HTTP_PORT: '0', LARES_PERCH_INTERVAL_MINUTES: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  const changed = new EventEmitter();
  child.stderr.on('data', (d) => { stderr += d; changed.emit('data'); });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const logged = (event: string) => new Promise<void>((resolve, reject) => {
    const check = () => {
      if (stderr.includes(`"event":"${event}"`)) { changed.off('data', check); resolve(); }
      else if (child.exitCode !== null) reject(new Error(`lares run exited before ${event}: ${stderr}`));
    };
    changed.on('data', check);
    check();
  });
  await logged('started');
  await discord.close();
  await logged('discord_reconnecting');
  child.kill('SIGTERM');
  // without the fix the process never exits; the guard turns a hang into a failure
  const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running 30 s after SIGTERM'), 30_000).unref())]);
  assert.equal(code, 0, stderr.slice(-2000));
  assert.match(stderr, /"event":"stopped"/);
});
