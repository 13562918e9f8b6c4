// lares usage (and today's spend in lares context) as a person and a script run them: the
// readable table, pure JSON with --json, --by day/model/kind, date forms, prices files, exit codes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatSpendToday, spendToday } from '../../src/cli/context-helpers.ts';
import { parseUsageDate } from '../../src/cli/usage.ts';
import type { Config } from '../../src/config/config.ts';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import type { UsageRecord } from '../../src/memory/store.ts';
import { runLares } from '../support/run-lares.ts';

const dir = mkdtempSync(join(tmpdir(), 'lares-usage-cli-'));
const db = join(dir, 'lares.db');
const env = { SQLITE_DB_PATH: db };
const M = 1_000_000;
const DAY = 86_400_000;
/** A time `days` days ago, at 00:30 UTC of that day (so it stays on that UTC day whenever the test runs). */
const daysAgo = (days: number) => new Date(Math.floor((Date.now() - days * DAY) / DAY) * DAY + 30 * 60_000).toISOString();
const dayOf = (iso: string) => iso.slice(0, 10);
const call = (createdAt: string, extra: Partial<UsageRecord>): UsageRecord =>
  ({ model: 'claude-sonnet-4-6', provider: 'anthropic', inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 0, createdAt, ...extra });

before(async () => {
  const store = await openSqliteStore(db);
  const rows: UsageRecord[] = [
    call(daysAgo(0), { source: 'discord', inputTokens: 1000, cacheReadTokens: 9000, outputTokens: 500 }), // $0.003 + $0.0027 + $0.0075 = $0.0132
    call(daysAgo(0), { source: 'perch', cacheReadTokens: M }), // $0.30
    call(daysAgo(3), { source: 'job', provider: 'openai', model: 'qwen3:8b', inputTokens: 2000, outputTokens: 100 }), // unpriced
    call(daysAgo(3), { kind: 'compaction', model: 'claude-haiku-4-5-20251001', cacheReadTokens: M, outputTokens: 2000 }), // $0.10 + $0.01
    call(daysAgo(45), { source: 'terminal', outputTokens: M }), // $15, outside the default 30 days
  ];
  for (const row of rows) await store.recordUsage(row);
  await store.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('lares usage', () => {
  test('by default: the last 30 days by UTC day, a readable table with totals, and a footnote for unpriced models', async () => {
    const run = await runLares(['usage'], env);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.match(lines[0], /^Model calls from \d{4}-\d{2}-\d{2}T[\d:.]+Z to now \(UTC\), by day:$/);
    assert.match(run.stdout, /day\s+calls\s+input\s+cache read\s+cache write\s+output\s+cache read %\s+cost/);
    const today = lines.find((l) => l.startsWith(dayOf(daysAgo(0))));
    assert.ok(today, run.stdout);
    // 2 calls, 1,000 input, 1,009,000 cache read, 0 cache write, 500 output, 99.9% read from cache, $0.3132
    assert.match(today, /\s2\s+1,000\s+1,009,000\s+0\s+500\s+99\.9%\s+\$0\.3132$/);
    const earlier = lines.find((l) => l.startsWith(dayOf(daysAgo(3))));
    assert.match(earlier!, /\s2\s+2,000\s+1,000,000\s+0\s+2,100\s+99\.8%\s+\?$/);
    assert.ok(!run.stdout.includes(dayOf(daysAgo(45))), 'older than 30 days is left out');
    assert.match(lines.find((l) => l.startsWith('total'))!, /^total\s+4\s.*\s\?$/);
    assert.match(run.stdout, /\? = no price for qwen3:8b \(priced calls alone: \$0\.4232\)/);
    assert.match(run.stdout, /LARES_PRICES_FILE/);
    assert.match(run.stdout, /\{"qwen3:8b":\{"input":0,"output":0\}\}/);
  });

  test('--json: pure JSON with the grouping key named, tokens, ratio, cost and totals', async () => {
    const run = await runLares(['usage', '--since', '60d', '--by', 'model', '--json'], env);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(report), ['since', 'until', 'by', 'rows', 'totals']);
    assert.equal(report.by, 'model');
    assert.equal(report.until, null);
    assert.ok(Math.abs(Date.parse(report.since) - (Date.now() - 60 * DAY)) < 60_000);
    // the most expensive first
    assert.deepEqual(report.rows.map((r: { model: string }) => r.model), ['claude-sonnet-4-6', 'claude-haiku-4-5-20251001', 'qwen3:8b']);
    assert.deepEqual(report.rows[0], {
      model: 'claude-sonnet-4-6', calls: 3, inputTokens: 1000, cacheReadTokens: 1009000, cacheWriteTokens: 0, outputTokens: M + 500,
      cacheReadRatio: 1009000 / 1010000, costUsd: 15.3132, pricedCostUsd: 15.3132, unpricedModels: [],
    });
    assert.equal(report.rows[2].costUsd, null);
    assert.deepEqual(report.rows[2].unpricedModels, ['qwen3:8b']);
    assert.equal(report.totals.calls, 5);
    assert.equal(report.totals.costUsd, null);
    assert.equal(report.totals.pricedCostUsd, 15.4232);
    assert.deepEqual(report.totals.unpricedModels, ['qwen3:8b']);
  });

  test('--by kind: conversation, perch, job, compaction; a prices file prices a local model at zero', async () => {
    const prices = join(dir, 'prices.json');
    writeFileSync(prices, JSON.stringify({ 'qwen3:8b': { input: 0, output: 0 } }));
    const [run, table] = await Promise.all([
      runLares(['usage', '--by', 'kind', '--json'], { ...env, LARES_PRICES_FILE: prices }),
      runLares(['usage', '--by', 'kind'], { ...env, LARES_PRICES_FILE: prices }),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(report.rows.map((r: { kind: string; calls: number; costUsd: number }) => [r.kind, r.calls, r.costUsd]),
      [['conversation', 1, 0.0132], ['perch', 1, 0.3], ['job', 1, 0], ['compaction', 1, 0.11]]);
    assert.equal(report.totals.costUsd, 0.4232);
    assert.match(table.stdout, /^job\s+1\s.*\$0\.0000$/m);
    assert.match(table.stdout, /^total\s.*\$0\.4232$/m);
    assert.doesNotMatch(table.stdout, /no price/);
  });

  test('--since and --until take UTC days (--until counts its whole day) and ISO times', async () => {
    const three = dayOf(daysAgo(3));
    const run = await runLares(['usage', '--since', three, '--until', three, '--json'], env);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.since, `${three}T00:00:00.000Z`);
    assert.equal(report.until, new Date(Date.parse(`${three}T00:00:00.000Z`) + DAY).toISOString());
    assert.deepEqual(report.rows.map((r: { day: string }) => r.day), [three]);
    const [iso, empty] = await Promise.all([
      runLares(['usage', '--since', daysAgo(0), '--json'], env),
      runLares(['usage', '--since', '2020-01-01', '--until', '2020-01-31'], env),
    ]);
    assert.deepEqual(JSON.parse(iso.stdout).rows.map((r: { calls: number }) => r.calls), [2]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, 'No model calls from 2020-01-01T00:00:00.000Z to 2020-02-01T00:00:00.000Z.\n');
  });

  test('bad usage exits 2 with a clear message and nothing on stdout', async () => {
    const prices = join(dir, 'bad-prices.json');
    writeFileSync(prices, JSON.stringify({ 'qwen3:8b': { input: 'free' } }));
    const [bad, badDay, week, order, badFile, help] = await Promise.all([
      runLares(['usage', '--since', 'last tuesday'], env),
      runLares(['usage', '--until', '2026-02-30'], env),
      runLares(['usage', '--by', 'week'], env),
      runLares(['usage', '--since', '2026-05-02', '--until', '2026-05-01'], env),
      runLares(['usage'], { ...env, LARES_PRICES_FILE: prices }),
      runLares(['usage', '--help'], env),
    ]);
    for (const run of [bad, badDay, week, order, badFile]) {
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
    }
    assert.match(bad.stderr, /"last tuesday" is not a date: use a UTC day like 2026-01-31, an ISO 8601 time .* or a time ago like 12h, 7d or 2w/);
    assert.match(badDay.stderr, /"2026-02-30" is not a date/);
    assert.match(week.stderr, /Allowed choices are day, model, kind/);
    assert.match(order.stderr, /--since \(2026-05-02T00:00:00\.000Z\) must be before --until/);
    assert.match(badFile.stderr, /bad-prices\.json has 1 bad entry:\n {2}"qwen3:8b": output is missing; input must be a number/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--by <grouping>/);
    assert.match(help.stdout, /LARES_PRICES_FILE/);
  });

  test('parseUsageDate: days, times and times ago', () => {
    const now = new Date('2026-05-10T12:00:00.000Z');
    assert.equal(parseUsageDate('2026-05-01', 'since', now), '2026-05-01T00:00:00.000Z');
    assert.equal(parseUsageDate('2026-05-01', 'until', now), '2026-05-02T00:00:00.000Z');
    assert.equal(parseUsageDate('2026-05-01T14:00:00+02:00', 'until', now), '2026-05-01T12:00:00.000Z');
    assert.equal(parseUsageDate('7d', 'since', now), '2026-05-03T12:00:00.000Z');
    assert.equal(parseUsageDate('12h', 'since', now), '2026-05-10T00:00:00.000Z');
    assert.equal(parseUsageDate('2w', 'since', now), '2026-04-26T12:00:00.000Z');
    for (const bad of ['', 'yesterday', '7', '7m', '2026-13-01', '2026-05-01Tnoon']) assert.throws(() => parseUsageDate(bad, 'since', now), /is not a date/, bad);
  });
});

describe('today\'s spend in lares context', () => {
  test('lares context shows today\'s spend (UTC day) and has it in --json', { timeout: 60_000 }, async () => {
    const contextEnv = { ...env, USE_DIRECT_LLM: 'true', LARES_EMBEDDER: 'none' };
    const [run, text] = await Promise.all([runLares(['context', '--json'], contextEnv), runLares(['context'], contextEnv)]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.spendToday.day, new Date().toISOString().slice(0, 10));
    assert.equal(report.spendToday.usd, 0.3132);
    assert.deepEqual(report.spendToday.unpricedModels, []);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^Today's spend: \\$0\\.3132 (of \\$[\\d.]+ )?\\(UTC day ${report.spendToday.day}\\)$`, 'm'));
  });

  test('the line names a daily budget when the configuration has one, and the models it cannot price', async () => {
    const store = await openSqliteStore(db);
    try {
      const config = { pricesFile: undefined, budget: { dailyUsd: 2, mode: 'soft' } } as unknown as Config;
      const spend = await spendToday(store, config);
      assert.deepEqual(spend, { day: new Date().toISOString().slice(0, 10), usd: 0.3132, unpricedModels: [], budgetUsd: 2 });
      assert.equal(formatSpendToday(spend), `Today's spend: $0.3132 of $2.00 (UTC day ${spend.day})`);
      const noBudget = await spendToday(store, { pricesFile: undefined } as unknown as Config);
      assert.equal(noBudget.budgetUsd, null);
      assert.equal(formatSpendToday({ ...noBudget, usd: 0.5, unpricedModels: ['qwen3:8b'] }),
        `Today's spend: $0.5000 (UTC day ${spend.day}); not counting qwen3:8b (no price: see LARES_PRICES_FILE)`);
    } finally {
      await store.close();
    }
  });
});
