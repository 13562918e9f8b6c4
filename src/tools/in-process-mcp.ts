// With MCP_URL unset, the built-in Lares tools run inside this process, yet the
// agent still reaches them through the MCP client over a linked in-memory
// transport pair: one code path for local and remote tools.
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Config } from '../config/config.ts';
import type { MemoryStore } from '../memory/store.ts';
import { LaresToolRuntime, type RuntimeOptions } from '../mcp-server/runtime.ts';
import { createLaresMcpServer } from '../mcp-server/server.ts';
import { createLocalApprovalsClient, type ApprovalsClient } from './approvals-client.ts';
import { McpToolProvider, type McpConnectOptions } from './mcp-client.ts';

export interface InProcessLaresTools {
  provider: McpToolProvider;
  approvals: ApprovalsClient;
  runtime: LaresToolRuntime;
  close(): Promise<void>;
}

export async function createInProcessLaresTools(config: Config, options: McpConnectOptions & RuntimeOptions & { name?: string; store?: MemoryStore } = {}): Promise<InProcessLaresTools> {
  const runtime = await LaresToolRuntime.open(config, { startScheduler: options.startScheduler, store: options.store });
  const servers: McpServer[] = [];
  const provider = new McpToolProvider({
    name: options.name ?? 'lares',
    async createTransport() {
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      const server = createLaresMcpServer(runtime);
      servers.push(server);
      await server.connect(serverSide);
      return clientSide;
    },
  }, { attempts: 1, ...options });
  try {
    await provider.start();
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const approvals = createLocalApprovalsClient(runtime);
  return {
    provider, approvals, runtime,
    async close() {
      await approvals.close();
      await provider.close();
      for (const server of servers) await server.close().catch(() => undefined);
      await runtime.close();
    },
  };
}
