// Shared set-up for the MCP tests: a temp workspace, a Config, a running server and a real SDK client.
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { createLogger, setLogger } from '../../src/log.ts';
import { startMcpHttpServer, type McpHttpServer } from '../../src/mcp-server/http.ts';

setLogger(createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false }));

export const TOKEN = 'test-token-0123456789abcdef';

export interface Workspace { dir: string; allowed: string; vault: string; outside: string; db: string; cleanup(): void }

export function makeWorkspace(): Workspace {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'lares-mcp-')));
  const allowed = join(dir, 'allowed');
  const vault = join(allowed, 'vault');
  const outside = join(dir, 'outside');
  for (const d of [allowed, vault, outside]) mkdirSync(d, { recursive: true });
  return { dir, allowed, vault, outside, db: join(dir, 'data', 'lares.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function makeConfig(ws: Workspace, extra: Record<string, string> = {}): Config {
  return loadConfig({
    USE_DIRECT_LLM: 'true',
    SQLITE_DB_PATH: ws.db,
    LARES_ALLOWED_PATHS: ws.allowed,
    OBSIDIAN_VAULT_PATH: ws.vault,
    LARES_MCP_TOKEN: TOKEN,
    MCP_HOST: '127.0.0.1',
    MCP_PORT: '0',
    ...extra,
  });
}

export async function connectClient(server: McpHttpServer, token: string | undefined = TOKEN): Promise<Client> {
  const client = new Client({ name: 'lares-test', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(server.url), token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {});
  await client.connect(transport);
  return client;
}

export async function startServer(config: Config): Promise<McpHttpServer> {
  return startMcpHttpServer(config, { host: '127.0.0.1', port: 0 });
}

export function textOf(result: unknown): string {
  const content = ((result as { content?: unknown }).content ?? []) as Array<{ type: string; text?: string }>;
  return content.filter((c) => c.type === 'text').map((c) => c.text ?? '').join('\n');
}

/** `token: null` sends no Authorization header. */
export async function rest(server: McpHttpServer, method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<{ status: number; json: any }> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

export interface SseEvent { id: string; event: string; data: any }

/** Reads the /events stream until `until` says stop; returns the events seen. */
export async function readEvents(server: McpHttpServer, options: { lastEventId?: string; until(events: SseEvent[]): boolean; token?: string }): Promise<SseEvent[]> {
  const controller = new AbortController();
  const response = await fetch(`${server.baseUrl}/events`, {
    headers: { authorization: `Bearer ${options.token ?? TOKEN}`, ...(options.lastEventId !== undefined ? { 'last-event-id': options.lastEventId } : {}) },
    signal: controller.signal,
  });
  if (response.status !== 200) throw new Error(`/events answered ${response.status}`);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let index;
      while ((index = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
        }
        if (fields.data !== undefined) events.push({ id: fields.id, event: fields.event, data: (JSON.parse(fields.data) as { data: unknown }).data });
      }
      if (options.until(events)) break;
    }
  } finally {
    controller.abort();
  }
  return events;
}
