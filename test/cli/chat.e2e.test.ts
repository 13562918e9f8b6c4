import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic.ts';
import { runLares } from '../support/cli.ts';

describe('lares chat, end to end through the real CLI process', () => {
  let fake: FakeAnthropic;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    fake = await startFakeAnthropic();
    dir = mkdtempSync(join(tmpdir(), 'lares-e2e-'));
    env = { ANTHROPIC_API_KEY: fake.apiKey, ANTHROPIC_BASE_URL: fake.url, SQLITE_DB_PATH: join(dir, 'data', 'lares.db'), ANTHROPIC_MODEL: 'claude-sonnet-4-6' };
  });
  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('piped input: one reply per line, printed in order, exit 0', async () => {
    fake.enqueue(
      { toolUses: [{ name: 'memory_replace', input: { label: 'human', old_string: 'I have not learned much about my person yet. I should note their name and what they care about as I learn it.', new_string: 'My person is Grace; she keeps bees.' } }] },
      { text: 'Lovely to meet you, Grace.' },
      { text: 'Bees are wonderful.' },
    );
    const result = await runLares(['chat'], { env, input: 'Hi, I am Grace.\nI keep bees.\n', cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'Lovely to meet you, Grace.\nBees are wonderful.\n');
    assert.match(result.stderr, /⚙ memory_replace/);
  });

  test('the conversation and memory survive a restart', async () => {
    fake.enqueue({ text: 'You are Grace, the beekeeper.' });
    const result = await runLares(['chat'], { env, input: 'Who am I?\n', cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'You are Grace, the beekeeper.\n');
    const body = fake.requests.at(-1)!.body;
    assert.match(body.system[1].text, /My person is Grace; she keeps bees\./);
    const texts = JSON.stringify(body.messages);
    assert.match(texts, /Hi, I am Grace\./);
    assert.match(texts, /Bees are wonderful\./);
  });

  test('--json prints one JSON object per reply', async () => {
    fake.enqueue({ text: 'JSON reply' });
    const result = await runLares(['chat', '--json'], { env, input: 'hello\n', cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout);
    assert.equal(parsed.reply, 'JSON reply');
    assert.equal(parsed.stopReason, 'end_turn');
  });

  test('the seed\'s verification queries run as written', () => {
    const db = new DatabaseSync(env.SQLITE_DB_PATH, { readOnly: true });
    try {
      const blocks = db.prepare('SELECT label, LENGTH(content) as chars FROM memory_blocks').all() as Array<{ label: string; chars: number }>;
      assert.deepEqual(blocks.map((b) => b.label), ['persona', 'human', 'state', 'ideas']);
      assert.ok(blocks.every((b) => typeof b.chars === 'number'));
      const count = db.prepare('SELECT COUNT(*) FROM messages').get() as Record<string, number>;
      assert.ok(Number(Object.values(count)[0]) >= 8);
      const recent = db.prepare('SELECT role, substr(content, 1, 50) FROM messages ORDER BY created_at DESC LIMIT 5').all() as Array<Record<string, string>>;
      assert.equal(recent.length, 5);
      assert.deepEqual(Object.values(recent[0]), ['assistant', 'JSON reply']);
    } finally {
      db.close();
    }
  });

  test('lares search --json prints [{id, role, content, created_at, score}] and nothing else', async () => {
    const result = await runLares(['search', 'bees', '--json'], { env, cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const hits = JSON.parse(result.stdout);
    assert.ok(hits.length >= 1);
    for (const key of ['id', 'role', 'content', 'created_at', 'score']) assert.ok(key in hits[0], key);
  });

  test('lares context --json reports tokens by part and the cache-read ratio', async () => {
    const result = await runLares(['context', '--json'], { env, cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    for (const part of ['tools', 'system', 'blocks', 'summary', 'messages', 'total']) assert.equal(typeof report.tokens[part], 'number', part);
    assert.ok(report.tokens.blocks > 0);
    assert.ok(report.lastUsage.input >= 0);
    assert.equal(typeof report.cacheReadRatio, 'number');
  });

  test('lares memory shows the blocks, human as the agent edited it', async () => {
    const result = await runLares(['memory', 'human'], { env, cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /── human/);
    assert.match(result.stdout, /Grace; she keeps bees/);
  });

  test('without a key, chat says exactly how to set one and exits 2', async () => {
    const { ANTHROPIC_API_KEY: _key, ...withoutKey } = env;
    const result = await runLares(['chat'], { env: withoutKey, input: 'hello\n', cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /ANTHROPIC_API_KEY is not set/);
    assert.match(result.stderr, /ANTHROPIC_API_KEY=sk-ant-\.\.\./);
    assert.equal(result.stdout, '');
  });

  test('bad configuration lists every bad variable and exits 2, never printing a secret', async () => {
    const result = await runLares(['chat'], { env: { ...env, CONTEXT_LIMIT: 'big', COMPACT_THRESHOLD: '7', ANTHROPIC_API_KEY: 'sk-ant-supersecret' }, input: '', cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /CONTEXT_LIMIT="big"/);
    assert.match(result.stderr, /COMPACT_THRESHOLD="7"/);
    assert.doesNotMatch(result.stderr + result.stdout, /supersecret/);
  });

  test('--help works everywhere; an unknown command exits 2', async () => {
    for (const args of [['--help'], ['chat', '--help'], ['memory', '--help'], ['context', '--help'], ['search', '--help'], ['compact', '--help']]) {
      const result = await runLares(args, { cwd: dir });
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stdout, /Usage: lares/);
    }
    const unknown = await runLares(['frobnicate'], { cwd: dir });
    assert.equal(unknown.code, 2);
  });
});
