// Three `lares run` workers on one real PostgreSQL, with the fake Discord and the fake Anthropic:
// one holds the Discord connection, the others stand by. The holder is killed with SIGKILL in the
// middle of a turn: another takes over within seconds, the interrupted message is answered once,
// no owner message is lost or answered twice, an approval posted before the failover runs exactly
// once when the owner approves it afterwards, and a job due during the failover fires once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresStore } from '../../src/memory/postgres/postgres-store.ts';
import { startFakeAnthropic } from '../fakes/anthropic.ts';
import { startFakeDiscord, type FakeMessage } from '../fakes/discord.ts';
import { runLares, startLares, type RunningLares } from '../support/cli.ts';
import { startTestPostgres } from '../support/postgres.ts';
import { until } from '../support/until.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const lastUserText = (request: { body: { messages: Array<{ content: unknown }> } }) => JSON.stringify(request.body.messages.at(-1)!.content);

test('three workers on PostgreSQL: kill -9 the Discord holder mid-turn; another takes over and nothing is lost or done twice', async (t) => {
  const pg = await startTestPostgres();
  const anthropic = await startFakeAnthropic();
  const discord = await startFakeDiscord();
  const dir = mkdtempSync(join(tmpdir(), 'lares-workers-'));
  t.after(async () => { await anthropic.close(); await discord.close(); await pg.stop(); rmSync(dir, { recursive: true, force: true }); });
  const url = await pg.createDatabase('workers_e2e');
  const owner = discord.user('robin');
  const marker = join(dir, 'approved-runs.txt');

  anthropic.setResponder(async (request) => {
    const text = lastUserText(request);
    if (text.includes('[approval result]')) return { text: 'Approved and done.' };
    if (text.includes('scheduled job')) return { text: 'Reminder: water the plants 🪴' };
    if (text.includes('tool_result')) return { text: 'It is waiting for your approval.' };
    if (text.includes('please append a line')) return { text: 'I will ask first.', toolUses: [{ name: 'run_shell_command', input: { command: `echo ran >> ${marker}` } }] };
    const asked = /question (\d+)/.exec(text)?.[1];
    if (text.includes('slow question')) await sleep(4000); // the holder is killed while this turn waits for the model
    return { text: asked ? `answer ${asked}` : text.includes('slow question') ? 'the slow answer' : 'hello' };
  });

  const env = {
    PATH: process.env.PATH ?? '', HOME: dir, LOG_LEVEL: 'info', LOG_FORMAT: 'json', LARES_EMBEDDER: 'none',
    ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6', USE_DIRECT_LLM: 'true',
    MEMORY_PROVIDER: 'postgres', DATABASE_URL: url,
    // a SQLite path that must never be created: everything lives in PostgreSQL
    SQLITE_DB_PATH: join(dir, 'never', 'lares.db'),
    DISCORD_BOT_TOKEN: discord.token, DISCORD_CHANNEL_ID: discord.channelId, DISCORD_OWNER_ID: owner.id, DISCORD_API_URL: discord.apiUrl,
    LARES_HTTP_PORT: '0', LARES_PERCH_INTERVAL_MINUTES: '0', LARES_ALLOWED_PATHS: dir,
  };
  const started = async (worker: RunningLares) => {
    await until(async () => worker.stderr().includes('"event":"started"') || (worker.child.exitCode !== null && assert.fail(`a worker exited: ${worker.stderr()}`)), 'a worker to start', 60_000);
  };
  const workers: RunningLares[] = [];
  for (let i = 0; i < 3; i++) {
    const worker = startLares(t, ['run'], { env, cwd: dir });
    workers.push(worker);
    await started(worker); // one after another: the first takes the lease, the others stand by
  }
  t.after(() => { if (process.env.DEBUG_RUN) workers.forEach((w, i) => process.stderr.write(`--- worker ${i}\n${w.stderr()}`)); });
  const holders = () => workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null && w.stderr().includes('"event":"lease_taken"'));
  assert.equal(holders().length, 1, 'exactly one worker holds the channels');
  assert.equal(workers.filter((w) => w.stderr().includes('"event":"standby"')).length, 2, 'the others stand by');
  assert.equal(discord.connectedSessions, 1, 'one Discord gateway connection');
  // a standby worker is healthy: its /health says so
  const standbyHealth = /"event":"started"[^\n]*"health":"([^"]+)"/.exec(workers.find((w) => !holders().includes(w))!.stderr())![1];
  const health = await fetch(standbyHealth);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { worker: { role: string } }).worker.role, 'standby');

  const status = await runLares(['status', '--json'], { env: { MEMORY_PROVIDER: 'postgres', DATABASE_URL: url, HOME: dir } });
  assert.equal(status.code, 0, status.stderr);
  const report = JSON.parse(status.stdout);
  assert.equal(report.store, 'postgres');
  assert.equal(report.workers.length, 3);
  assert.deepEqual(report.workers.filter((w: { holds: string[] }) => w.holds.includes('channels')).length, 1);

  const answered = (message: FakeMessage) => discord.botMessages().filter((m) => m.message_reference?.message_id === message.id);
  const ask = async (text: string) => {
    const message = discord.userSays(discord.channelId, owner, text);
    await discord.waitFor(() => answered(message).length > 0, { what: `the answer to "${text}"`, timeoutMs: 30_000 });
    return message;
  };
  const asked = [await ask('question 1'), await ask('question 2')];

  // an approval queued before the failover
  discord.userSays(discord.channelId, owner, 'please append a line');
  await discord.waitFor(() => discord.botMessages().find((m) => m.content.includes('run_shell_command') && m.reactionsBy.get('❌')?.has(discord.bot.id)), { what: 'the approval card', timeoutMs: 30_000 });

  // a job due a few seconds after the holder dies
  const store = await openPostgresStore(url);
  t.after(() => store.close());
  const dueAt = new Date(Date.now() + 6000).toISOString();
  await store.toolState.insertJob({ id: 'job_failover', kind: 'once', spec: dueAt, message: 'water the plants', nextRunAt: dueAt, lastRunAt: null, active: true, createdAt: new Date().toISOString(), paused: false });

  // mid-turn: the model is answering the slow question when the holder is killed
  const slow = discord.userSays(discord.channelId, owner, 'slow question');
  await until(async () => anthropic.requests.some((r) => lastUserText(r).includes('slow question')), 'the slow turn to reach the model');
  const [holder] = holders();
  holder.child.kill('SIGKILL');
  const killedAt = Date.now();
  await holder.exited;
  const successor = await until(async () => holders()[0], 'another worker to take the channels', 20_000);
  const takeoverMs = Date.now() - killedAt;
  assert.ok(takeoverMs < 10_000, `taken over in ${takeoverMs} ms`);
  t.diagnostic(`the channels were taken over ${takeoverMs} ms after the holder was killed`);
  await discord.waitFor(() => discord.connectedSessions === 1, { what: 'the new holder connected to Discord', timeoutMs: 20_000 });

  // the interrupted message is answered, once, by the new holder
  await discord.waitFor(() => answered(slow).length > 0, { what: 'the answer to the interrupted message', timeoutMs: 30_000 });
  asked.push(slow, await ask('question 3'));

  // the approval decided after the failover runs exactly once
  const card = discord.botMessages().filter((m) => m.content.includes('run_shell_command') && m.reactionsBy.get('❌')?.has(discord.bot.id)).at(-1)!;
  discord.react(owner, card.id, '✅');
  await discord.waitFor(() => discord.botMessages().some((m) => m.content.includes('Approved and done.')), { what: 'the approval outcome', timeoutMs: 30_000 });
  assert.equal(readFileSync(marker, 'utf8'), 'ran\n', 'the approved command ran exactly once');

  // the job due during the failover fires once and is posted once
  await discord.waitFor(() => discord.botMessages().some((m) => m.content.includes('Reminder: water the plants')), { what: 'the reminder', timeoutMs: 40_000 });
  await sleep(1500);
  assert.equal(discord.botMessages().filter((m) => m.content.includes('Reminder: water the plants')).length, 1, 'the reminder is posted once');
  const jobEvents = (await store.toolState.eventsSince(0)).filter((e) => e.type === 'job_due' && e.data.jobId === 'job_failover');
  assert.equal(jobEvents.length, 1, 'the job fired once across the workers');

  // no owner message lost or answered twice
  for (const message of asked) assert.equal(answered(message).length, 1, `"${message.content}" answered exactly once`);
  assert.equal(anthropic.requests.filter((r) => lastUserText(r).includes('[approval result]')).length, 1, 'the outcome reached the conversation once');
  assert.equal(existsSync(join(dir, 'never')), false, 'no SQLite file anywhere');
  assert.ok(successor.stderr().includes('"event":"turn_resumed"') || successor.stderr().includes('discord_caught_up'), 'the successor caught up with the interrupted message');

  for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
  for (const worker of workers) await worker.exited;
});
