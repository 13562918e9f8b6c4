// The agent's one view of all tools: local providers first, then MCP servers. Names are
// resolved predictably: the first provider to offer a name keeps it; a later clash is exposed
// as `<provider>__<tool>`. Tools are listed in a stable order so the cached prompt prefix stays put.
import { errorMessage } from '../errors.ts';
import { INVALID_ARGUMENTS_KEY } from '../llm/content.ts';
import { log } from '../log.ts';
import type { ToolCallContext, ToolDefinition, ToolOutcome, ToolProvider } from './types.ts';

const MAX_RESULT_CHARS = 60_000;

interface Route { provider: ToolProvider; originalName: string; definition: ToolDefinition }

export class ToolRouter {
  private readonly providers: ToolProvider[];
  private routes = new Map<string, Route>();
  private unavailableProviders: string[] = [];

  constructor(providers: ToolProvider[]) {
    this.providers = providers;
  }

  /** Lists every provider's tools again (at start, and when a server says its list changed). */
  async refresh(): Promise<void> {
    const routes = new Map<string, Route>();
    const unavailable: string[] = [];
    for (const provider of this.providers) {
      let tools: ToolDefinition[];
      try {
        tools = await provider.listTools();
      } catch (error) {
        unavailable.push(provider.name);
        log().warn({ event: 'tools_unavailable', provider: provider.name, err: errorMessage(error) }, `tools from ${provider.name} are unavailable`);
        continue;
      }
      for (const tool of [...tools].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        // MCP allows names the Messages API refuses (dots, slashes): one such tool would fail every request
        const valid = tool.name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 128);
        const name = routes.has(valid) ? `${provider.name}__${tool.name}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) : valid;
        if (routes.has(name)) {
          log().warn({ event: 'tool_name_clash', provider: provider.name, tool: tool.name }, 'duplicate tool name even after prefixing; skipped');
          continue;
        }
        if (name !== tool.name) log().info({ event: 'tool_renamed', provider: provider.name, tool: tool.name, as: name }, 'tool name clash: renamed');
        routes.set(name, { provider, originalName: tool.name, definition: { ...tool, name } });
      }
    }
    this.routes = routes;
    this.unavailableProviders = unavailable;
    if (routes.size === 0) log().warn({ event: 'no_tools' }, 'No tools available: check that the MCP server is running (MCP_URL) ');
  }

  definitions(): ToolDefinition[] {
    return [...this.routes.values()].map((r) => r.definition);
  }

  /** Providers that are down (failed to list, or an MCP server that is unreachable), with why. */
  unavailable(): string[] {
    const down = this.providers
      .filter((p) => !this.unavailableProviders.includes(p.name) && (p as { unavailableReason?: string }).unavailableReason)
      .map((p) => `${p.name} (${(p as { unavailableReason?: string }).unavailableReason})`);
    return [...this.unavailableProviders, ...down];
  }

  has(name: string): boolean {
    return this.routes.has(name);
  }

  async call(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutcome> {
    const route = this.routes.get(name);
    if (!route) {
      const known = [...this.routes.keys()].join(', ');
      return { content: `Unknown tool "${name}". Available tools: ${known || 'none'}.`, isError: true };
    }
    const broken = args[INVALID_ARGUMENTS_KEY];
    if (typeof broken === 'string') {
      return { content: `The arguments of this ${name} call were not a valid JSON object: ${broken.slice(0, 500)}. Call ${name} again with a JSON object that matches its input schema.`, isError: true };
    }
    let outcome: ToolOutcome;
    try {
      outcome = await route.provider.callTool(route.originalName, args, context);
    } catch (error) {
      outcome = { content: `${name} failed: ${errorMessage(error)}`, isError: true };
    }
    return capOutcome(outcome);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.providers.map((p) => p.close?.()));
  }
}

function capOutcome(outcome: ToolOutcome): ToolOutcome {
  if (typeof outcome.content === 'string') return { ...outcome, content: capText(outcome.content, MAX_RESULT_CHARS) };
  // text blocks share the budget; images are passed as they are (the API sizes them itself)
  let budget = MAX_RESULT_CHARS;
  const content = outcome.content.map((block) => {
    if (block.type !== 'text') return block;
    const text = capText(block.text, Math.max(0, budget));
    budget -= block.text.length;
    return { ...block, text };
  });
  return { ...outcome, content };
}

function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n… [result truncated: ${text.length - max} more characters]`;
}
