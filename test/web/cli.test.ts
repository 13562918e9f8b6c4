// `lares web` and `lares run` with LARES_WEB=true as a person runs them: the real CLI prints the
// console's address (and, off a terminal, how to get a login link: never the link itself, which
// would land in the journal), serves /health beside it, and stops on SIGTERM. `lares web
// --login-link` makes a link for the console that runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeAnthropic } from '../fakes/anthropic.ts';
import { startFakeDiscord } from '../fakes/discord.ts';
import { runLares, startLares } from '../support/cli.ts';
import { Browserish } from './harness.ts';

const TOKEN = 'cli-web-token-0123456789';

test('lares web --help, a refused plain-HTTP address (exit 2), and --login-link', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-webcli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const help = await runLares(['web', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--login-link/);
  assert.match(help.stdout, /ssh -L/);
  const env = { SQLITE_DB_PATH: join(dir, 'lares.db'), USE_DIRECT_LLM: 'true', LARES_WEB_TOKEN: TOKEN };
  const plain = await runLares(['web'], { env: { ...env, LARES_WEB_HOST: '0.0.0.0' } });
  assert.equal(plain.code, 2);
  assert.match(plain.stderr, /plain HTTP/);
  // every address, and no LARES_WEB_ORIGIN to say which name browsers use: refused, with the way out
  const wildcard = await runLares(['web'], { env: { ...env, LARES_WEB_HOST: '0.0.0.0', LARES_WEB_ALLOW_PLAIN_HTTP: 'true' } });
  assert.equal(wildcard.code, 2);
  assert.match(wildcard.stderr, /Set LARES_WEB_ORIGIN/);
  const link = await runLares(['web', '--login-link'], { env });
  assert.equal(link.code, 0, link.stderr);
  assert.match(link.stdout, /^http:\/\/127\.0\.0\.1:8766\/login\/link\?code=[\w.%-]+\n$/);
  assert.ok(!link.stdout.includes(TOKEN) && !link.stderr.includes(TOKEN), 'the token is never printed');
});

/** `lares web --login-link` beside a running console (same store): the code of the link it prints. */
async function loginCodeFromCli(env: Record<string, string>): Promise<string> {
  const result = await runLares(['web', '--login-link'], { env });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^http:\/\/127\.0\.0\.1:\d+\/login\/link\?code=[\w.%-]+\n$/);
  return new URL(result.stdout.trim()).searchParams.get('code')!;
}

async function waitForLine(read: () => string, pattern: RegExp, exited: () => boolean): Promise<RegExpExecArray> {
  for (;;) {
    const match = pattern.exec(read());
    if (match) return match;
    if (exited()) assert.fail(`the command exited early:\n${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('lares web: prints the URL (a login link only on a terminal), serves the console and /health, stops on SIGTERM', async (t) => {
  const anthropic = await startFakeAnthropic();
  const dir = mkdtempSync(join(tmpdir(), 'lares-webcli-'));
  t.after(async () => { await anthropic.close(); rmSync(dir, { recursive: true, force: true }); });
  const env = {
    PATH: process.env.PATH ?? '', HOME: dir, LOG_LEVEL: 'info', LARES_EMBEDDER: 'none',
    ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6',
    SQLITE_DB_PATH: join(dir, 'data', 'lares.db'), USE_DIRECT_LLM: 'true', LARES_HTTP_PORT: '0', LARES_WEB_TOKEN: TOKEN,
  };
  const lares = startLares(t, ['web'], { env, cwd: dir });
  const { child, exited } = lares;

  const [, url] = await waitForLine(lares.stdout, /Lares console: (http:\/\/127\.0\.0\.1:\d+)\n/, () => child.exitCode !== null);
  await waitForLine(lares.stdout, /For a one-time login link, run: npx lares web --login-link\n/, () => child.exitCode !== null);
  assert.ok(!lares.stdout().includes('code='), 'stdout is not a terminal (a journal): no working link in it');
  const code = await loginCodeFromCli(env);
  const health = await fetch(`${url}/health`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');
  const browser = new Browserish(url);
  assert.equal((await browser.post('/login/link', { code }, { csrf: false })).status, 303);
  assert.equal((await new Browserish(url).post('/login/link', { code }, { csrf: false })).status, 401, 'once');
  await browser.refreshCsrf();
  const chat = await browser.post('/chat', { message: 'hello from the console' }, { headers: { accept: 'text/event-stream' } });
  assert.match(await chat.text(), /event: done/);
  assert.match(lares.stderr(), /"event":"web_login".*"how":"link"/);
  assert.match(lares.stderr(), /"event":"web_chat_message"/);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, lares.stderr().slice(-2000));
  assert.ok(!lares.stdout().includes(TOKEN) && !lares.stderr().includes(TOKEN), 'the token is never printed or logged');
});

test('lares run with LARES_WEB=true serves the console beside /health', async (t) => {
  const anthropic = await startFakeAnthropic();
  const discord = await startFakeDiscord();
  const dir = mkdtempSync(join(tmpdir(), 'lares-webrun-'));
  t.after(async () => { await anthropic.close(); await discord.close(); rmSync(dir, { recursive: true, force: true }); });
  const owner = discord.user('robin');
  const env = {
    PATH: process.env.PATH ?? '', HOME: dir, LOG_LEVEL: 'info', LARES_EMBEDDER: 'none',
    ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6',
    SQLITE_DB_PATH: join(dir, 'data', 'lares.db'), USE_DIRECT_LLM: 'true',
    DISCORD_BOT_TOKEN: discord.token, DISCORD_CHANNEL_ID: discord.channelId, DISCORD_OWNER_ID: owner.id, DISCORD_API_URL: discord.apiUrl,
    LARES_HTTP_PORT: '0', LARES_PERCH_INTERVAL_MINUTES: '0', LARES_WEB: 'true',
  };
  const lares = startLares(t, ['run'], { env, cwd: dir });
  const { child, exited } = lares;
  const [, url] = await waitForLine(lares.stdout, /Lares console: (http:\/\/127\.0\.0\.1:\d+)\n/, () => child.exitCode !== null);
  await waitForLine(lares.stdout, /For a one-time login link, run: npx lares web --login-link\n/, () => child.exitCode !== null);
  assert.ok(!lares.stdout().includes('code='), 'no working link in a journal');
  // the same port serves /health and the console
  assert.notEqual((await fetch(`${url}/health`)).status, 404);
  assert.equal((await fetch(`${url}/`, { redirect: 'manual' })).headers.get('location'), '/login');
  const browser = new Browserish(url);
  assert.equal((await browser.post('/login/link', { code: await loginCodeFromCli(env) }, { csrf: false })).status, 303);
  await browser.refreshCsrf();
  assert.equal((await browser.get('/memory')).status, 200);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, lares.stderr().slice(-2000));
});
