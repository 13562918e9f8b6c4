// Many ToolProviders seen as one: the tool registry. Tool names must be unique for
// the model, so clashes are resolved predictably: providers are taken in the order
// given (local tools, then Lares's MCP server, then the mcpServers file in file
// order); the first provider keeps the plain name, a later one's tool is renamed
// `<provider>__<tool>` (characters outside [A-Za-z0-9_-] become _, cut to 64).
import { log } from '../log.ts';
import { errorOutcome, type ToolCallContext, type ToolDefinition, type ToolOutcome, type ToolProvider } from './types.ts';

interface Route { provider: ToolProvider; originalName: string }

export class ToolRegistry implements ToolProvider {
  readonly name = 'registry';
  readonly providers: ToolProvider[];
  #routes = new Map<string, Route>();

  constructor(providers: ToolProvider[]) {
    this.providers = providers;
  }

  async listTools(): Promise<ToolDefinition[]> {
    const lists = await Promise.all(this.providers.map(async (provider) => {
      try { return await provider.listTools(); } catch (error) {
        log().warn({ provider: provider.name, err: error }, 'tool registry: listing tools failed');
        return [];
      }
    }));
    const routes = new Map<string, Route>();
    const definitions: ToolDefinition[] = [];
    this.providers.forEach((provider, index) => {
      for (const tool of lists[index]) {
        let name = tool.name;
        if (routes.has(name)) {
          name = qualifiedName(provider.name, tool.name);
          if (routes.has(name)) {
            log().warn({ provider: provider.name, tool: tool.name }, 'tool registry: duplicate tool name even after prefixing; skipped');
            continue;
          }
          log().info({ provider: provider.name, tool: tool.name, as: name }, 'tool registry: name clash, tool renamed');
        }
        routes.set(name, { provider, originalName: tool.name });
        definitions.push(name === tool.name ? tool : { ...tool, name });
      }
    });
    this.#routes = routes;
    return definitions;
  }

  async callTool(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutcome> {
    if (!this.#routes.has(name)) await this.listTools();
    const route = this.#routes.get(name);
    if (!route) return errorOutcome(`unknown tool ${name}: it is not offered by any connected tool provider (${this.providers.map((p) => p.name).join(', ')})`);
    return route.provider.callTool(route.originalName, args, context);
  }

  /** Providers that are down, with why: for the "these tools are unavailable" line. */
  unavailable(): Array<{ name: string; reason: string }> {
    const out: Array<{ name: string; reason: string }> = [];
    for (const provider of this.providers) {
      const reason = (provider as { unavailableReason?: string }).unavailableReason;
      if (reason) out.push({ name: provider.name, reason });
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.providers.map((p) => p.close?.().catch(() => undefined)));
  }
}

export function qualifiedName(provider: string, tool: string): string {
  return `${provider}__${tool}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}
