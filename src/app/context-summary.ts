// `lares context` in a few lines, for a chat message (Telegram's /context).
import { contextReport } from './context-report.ts';
import type { DirectRuntime } from './direct-runtime.ts';

export async function contextSummary(runtime: DirectRuntime): Promise<string> {
  const r = await contextReport(runtime, runtime.config);
  const t = r.tokens;
  const spend = r.spendToday;
  return [
    `Context for the next turn (${r.model}): about ${t.total} tokens, ${((100 * t.total) / r.contextLimit).toFixed(1)}% of ${r.contextLimit}; compaction at ${r.compactAt}.`,
    `tools ${t.tools} (${r.toolCount}) · system ${t.system} · memory blocks ${t.blocks} · summary ${t.summary} · messages ${t.messages} (${r.messagesInContext} in context of ${r.storedMessages})`,
    r.cacheReadRatio === null ? 'No model calls yet.' : `Cache reads: ${(r.cacheReadRatio * 100).toFixed(1)}% of input tokens over ${r.calls} calls.`,
    `Today (${spend.day} UTC): $${spend.usd.toFixed(2)}${spend.budgetUsd !== null ? ` of $${spend.budgetUsd.toFixed(2)}` : ''}.`,
  ].join('\n');
}
