// The MCP side of direct mode's tools: the Lares MCP server at MCP_URL (or the built-in
// tools in-process when it is unset) with its approval queue, plus any extra servers
// from LARES_MCP_SERVERS_FILE.
import type { Config } from '../config/config.ts';
import type { MemoryStore } from '../memory/store.ts';
import type { ApprovalsClient } from '../tools/approvals-client.ts';
import { connectLaresTools } from '../tools/mcp-lares.ts';
import { connectMcpServersFile } from '../tools/mcp-servers-file.ts';
import type { ToolDefinition, ToolProvider } from '../tools/types.ts';

export interface McpTools {
  providers: ToolProvider[];
  approvals: ApprovalsClient;
  mode: 'http' | 'in-process';
  close(): Promise<void>;
}

export async function connectMcpTools(config: Config, options: { startScheduler?: boolean; onToolsChanged?: (tools: ToolDefinition[]) => void; store?: MemoryStore } = {}): Promise<McpTools> {
  const lares = await connectLaresTools(config, { startScheduler: options.startScheduler, onToolsChanged: options.onToolsChanged, store: options.store });
  let extra: ToolProvider[] = [];
  try {
    extra = config.mcp.serversFile ? await connectMcpServersFile(config.mcp.serversFile, { onToolsChanged: options.onToolsChanged }) : [];
  } catch (error) {
    await lares.close();
    throw error;
  }
  return {
    providers: [lares.provider, ...extra],
    approvals: lares.approvals,
    mode: lares.mode,
    async close() {
      await Promise.allSettled(extra.map((p) => p.close?.()));
      await lares.close();
    },
  };
}

/** For inspection commands: the tool providers only. */
export async function mcpToolProviders(config: Config): Promise<{ providers: ToolProvider[]; close(): Promise<void> }> {
  const tools = await connectMcpTools(config, { startScheduler: false });
  return { providers: tools.providers, close: tools.close };
}
