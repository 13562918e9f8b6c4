// The usage report and a day's spend, from stored usage rows and a price table.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadPrices } from '../../src/llm/pricing.ts';
import { categoryOf, spendOn, todayUtc, usageReport, utcDayRange } from '../../src/llm/usage-report.ts';
import { SqliteStore } from '../../src/memory/sqlite/sqlite-store.ts';
import type { UsageRecord } from '../../src/memory/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'lares-usage-report-'));
let store: SqliteStore;
const prices = loadPrices();
const near = (actual: number | null | undefined, expected: number) => assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);

/** One million tokens of one kind, so costs are the prices themselves. */
const M = 1_000_000;
const call = (createdAt: string, extra: Partial<UsageRecord>): UsageRecord =>
  ({ model: 'claude-sonnet-4-6', provider: 'anthropic', inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 0, createdAt, ...extra });

before(async () => {
  store = new SqliteStore(join(dir, 'lares.db'));
  const rows: UsageRecord[] = [
    call('2026-05-01T00:00:00.000Z', { source: 'terminal', inputTokens: M }), // $3
    call('2026-05-01T10:00:00.000Z', { source: 'discord', cacheReadTokens: M }), // $0.30
    call('2026-05-01T11:00:00.000Z', { source: 'approval', outputTokens: M }), // $15
    call('2026-05-01T12:00:00.000Z', { inputTokens: M }), // no source (before sources were kept): conversation, $3
    call('2026-05-01T13:00:00.000Z', { source: 'perch', cacheWriteTokens: M }), // $3.75
    call('2026-05-01T23:59:59.999Z', { kind: 'compaction', source: 'discord', model: 'claude-haiku-4-5', cacheReadTokens: M, outputTokens: M }), // $0.10 + $5
    call('2026-05-02T00:00:00.000Z', { source: 'job', provider: 'openai', model: 'qwen3:8b', inputTokens: M, outputTokens: M }), // unpriced
    call('2026-05-02T01:00:00.000Z', { source: 'job', model: 'gpt-4o-mini', provider: 'openai', inputTokens: M }), // $0.15
  ];
  for (const row of rows) await store.recordUsage(row);
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('usageReport', () => {
  test('by day: tokens, calls, cache-read ratio and cost; a day with an unpriced model has no cost but names it', async () => {
    const report = await usageReport(store, { by: 'day' }, prices);
    assert.deepEqual(report.rows.map((r) => r.key), ['2026-05-01', '2026-05-02']);
    const [first, second] = report.rows;
    assert.equal(first.calls, 6);
    assert.deepEqual([first.inputTokens, first.cacheReadTokens, first.cacheWriteTokens, first.outputTokens], [2 * M, 2 * M, M, 2 * M]);
    near(first.cacheReadRatio, 2 / 5);
    near(first.costUsd, 3 + 0.3 + 15 + 3 + 3.75 + 0.1 + 5);
    assert.deepEqual(first.unpricedModels, []);
    assert.equal(second.costUsd, null);
    near(second.pricedCostUsd, 0.15);
    assert.deepEqual(second.unpricedModels, ['qwen3:8b']);
    assert.equal(report.totals.calls, 8);
    assert.equal(report.totals.costUsd, null);
    near(report.totals.pricedCostUsd, 30.3);
    assert.deepEqual(report.totals.unpricedModels, ['qwen3:8b']);
    assert.deepEqual([report.since, report.until, report.by], [null, null, 'day']);
  });

  test('by kind: conversation (turns from a person, approvals, system, unknown), perch, job, compaction', async () => {
    const report = await usageReport(store, { by: 'kind' }, prices);
    assert.deepEqual(report.rows.map((r) => [r.key, r.calls]), [['conversation', 4], ['perch', 1], ['job', 2], ['compaction', 1]]);
    near(report.rows[0].costUsd, 3 + 0.3 + 15 + 3);
    near(report.rows[1].costUsd, 3.75);
    assert.equal(report.rows[2].costUsd, null);
    near(report.rows[3].costUsd, 5.1);
    assert.equal(categoryOf({ kind: 'compaction', source: 'perch' }), 'compaction');
    assert.equal(categoryOf({ kind: 'turn', source: 'system' }), 'conversation');
  });

  test('by model, the most expensive first; a range is since inclusive, until exclusive', async () => {
    const report = await usageReport(store, { by: 'model' }, prices);
    assert.deepEqual(report.rows.map((r) => r.key), ['claude-sonnet-4-6', 'claude-haiku-4-5', 'gpt-4o-mini', 'qwen3:8b']);
    const day = await usageReport(store, { by: 'model', since: '2026-05-01T10:00:00.000Z', until: '2026-05-01T23:59:59.999Z' }, prices);
    assert.deepEqual(day.rows.map((r) => [r.key, r.calls]), [['claude-sonnet-4-6', 4]]);
    near(day.totals.costUsd, 0.3 + 15 + 3 + 3.75);
    const none = await usageReport(store, { by: 'day', since: '2027-01-01T00:00:00.000Z' }, prices);
    assert.deepEqual(none.rows, []);
    assert.deepEqual({ ...none.totals }, { calls: 0, inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 0, cacheReadRatio: null, costUsd: 0, pricedCostUsd: 0, unpricedModels: [] });
  });
});

describe('spendOn', () => {
  test('adds up one UTC day, from its first millisecond to its last, and names the unpriced models', async () => {
    const may1 = await spendOn(store, '2026-05-01', prices);
    near(may1.usd, 30.15);
    assert.deepEqual(may1.unpricedModels, []);
    const may2 = await spendOn(store, '2026-05-02', prices);
    near(may2.usd, 0.15);
    assert.deepEqual(may2.unpricedModels, ['qwen3:8b']);
    assert.deepEqual(await spendOn(store, '2026-04-30', prices), { usd: 0, unpricedModels: [] });
  });

  test('a price from a prices file counts (a local model at zero is priced, not unknown)', async () => {
    const file = join(dir, 'prices.json');
    writeFileSync(file, JSON.stringify({ 'qwen3:8b': { input: 0, output: 0 } }));
    assert.deepEqual(await spendOn(store, '2026-05-02', loadPrices(file)), { usd: 0.15, unpricedModels: [] });
    const report = await usageReport(store, { by: 'day' }, loadPrices(file));
    near(report.totals.costUsd, 30.3);
  });

  test('todayUtc and utcDayRange work in UTC days; a bad day is refused', () => {
    assert.equal(todayUtc(new Date('2026-05-01T23:30:00-05:00')), '2026-05-02');
    assert.match(todayUtc(), /^\d{4}-\d{2}-\d{2}$/);
    assert.deepEqual(utcDayRange('2026-02-28'), { since: '2026-02-28T00:00:00.000Z', until: '2026-03-01T00:00:00.000Z' });
    for (const bad of ['2026-02-30', '2026-5-1', 'today', '']) assert.throws(() => utcDayRange(bad), /not a UTC day/);
  });
});
