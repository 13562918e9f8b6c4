// The MCP tool providers for direct mode: the Lares MCP server at MCP_URL, or the built-in
// tools in-process when it is unset, plus any extra servers from LARES_MCP_SERVERS_FILE.
import type { Config } from '../config/config.ts';
import type { ToolProvider } from '../tools/types.ts';

export async function mcpToolProviders(_config: Config): Promise<ToolProvider[]> {
  return [];
}
