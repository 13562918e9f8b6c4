// The Lares tool server from a Config: over HTTP when MCP_URL is set, in-process
// otherwise. Either way the agent gets an MCP ToolProvider and an ApprovalsClient.
import type { Config } from '../config/config.ts';
import type { MemoryStore } from '../memory/store.ts';
import { createHttpApprovalsClient, restBaseUrl, type ApprovalsClient } from './approvals-client.ts';
import { createInProcessLaresTools } from './in-process-mcp.ts';
import { connectMcpToolProvider, type McpConnectOptions, type McpToolProvider } from './mcp-client.ts';

export interface LaresTools {
  provider: McpToolProvider;
  approvals: ApprovalsClient;
  mode: 'http' | 'in-process';
  close(): Promise<void>;
}

export async function connectLaresTools(config: Config, options: McpConnectOptions & { startScheduler?: boolean; store?: MemoryStore } = {}): Promise<LaresTools> {
  if (config.mcp.url) {
    const provider = await connectMcpToolProvider({ name: 'lares-mcp', url: config.mcp.url, token: config.mcp.token }, options);
    const approvals = createHttpApprovalsClient({ baseUrl: restBaseUrl(config.mcp.url), token: config.mcp.token });
    return { provider, approvals, mode: 'http', async close() { await approvals.close(); await provider.close(); } };
  }
  const local = await createInProcessLaresTools(config, options);
  return { provider: local.provider, approvals: local.approvals, mode: 'in-process', close: local.close };
}
