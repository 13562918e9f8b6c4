// lares context: what the next request to the model holds, in tokens by part, and how well
// the prompt cache is doing.
import type { Command } from 'commander';
import { createDirectRuntime } from '../app/direct-runtime.ts';
import { action, printJson } from './run.ts';
import { contextReport } from '../app/context-report.ts';
import { formatSpendToday, loadCommandConfig } from './context-helpers.ts';
import { mcpToolProviders } from '../app/tool-providers.ts';

export function registerContextCommand(program: Command): void {
  program.command('context')
    .description('Show the context the next turn starts from: tokens by part (tools, system, memory blocks, summary, messages), the compaction threshold, the last call\'s usage and the cache-read ratio.')
    .option('--json', 'print JSON')
    .action(action(async (options: { json?: boolean }) => {
      const config = loadCommandConfig({ quiet: true });
      const mcp = await mcpToolProviders(config);
      // an open MCP connection keeps the process alive: close it if the runtime cannot start
      const runtime = await createDirectRuntime(config, { modelOptional: true, toolProviders: mcp.providers })
        .catch(async (error: unknown) => { await mcp.close(); throw error; });
      try {
        const report = await contextReport(runtime, config);
        if (options.json) return printJson(report);
        const t = report.tokens;
        const pct = (n: number) => `${((100 * n) / report.contextLimit).toFixed(1)}%`;
        const lines = [
          `Context for the next turn (${report.model}), estimated tokens:`,
          `  tools      ${String(t.tools).padStart(8)}  (${report.toolCount} tools)`,
          `  system     ${String(t.system).padStart(8)}`,
          `  blocks     ${String(t.blocks).padStart(8)}`,
          `  summary    ${String(t.summary).padStart(8)}`,
          `  messages   ${String(t.messages).padStart(8)}  (${report.messagesInContext} in context of ${report.storedMessages} stored, ${report.compactedMessages} compacted into ${report.summaries} summaries)`,
          `  total      ${String(t.total).padStart(8)}  = ${pct(t.total)} of the context limit ${report.contextLimit}${report.contextLimit < config.contextLimit ? ` (the model's window; CONTEXT_LIMIT is ${config.contextLimit})` : ''}; compaction at ${report.compactAt}, down to ${report.compactTarget}`,
          report.lastUsage
            ? `Last call: ${report.lastUsage.input} input + ${report.lastUsage.cacheRead} cache read + ${report.lastUsage.cacheWrite} cache write, ${report.lastUsage.output} output (${report.lastUsage.at})`
            : 'No model calls yet.',
          report.cacheReadRatio === null ? '' : `Cache-read ratio over ${report.calls} calls: ${(report.cacheReadRatio * 100).toFixed(1)}% of input tokens`,
          formatSpendToday(report.spendToday),
        ];
        process.stdout.write(`${lines.filter(Boolean).join('\n')}\n`);
      } finally {
        await runtime.close();
        await mcp.close();
      }
    }));
}
