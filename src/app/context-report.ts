// What the next request to the model holds, by part, with the compaction threshold, the prompt
// cache's record and today's spend: `lares context` prints it, the web console shows it.
import { describeModel, type Config } from '../config/config.ts';
import { loadPrices } from '../llm/pricing.ts';
import { spendOn, todayUtc } from '../llm/usage-report.ts';
import type { MemoryStore } from '../memory/store.ts';
import type { DirectRuntime } from './direct-runtime.ts';

/** What today's model calls cost (UTC day), against the daily budget when one is set. */
export interface SpendToday { day: string; usd: number; unpricedModels: string[]; budgetUsd: number | null }

export async function spendToday(store: MemoryStore, config: Config): Promise<SpendToday> {
  const day = todayUtc();
  const spend = await spendOn(store, day, loadPrices(config.pricesFile));
  // the budget may be absent from a Config (set by LARES_DAILY_BUDGET_USD)
  const budgetUsd = (config as { budget?: { dailyUsd?: number } }).budget?.dailyUsd;
  return { day, usd: spend.usd, unpricedModels: spend.unpricedModels, budgetUsd: typeof budgetUsd === 'number' ? budgetUsd : null };
}

/** What the next request holds, by part, with the compaction threshold and cache facts (`lares context`, the web console). */
export async function contextReport(runtime: Pick<DirectRuntime, 'orchestrator' | 'compactor' | 'store'>, config: Config) {
  const context = await runtime.orchestrator.previewContext();
  const scale = (n: number) => runtime.compactor.messageTokens({ tokenCount: n, blocks: [] } as never);
  const e = context.estimate;
  const last = await runtime.store.lastUsage();
  const totals = await runtime.store.usageTotals();
  const counts = await runtime.store.counts();
  const spend = await spendToday(runtime.store, config);
  const inputSide = totals.inputTokens + totals.cacheReadTokens + totals.cacheWriteTokens;
  return {
    model: describeModel(config.models.conversation),
    tokens: {
      tools: scale(e.tools),
      system: scale(e.system - e.blocks - e.summary),
      blocks: scale(e.blocks),
      summary: scale(e.summary),
      messages: scale(e.messages),
      total: scale(e.total),
    },
    toolCount: context.request.tools.length,
    messagesInContext: context.messageIds.length,
    storedMessages: counts.messages,
    compactedMessages: counts.compactedMessages,
    summaries: counts.summaries,
    contextLimit: runtime.compactor.contextLimit,
    compactAt: runtime.compactor.thresholdTokens,
    compactTarget: runtime.compactor.targetTokens,
    lastUsage: last ? { input: last.inputTokens, cacheRead: last.cacheReadTokens, cacheWrite: last.cacheWriteTokens, output: last.outputTokens, at: last.createdAt } : null,
    cacheReadRatio: inputSide > 0 ? totals.cacheReadTokens / inputSide : null,
    calls: totals.calls,
    spendToday: spend,
  };
}

export type ContextReport = Awaited<ReturnType<typeof contextReport>>;
