// The MCP face of the Lares tools: one McpServer per session (an McpServer serves
// one transport), all sharing one LaresToolRuntime.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pendingStructured, pendingText, type LaresToolRuntime } from './runtime.ts';

export function createLaresMcpServer(runtime: LaresToolRuntime): McpServer {
  const server = new McpServer(
    { name: 'lares', version: runtime.version, title: 'Lares tools' },
    { instructions: 'Tools of Lares, a personal agent. Some calls are queued for the owner\'s approval: a result that starts with "PENDING APPROVAL — NOT DONE" means nothing happened yet.' },
  );
  for (const definition of runtime.definitions()) {
    const handler = async (args: Record<string, unknown>): Promise<CallToolResult> => {
      const result = await runtime.call(definition.name, args);
      if (result.kind === 'pending') {
        return { content: [{ type: 'text', text: pendingText(result.approval) }], structuredContent: pendingStructured(result.approval) };
      }
      return { content: [{ type: 'text', text: result.text }], ...(result.isError ? { isError: true } : {}) };
    };
    server.registerTool(definition.name, {
      title: definition.annotations.title,
      description: definition.description,
      inputSchema: definition.inputShape,
      annotations: definition.annotations,
    }, handler as never);
  }
  return server;
}
