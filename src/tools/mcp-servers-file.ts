// Extra MCP servers from a file in the standard shape (Claude Desktop, Cursor...):
//   { "mcpServers": {
//       "everything": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"], "env": {} },
//       "remote":     { "url": "https://example.org/mcp", "headers": { "Authorization": "Bearer ..." } } } }
// A server may carry "disabled": true. Order in the file is the order of precedence
// when tool names clash (see tool-router.ts).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { LaresError } from '../errors.ts';
import { connectMcpToolProvider, type McpConnectOptions, type McpServerSpec, type McpToolProvider } from './mcp-client.ts';

const stringMap = z.record(z.string(), z.string());
const entrySchema = z.union([
  z.object({ command: z.string().min(1), args: z.array(z.string()).optional(), env: stringMap.optional(), cwd: z.string().optional(), disabled: z.boolean().optional() }).strict(),
  z.object({ url: z.string().url(), headers: stringMap.optional(), type: z.string().optional(), disabled: z.boolean().optional() }).strict(),
], { error: 'expected {"command", "args"?, "env"?} for a stdio server or {"url", "headers"?} for an HTTP server' });
const fileSchema = z.object({ mcpServers: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,48}$/, 'server names use letters, digits, _ . - (at most 48)'), entrySchema) });

/** Reads and validates the file; errors name the server and the field. */
export function readMcpServersFile(path: string): McpServerSpec[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : `not valid JSON (${(error as Error).message})`;
    throw new LaresError('CONFIG_INVALID', `LARES_MCP_SERVERS_FILE=${path}: ${reason}. Expected {"mcpServers": {"name": {"command": ..., "args": [...]}}}.`, { cause: error });
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new LaresError('CONFIG_INVALID', `LARES_MCP_SERVERS_FILE=${path} is not a valid mcpServers file:\n${lines.join('\n')}`);
  }
  const specs: McpServerSpec[] = [];
  for (const [name, entry] of Object.entries(parsed.data.mcpServers)) {
    if (entry.disabled) continue;
    if ('command' in entry) {
      specs.push({ name, command: entry.command, args: entry.args, env: entry.env, cwd: entry.cwd ? resolve(dirname(path), entry.cwd) : undefined });
    } else {
      specs.push({ name, url: entry.url, headers: entry.headers });
    }
  }
  return specs;
}

/** Connects every server in the file (in parallel); a server that is down is kept and reported, never fatal. */
export async function connectMcpServersFile(path: string, options: McpConnectOptions = {}): Promise<McpToolProvider[]> {
  const specs = readMcpServersFile(path);
  return Promise.all(specs.map((spec) => connectMcpToolProvider(spec, options)));
}
