// Loading config + runtime for commands, with the start-up line that says which mode was chosen.
import { loadConfig, type Config } from '../config/config.ts';
import { loadPrices } from '../llm/pricing.ts';
import { spendOn, todayUtc } from '../llm/usage-report.ts';
import { createLogger, log, setLogger } from '../log.ts';
import type { MemoryStore } from '../memory/store.ts';

/** Loads the configuration; quiet commands log only warnings unless LOG_LEVEL says otherwise. */
export function loadCommandConfig(options: { quiet?: boolean } = {}): Config {
  const config = loadConfig();
  const level = config.env.LOG_LEVEL ?? (options.quiet ? 'warn' : 'info');
  setLogger(createLogger({ level }));
  return config;
}

/** Says which mode was chosen and why: a log event, and a plain stderr line for interactive commands. */
export function announceMode(config: Config, options: { plain?: boolean } = {}): void {
  const line = `Lares runs in ${config.mode} mode (${config.modeReason})`;
  log().info({ event: 'mode', mode: config.mode, reason: config.modeReason, memory: config.memoryProvider }, line);
  if (options.plain && !log().isLevelEnabled('info')) process.stderr.write(`lares: ${line}\n`);
}

/** What today's model calls cost (UTC day), against the daily budget when one is set. */
export interface SpendToday { day: string; usd: number; unpricedModels: string[]; budgetUsd: number | null }

export async function spendToday(store: MemoryStore, config: Config): Promise<SpendToday> {
  const day = todayUtc();
  const spend = await spendOn(store, day, loadPrices(config.pricesFile));
  // the budget may be absent from a Config (set by LARES_DAILY_BUDGET_USD)
  const budgetUsd = (config as { budget?: { dailyUsd?: number } }).budget?.dailyUsd;
  return { day, usd: spend.usd, unpricedModels: spend.unpricedModels, budgetUsd: typeof budgetUsd === 'number' ? budgetUsd : null };
}

/** "Today's spend: $0.0123 of $2.00 (UTC day 2026-05-01)", with the models it leaves out. */
export function formatSpendToday(spend: SpendToday): string {
  const budget = spend.budgetUsd === null ? '' : ` of $${spend.budgetUsd.toFixed(2)}`;
  const unpriced = spend.unpricedModels.length === 0 ? '' : `; not counting ${spend.unpricedModels.join(', ')} (no price: see LARES_PRICES_FILE)`;
  return `Today's spend: $${spend.usd.toFixed(4)}${budget} (UTC day ${spend.day})${unpriced}`;
}
