// `lares mcp --stdio`: the same tools for Claude Desktop or any MCP client that
// spawns its servers. stdout carries the protocol; logs go to stderr.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Config } from '../config/config.ts';
import { log } from '../log.ts';
import { LaresToolRuntime } from './runtime.ts';
import { createLaresMcpServer } from './server.ts';

export async function runMcpStdioServer(config: Config, options: { version?: string } = {}): Promise<{ close(): Promise<void> }> {
  const runtime = await LaresToolRuntime.open(config, { version: options.version });
  const server = createLaresMcpServer(runtime);
  const transport = new StdioServerTransport();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close().catch(() => undefined);
    await runtime.close();
  };
  transport.onclose = () => { void close(); };
  await server.connect(transport);
  log().info({ tools: runtime.definitions().length }, 'lares mcp serving on stdio');
  return { close };
}
