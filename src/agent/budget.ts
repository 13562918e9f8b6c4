// The daily spending cap (LARES_DAILY_BUDGET_USD). Today's spend is the stored usage of this
// UTC day priced by the price table (src/llm/pricing.ts). When it reaches the cap, background
// turns (perch time, scheduled jobs) make no model call; conversation turns still answer and
// say so once a day (soft, the default), or answer only with that notice (hard).
import type { MemoryStore } from '../memory/store.ts';
import type { PriceTable } from '../llm/pricing.ts';
import { spendOn, todayUtc } from '../llm/usage-report.ts';
import type { TurnSource } from './types.ts';

export interface BudgetSettings { dailyUsd: number; mode: 'soft' | 'hard' }

export interface BudgetStatus {
  day: string;
  spentUsd: number;
  dailyUsd: number;
  mode: 'soft' | 'hard';
  reached: boolean;
  /** models used today that have no price (their spend is not counted) */
  unpricedModels: string[];
}

const NOTICE_META_KEY = 'budget_notice_day';

/** Turns nobody typed: they stop at the cap. */
export function isBackground(source: TurnSource): boolean {
  return source === 'perch' || source === 'job';
}

export class Budget {
  private readonly store: MemoryStore;
  private readonly prices: PriceTable;
  readonly settings: BudgetSettings;

  constructor(store: MemoryStore, prices: PriceTable, settings: BudgetSettings) {
    this.store = store;
    this.prices = prices;
    this.settings = settings;
  }

  async status(): Promise<BudgetStatus> {
    const day = todayUtc();
    const spend = await spendOn(this.store, day, this.prices);
    return { day, spentUsd: spend.usd, dailyUsd: this.settings.dailyUsd, mode: this.settings.mode, reached: spend.usd >= this.settings.dailyUsd, unpricedModels: spend.unpricedModels };
  }

  /** The notice for a conversation reply, once per UTC day in soft mode (every reply in hard mode). */
  async notice(status: BudgetStatus): Promise<string | undefined> {
    if (!status.reached) return undefined;
    if (status.mode === 'soft') {
      if ((await this.store.getMeta(NOTICE_META_KEY)) === status.day) return undefined;
      await this.store.setMeta(NOTICE_META_KEY, status.day);
    }
    return budgetNotice(status);
  }
}

export function budgetNotice(status: BudgetStatus): string {
  const spent = `$${status.spentUsd.toFixed(2)} of $${status.dailyUsd.toFixed(2)}`;
  return status.mode === 'hard'
    ? `[Today's model spend has reached the daily cap (${spent}, LARES_DAILY_BUDGET_USD, hard mode), so I am not calling the model until the cap resets at 00:00 UTC. Your message is saved; I will see it then.]`
    : `[Today's model spend has reached the daily cap (${spent}, LARES_DAILY_BUDGET_USD): perch time and scheduled jobs are paused until 00:00 UTC. I still answer you.]`;
}
