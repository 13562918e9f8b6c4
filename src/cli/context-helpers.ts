// Loading config + runtime for commands, with the start-up line that says which mode was chosen.
import { loadConfig, type Config } from '../config/config.ts';
import type { SpendToday } from '../app/context-report.ts';
import { createLogger, log, setLogger } from '../log.ts';

// where they were first: `lares usage` tests and other callers import them from here
export { spendToday, type SpendToday } from '../app/context-report.ts';

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

/** "Today's spend: $0.0123 of $2.00 (UTC day 2026-05-01)", with the models it leaves out. */
export function formatSpendToday(spend: SpendToday): string {
  const budget = spend.budgetUsd === null ? '' : ` of $${spend.budgetUsd.toFixed(2)}`;
  const unpriced = spend.unpricedModels.length === 0 ? '' : `; not counting ${spend.unpricedModels.join(', ')} (no price: see LARES_PRICES_FILE)`;
  return `Today's spend: $${spend.usd.toFixed(4)}${budget} (UTC day ${spend.day})${unpriced}`;
}

