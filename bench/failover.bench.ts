// Failover (issue: one store for everything, part 2): two `lares run` workers on one PostgreSQL,
// the real CLI, the fake Discord and the fake Anthropic (no model latency). Each round the owner
// writes, the worker holding Discord is killed with SIGKILL, and the owner writes again at once;
// the killed worker is started again as the new standby. Measured per round: the time from the
// kill until the other worker holds the channels, and until the owner's message written right
// after the kill is answered. Counted over all rounds: messages written, answered exactly once.
// Run alone: node bench/failover.bench.ts [rounds]   (default 5)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeAnthropic } from '../test/fakes/anthropic.ts';
import { startFakeDiscord, type FakeMessage } from '../test/fakes/discord.ts';
import { startTestPostgres } from '../test/support/postgres.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Worker { child: ChildProcess; stderr: () => string; exited: Promise<unknown> }

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function until<T>(check: () => T | undefined | false, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`failover bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function runFailoverBench(options: { rounds?: number } = {}): Promise<{ markdown: string }> {
  const rounds = options.rounds ?? 5;
  const pg = await startTestPostgres();
  const anthropic = await startFakeAnthropic();
  const discord = await startFakeDiscord();
  const dir = mkdtempSync(join(tmpdir(), 'lares-bench-failover-'));
  const workers: Worker[] = [];
  try {
    const url = await pg.createDatabase('failover_bench');
    const owner = discord.user('robin');
    anthropic.setResponder((request) => ({ text: `answer to ${JSON.stringify(request.body.messages.at(-1).content).match(/message \d+/)?.[0] ?? 'that'}` }));
    const env = {
      PATH: process.env.PATH ?? '', HOME: dir, LOG_LEVEL: 'info', LOG_FORMAT: 'json', LARES_EMBEDDER: 'none', LARES_ENV_FILE: join(dir, 'none.env'),
      ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6', USE_DIRECT_LLM: 'true',
      MEMORY_PROVIDER: 'postgres', DATABASE_URL: url,
      DISCORD_BOT_TOKEN: discord.token, DISCORD_CHANNEL_ID: discord.channelId, DISCORD_OWNER_ID: owner.id, DISCORD_API_URL: discord.apiUrl,
      LARES_HTTP_PORT: '0', LARES_PERCH_INTERVAL_MINUTES: '0',
    };
    const start = async (): Promise<Worker> => {
      const child = spawn(process.execPath, [join(root, 'bin/lares.js'), 'run'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      const worker = { child, stderr: () => stderr, exited: new Promise((resolve) => child.on('close', resolve)) };
      workers.push(worker);
      await until(() => stderr.includes('"event":"started"') || child.exitCode !== null, 'a worker to start');
      if (child.exitCode !== null) throw new Error(`a worker exited: ${stderr.slice(-2000)}`);
      return worker;
    };
    const alive = () => workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    const holder = () => alive().find((w) => w.stderr().includes('"event":"lease_taken"'));
    const answers = (message: FakeMessage) => discord.botMessages().filter((m) => m.message_reference?.message_id === message.id).length;
    await start();
    await start();
    const written: FakeMessage[] = [];
    const takeover: number[] = [];
    const answered: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const before = discord.userSays(discord.channelId, owner, `message ${written.length + 1}`);
      written.push(before);
      await until(() => answers(before) > 0, 'an answer before the kill');
      const victim = await until(() => holder(), 'a holder');
      victim.child.kill('SIGKILL');
      const killedAt = performance.now();
      await victim.exited;
      const after = discord.userSays(discord.channelId, owner, `message ${written.length + 1}`);
      written.push(after);
      await until(() => holder(), 'the other worker to take over');
      takeover.push(performance.now() - killedAt);
      await until(() => answers(after) > 0, 'the answer written after the kill');
      answered.push(performance.now() - killedAt);
      await start(); // the killed machine comes back as the standby
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const once = written.filter((m) => answers(m) === 1).length;
    const twice = written.filter((m) => answers(m) > 1).length;
    const ms = (v: number) => `${Math.round(v)} ms`;
    const markdown = [
      '## Failover: two workers on one PostgreSQL, the Discord holder killed',
      '',
      `\`node bench/failover.bench.ts\`: two \`lares run\` processes (the real CLI) on one PostgreSQL, the fake Discord and fake Anthropic (no model latency). ${rounds} rounds: the owner writes, the worker holding Discord gets SIGKILL, the owner writes again at once, the killed worker comes back as the standby. Takeover = from the kill until the standby holds the channels (it tries every 2 s; PostgreSQL frees the dead holder's advisory lock when its connection closes). Answered = until the message written right after the kill is answered on Discord by the new holder (its Discord login and catch-up included).`,
      '',
      '| rounds | takeover p50 / max | answered after the kill p50 / max | messages written | answered exactly once | answered twice |',
      '|---:|---:|---:|---:|---:|---:|',
      `| ${rounds} | ${ms(percentile(takeover, 50))} / ${ms(Math.max(...takeover))} | ${ms(percentile(answered, 50))} / ${ms(Math.max(...answered))} | ${written.length} | ${once} | ${twice} |`,
      '',
    ].join('\n');
    return { markdown };
  } catch (error) {
    // DEBUG_BENCH=1: the workers' last log lines, to see where a round stopped
    if (process.env.DEBUG_BENCH) for (const w of workers) process.stderr.write(`--- worker\n${w.stderr().split('\n').slice(-25).join('\n')}\n`);
    throw error;
  } finally {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await anthropic.close();
    await discord.close();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { markdown } = await runFailoverBench({ rounds: process.argv[2] ? Number(process.argv[2]) : undefined });
  process.stdout.write(`${markdown}\n`);
}
