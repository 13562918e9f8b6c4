// lares usage: what the model calls cost, by UTC day, model or kind of work, from the stored
// usage of every call and the price table (built in, plus LARES_PRICES_FILE).
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { LaresError } from '../errors.ts';
import { loadPrices } from '../llm/pricing.ts';
import { usageReport, type UsageBy, type UsageReport, type UsageTotals } from '../llm/usage-report.ts';
import { openStore } from '../memory/open-store.ts';
import { action, printJson } from './run.ts';
import { loadCommandConfig } from './context-helpers.ts';

const DAY_MS = 86_400_000;
const UNITS: Record<string, number> = { h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS };
const DEFAULT_DAYS = 30;

/**
 * A date typed on the command line as a stored UTC time: `2026-01-31` (a UTC day: --since from its
 * start, --until through its end), an ISO 8601 time (`2026-01-31T14:00:00Z`), or a time ago
 * (`12h`, `7d`, `2w`).
 */
export function parseUsageDate(value: string, edge: 'since' | 'until', now: Date = new Date()): string {
  const text = value.trim();
  const relative = /^(\d+)([hdw])$/.exec(text);
  if (relative) return new Date(now.getTime() - Number(relative[1]) * UNITS[relative[2]]).toISOString();
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const start = new Date(`${text}T00:00:00.000Z`);
    if (!Number.isNaN(start.getTime()) && start.toISOString().startsWith(text)) {
      return edge === 'since' ? start.toISOString() : new Date(start.getTime() + DAY_MS).toISOString();
    }
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text)) {
    const time = new Date(text);
    if (!Number.isNaN(time.getTime())) return time.toISOString();
  }
  throw new InvalidArgumentError(`"${value}" is not a date: use a UTC day like 2026-01-31, an ISO 8601 time like 2026-01-31T14:00:00Z, or a time ago like 12h, 7d or 2w`);
}

interface UsageFlags { since?: string; until?: string; by: UsageBy; json?: boolean }

export function registerUsageCommand(program: Command): void {
  program.command('usage')
    .description('What the model calls cost: calls, tokens (input, cache read, cache write, output), cache-read ratio and USD, by UTC day, model or kind of work. Prices: built in for Claude and OpenAI models, or from LARES_PRICES_FILE.')
    .option('--since <date>', `from this time: 2026-01-31 (UTC), an ISO 8601 time, or a time ago like 7d (default: ${DEFAULT_DAYS} days before --until)`, (v) => parseUsageDate(v, 'since'))
    .option('--until <date>', 'up to this time: 2026-01-31 counts that whole UTC day (default: now)', (v) => parseUsageDate(v, 'until'))
    .addOption(new Option('--by <grouping>', 'one row per UTC day, per model, or per kind of work (conversation, perch, job, compaction)').choices(['day', 'model', 'kind']).default('day'))
    .option('--json', 'print {since, until, by, rows: [{day|model|kind, calls, inputTokens, cacheReadTokens, cacheWriteTokens, outputTokens, cacheReadRatio, costUsd, pricedCostUsd, unpricedModels}], totals}')
    .addHelpText('after', '\nDays are UTC days. A model without a price shows "?" as its cost; give it one in a JSON file named by LARES_PRICES_FILE:\n  {"qwen3:8b": {"input": 0, "output": 0}, "my-model": {"input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75}}   (USD per million tokens)\n\nExamples:\n  lares usage\n  lares usage --since 7d --by kind\n  lares usage --since 2026-05-01 --until 2026-05-31 --by model --json')
    .action(action(async (options: UsageFlags) => {
      const until = options.until;
      const since = options.since ?? new Date((until ? Date.parse(until) : Date.now()) - DEFAULT_DAYS * DAY_MS).toISOString();
      if (until !== undefined && since >= until) {
        throw new LaresError('USAGE', `--since (${since}) must be before --until (${until})`);
      }
      const config = loadCommandConfig({ quiet: true });
      const prices = loadPrices(config.pricesFile);
      const store = await openStore(config);
      try {
        const report = await usageReport(store, { since, until, by: options.by }, prices);
        if (options.json) {
          return printJson({
            since: report.since, until: report.until, by: report.by,
            rows: report.rows.map(({ key, ...row }) => ({ [report.by]: key, ...row })),
            totals: report.totals,
          });
        }
        process.stdout.write(formatReport(report));
      } finally {
        await store.close();
      }
    }));
}

const count = (n: number): string => n.toLocaleString('en-US');
const percent = (ratio: number | null): string => (ratio === null ? '-' : `${(ratio * 100).toFixed(1)}%`);
const usd = (t: UsageTotals): string => (t.costUsd === null ? '?' : `$${t.costUsd.toFixed(4)}`);

export function formatReport(report: UsageReport): string {
  const range = `${report.since ?? 'the start'} to ${report.until ?? 'now'}`;
  if (report.rows.length === 0) return `No model calls from ${range}.\n`;
  const header = [report.by, 'calls', 'input', 'cache read', 'cache write', 'output', 'cache read %', 'cost'];
  const line = (key: string, t: UsageTotals) => [key, count(t.calls), count(t.inputTokens), count(t.cacheReadTokens), count(t.cacheWriteTokens), count(t.outputTokens), percent(t.cacheReadRatio), usd(t)];
  const table = [header, ...report.rows.map((r) => line(r.key, r)), line('total', report.totals)];
  const widths = header.map((_, i) => Math.max(...table.map((cells) => cells[i].length)));
  const render = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const lines = [
    `Model calls from ${range} (UTC), by ${report.by}:`,
    '',
    render(header),
    rule,
    ...table.slice(1, -1).map(render),
    rule,
    render(table.at(-1)!),
  ];
  const unpriced = report.totals.unpricedModels;
  if (unpriced.length > 0) {
    lines.push('', `? = no price for ${unpriced.join(', ')} (priced calls alone: $${report.totals.pricedCostUsd.toFixed(4)}).`,
      `  Give ${unpriced.length === 1 ? 'it' : 'them'} a price in a JSON file named by LARES_PRICES_FILE, in USD per million tokens, e.g.`,
      `  ${JSON.stringify(Object.fromEntries(unpriced.slice(0, 2).map((m) => [m, { input: 0, output: 0 }])))}`);
  }
  return `${lines.join('\n')}\n`;
}
