// What the model calls cost, from the stored usage (llm_usage) and a price table: a report by UTC
// day, model or kind of work (`lares usage`), and one day's spend (`lares context`, the daily budget).
import { LaresError } from '../errors.ts';
import type { MemoryStore, UsageGroup } from '../memory/store.ts';
import { costOf, type PriceTable } from './pricing.ts';

export type UsageBy = 'day' | 'model' | 'kind';

/** What the calls were for: conversation (turns from a person, approvals, system events), perch ticks, scheduled jobs, compaction. */
export type UsageCategory = 'conversation' | 'perch' | 'job' | 'compaction';
const CATEGORY_ORDER: UsageCategory[] = ['conversation', 'perch', 'job', 'compaction'];

export function categoryOf(group: Pick<UsageGroup, 'kind' | 'source'>): UsageCategory {
  if (group.kind === 'compaction') return 'compaction';
  if (group.source === 'perch') return 'perch';
  if (group.source === 'job') return 'job';
  return 'conversation';
}

export interface UsageTotals {
  calls: number;
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  /** cache read ÷ (input + cache read + cache write); null without input */
  cacheReadRatio: number | null;
  /** USD; null when a model of these calls has no price */
  costUsd: number | null;
  /** USD of the calls whose model has a price (= costUsd when every model has one) */
  pricedCostUsd: number;
  /** models of these calls without a price, by name */
  unpricedModels: string[];
}

export interface UsageRow extends UsageTotals {
  /** the UTC day (YYYY-MM-DD), the model, or the category, by what the report is grouped by */
  key: string;
}

export interface UsageReport {
  by: UsageBy;
  since: string | null;
  until: string | null;
  rows: UsageRow[];
  totals: UsageTotals;
}

/** Sums of fractions of a cent carry float noise (0.053399999999999996): nano-dollars are plenty. */
function roundUsd(usd: number): number {
  return Math.round(usd * 1e9) / 1e9;
}

class Sum {
  calls = 0; inputTokens = 0; cacheReadTokens = 0; cacheWriteTokens = 0; outputTokens = 0; pricedCostUsd = 0;
  readonly unpriced = new Set<string>();

  add(group: UsageGroup, prices: PriceTable): void {
    this.calls += group.calls;
    this.inputTokens += group.inputTokens;
    this.cacheReadTokens += group.cacheReadTokens;
    this.cacheWriteTokens += group.cacheWriteTokens;
    this.outputTokens += group.outputTokens;
    const cost = costOf(group, prices);
    if (cost === undefined) this.unpriced.add(group.model);
    else this.pricedCostUsd += cost;
  }

  totals(): UsageTotals {
    const inputSide = this.inputTokens + this.cacheReadTokens + this.cacheWriteTokens;
    const unpricedModels = [...this.unpriced].sort();
    return {
      calls: this.calls, inputTokens: this.inputTokens, cacheReadTokens: this.cacheReadTokens, cacheWriteTokens: this.cacheWriteTokens, outputTokens: this.outputTokens,
      cacheReadRatio: inputSide > 0 ? this.cacheReadTokens / inputSide : null,
      costUsd: unpricedModels.length > 0 ? null : roundUsd(this.pricedCostUsd),
      pricedCostUsd: roundUsd(this.pricedCostUsd),
      unpricedModels,
    };
  }
}

function keyOf(group: UsageGroup, by: UsageBy): string {
  if (by === 'day') return group.day;
  if (by === 'model') return group.model;
  return categoryOf(group);
}

function compareRows(by: UsageBy): (a: UsageRow, b: UsageRow) => number {
  if (by === 'kind') return (a, b) => CATEGORY_ORDER.indexOf(a.key as UsageCategory) - CATEGORY_ORDER.indexOf(b.key as UsageCategory);
  // models: the most expensive first
  if (by === 'model') return (a, b) => b.pricedCostUsd - a.pricedCostUsd || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** Token counts, calls, cache-read ratio and cost of the calls in [since, until), grouped by day, model or kind of work. */
export async function usageReport(store: MemoryStore, options: { since?: string; until?: string; by: UsageBy }, prices: PriceTable): Promise<UsageReport> {
  const groups = await store.usageSummary({ since: options.since, until: options.until });
  const rows = new Map<string, Sum>();
  const all = new Sum();
  for (const group of groups) {
    const key = keyOf(group, options.by);
    let sum = rows.get(key);
    if (!sum) rows.set(key, sum = new Sum());
    sum.add(group, prices);
    all.add(group, prices);
  }
  return {
    by: options.by,
    since: options.since ?? null,
    until: options.until ?? null,
    rows: [...rows].map(([key, sum]) => ({ key, ...sum.totals() })).sort(compareRows(options.by)),
    totals: all.totals(),
  };
}

/** Today's UTC day, YYYY-MM-DD: the day a daily budget counts. */
export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/** A UTC day's bounds as stored times: [start, start of the next day). */
export function utcDayRange(dayUtc: string): { since: string; until: string } {
  const start = /^\d{4}-\d{2}-\d{2}$/.test(dayUtc) ? new Date(`${dayUtc}T00:00:00.000Z`) : new Date(NaN);
  if (Number.isNaN(start.getTime()) || start.toISOString().slice(0, 10) !== dayUtc) {
    throw new LaresError('USAGE', `"${dayUtc}" is not a UTC day; expected YYYY-MM-DD like 2026-01-31`);
  }
  return { since: start.toISOString(), until: new Date(start.getTime() + 86_400_000).toISOString() };
}

/** What the calls of one UTC day cost: the USD of the priced ones, and the models that have no price. */
export async function spendOn(store: MemoryStore, dayUtc: string, prices: PriceTable): Promise<{ usd: number; unpricedModels: string[] }> {
  const sum = new Sum();
  for (const group of await store.usageSummary(utcDayRange(dayUtc))) sum.add(group, prices);
  return { usd: roundUsd(sum.pricedCostUsd), unpricedModels: [...sum.unpriced].sort() };
}
