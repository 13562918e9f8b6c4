// An MCP server as a ToolProvider: the agent's side of "tools over MCP". Speaks the
// official SDK Client over Streamable HTTP (with a bearer token), stdio, or an
// in-memory transport (the built-in tools in-process). Connects with retries,
// re-lists on tools/list_changed, and when the server is down it says so clearly
// instead of failing the turn: listTools() gives [] and callTool() an error outcome.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import type { ImageBlock, TextBlock } from '../llm/content.ts';
import { errorOutcome, type ToolCallContext, type ToolDefinition, type ToolOutcome, type ToolProvider } from './types.ts';

export interface McpServerSpec {
  /** short name: 'lares-mcp' or the mcpServers key */
  name: string;
  /** Streamable HTTP endpoint, e.g. http://127.0.0.1:8765/mcp */
  url?: string;
  /** sent as Authorization: Bearer <token> */
  token?: string;
  headers?: Record<string, string>;
  /** stdio: the program to spawn and its arguments/environment */
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** any other transport (the in-process server); called once per connection attempt */
  createTransport?: () => Promise<Transport> | Transport;
}

export interface McpConnectOptions {
  /** connection attempts at start-up (default 4) */
  attempts?: number;
  /** first retry delay, doubled each time (default 250 ms) */
  initialDelayMs?: number;
  /** while down, try again at most this often when a tool is listed or called (default 15 s) */
  reconnectIntervalMs?: number;
  /** per-call timeout (default 120 s) */
  callTimeoutMs?: number;
  /** told when the server's tool list changes (tools/list_changed) */
  onToolsChanged?: (tools: ToolDefinition[]) => void;
}

const CLIENT_INFO = { name: 'lares', version: '0.1.0' };

export class McpToolProvider implements ToolProvider {
  readonly name: string;
  readonly spec: McpServerSpec;
  readonly #options: McpConnectOptions;
  #client?: Client;
  #tools: ToolDefinition[] = [];
  #down?: string;
  #lastAttempt = 0;
  #warned = false;
  #closed = false;
  #connecting?: Promise<boolean>;

  constructor(spec: McpServerSpec, options: McpConnectOptions = {}) {
    this.name = spec.name;
    this.spec = spec;
    this.#options = options;
  }

  /** where the server is, for messages: its URL, its command, or "in-process" */
  get target(): string {
    return this.spec.url ?? (this.spec.command ? [this.spec.command, ...(this.spec.args ?? [])].join(' ') : 'in-process');
  }

  get available(): boolean { return this.#client !== undefined && this.#down === undefined; }

  /** why the server is unavailable, or undefined when it is connected */
  get unavailableReason(): string | undefined { return this.available ? undefined : this.#down ?? 'not connected'; }

  /** First connection, with retries and backoff. Never throws: a server that stays down is reported and retried later. */
  async start(): Promise<this> {
    const attempts = Math.max(1, this.#options.attempts ?? 4);
    let delay = this.#options.initialDelayMs ?? 250;
    for (let attempt = 1; attempt <= attempts && !this.#closed; attempt++) {
      if (await this.#connect()) return this;
      if (attempt < attempts) {
        log().debug({ server: this.name, target: this.target, attempt, delayMs: delay }, 'mcp: connection failed, retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
    this.#warnDown();
    return this;
  }

  async listTools(): Promise<ToolDefinition[]> {
    await this.#reconnectIfDue();
    if (!this.available) { this.#warnDown(); return []; }
    return this.#tools;
  }

  /** Asks the server for its tools again. */
  async refresh(): Promise<ToolDefinition[]> {
    if (!this.#client) return [];
    try {
      this.#tools = await fetchAllTools(this.#client);
    } catch (error) {
      this.#markDown(error);
    }
    return this.listTools();
  }

  async callTool(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutcome> {
    await this.#reconnectIfDue();
    if (!this.#client || !this.available) return errorOutcome(this.#unavailableMessage(name));
    try {
      return await this.#call(name, args, context);
    } catch (firstError) {
      let error = firstError;
      // The server restarted (our session is gone) or is not listening: the call
      // never reached a tool, so reconnecting and sending it once more is safe.
      if (isNotDelivered(error) && !this.#closed && await this.#connect()) {
        try { return await this.#call(name, args, context); } catch (retryError) { error = retryError; }
      }
      if (isConnectionError(error) || isNotDelivered(error)) {
        this.#markDown(error);
        return errorOutcome(this.#unavailableMessage(name));
      }
      return errorOutcome(`${name} failed on MCP server "${this.name}": ${errorMessage(error)}`);
    }
  }

  async #call(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutcome> {
    const result = await this.#client!.callTool({ name, arguments: args }, undefined, { signal: context.signal, timeout: this.#options.callTimeoutMs ?? 120_000 });
    return mapCallToolResult(result as CallToolResult);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
  }

  async #connect(): Promise<boolean> {
    this.#connecting ??= (async () => {
      this.#lastAttempt = Date.now();
      const client = new Client(CLIENT_INFO, {
        listChanged: {
          tools: {
            onChanged: (error, tools) => {
              if (error) { log().warn({ server: this.name, err: error }, 'mcp: re-listing tools after tools/list_changed failed'); return; }
              this.#tools = (tools ?? []).map(toDefinition);
              log().info({ server: this.name, tools: this.#tools.length }, 'mcp: tool list changed');
              this.#options.onToolsChanged?.(this.#tools);
            },
          },
        },
      });
      try {
        const transport = await this.#createTransport();
        await client.connect(transport, { timeout: 15_000 });
        this.#tools = await fetchAllTools(client);
      } catch (error) {
        await client.close().catch(() => undefined);
        this.#down = describeConnectError(error);
        return false;
      }
      client.onclose = () => {
        if (this.#client === client && !this.#closed) this.#markDown(new Error('the connection closed'));
      };
      const previous = this.#client;
      this.#client = client;
      const wasDown = this.#warned;
      this.#down = undefined;
      this.#warned = false;
      await previous?.close().catch(() => undefined);
      log().info({ server: this.name, target: this.target, tools: this.#tools.length }, wasDown ? 'mcp: server is back' : 'mcp: connected');
      return true;
    })().finally(() => { this.#connecting = undefined; });
    return this.#connecting;
  }

  async #createTransport(): Promise<Transport> {
    const spec = this.spec;
    if (spec.createTransport) return spec.createTransport();
    if (spec.url) {
      const headers = { ...(spec.headers ?? {}), ...(spec.token ? { authorization: `Bearer ${spec.token}` } : {}) };
      return new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers } });
    }
    if (spec.command) {
      const transport = new StdioClientTransport({ command: spec.command, args: spec.args ?? [], env: { ...getDefaultEnvironment(), ...(spec.env ?? {}) }, cwd: spec.cwd, stderr: 'pipe' });
      // The server's own log lines: keep them, quietly.
      transport.stderr?.on('data', (chunk: Buffer) => log().debug({ server: this.name, stderr: chunk.toString('utf8').trimEnd() }, 'mcp server stderr'));
      return transport;
    }
    throw new Error(`MCP server "${spec.name}" has neither a url nor a command`);
  }

  async #reconnectIfDue(): Promise<void> {
    if (this.available || this.#closed) return;
    if (Date.now() - this.#lastAttempt < (this.#options.reconnectIntervalMs ?? 15_000)) return;
    await this.#connect();
  }

  #markDown(error: unknown): void {
    this.#down = describeConnectError(error);
    // A server that was just lost may be restarting: the next use tries at once, later ones are spaced.
    this.#lastAttempt = 0;
    this.#warnDown();
  }

  #warnDown(): void {
    if (this.#warned || this.#closed) return;
    this.#warned = true;
    log().warn({ event: 'mcp_unavailable', server: this.name, target: this.target, reason: this.#down }, this.#unavailableMessage());
  }

  #unavailableMessage(tool?: string): string {
    const what = tool ? `Tool ${tool} is unavailable: the` : 'The';
    const fix = this.spec.url
      ? `Start it (\`lares mcp\`, or \`systemctl status lares-mcp\`) and check that MCP_URL and LARES_MCP_TOKEN match the server.`
      : this.spec.command ? 'Check the command in the MCP servers file.' : 'See the logs of this process.';
    return `${what} MCP server "${this.name}" at ${this.target} is unavailable (${this.#down ?? 'not connected'}), so its tools cannot be used right now. ${fix}`;
  }
}

/** Connects to an MCP server (retrying at start-up) and returns it as a ToolProvider. Never throws for a down server. */
export async function connectMcpToolProvider(spec: McpServerSpec, options: McpConnectOptions = {}): Promise<McpToolProvider> {
  return new McpToolProvider(spec, options).start();
}

async function fetchAllTools(client: Client): Promise<ToolDefinition[]> {
  const tools: ToolDefinition[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined);
    tools.push(...page.tools.map(toDefinition));
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

function toDefinition(tool: Tool): ToolDefinition {
  const annotations = tool.annotations
    ? Object.fromEntries(Object.entries(tool.annotations).filter(([key]) => ['title', 'readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'].includes(key)))
    : undefined;
  return {
    name: tool.name,
    description: tool.description ?? tool.title ?? tool.annotations?.title ?? tool.name,
    inputSchema: tool.inputSchema as ToolDefinition['inputSchema'],
    ...(annotations ? { annotations } : {}),
  };
}

/** MCP tool result → ToolOutcome: text and images kept, other content described; pending approvals recognised. */
export function mapCallToolResult(result: CallToolResult & { toolResult?: unknown }): ToolOutcome {
  const blocks: Array<TextBlock | ImageBlock> = [];
  if (Array.isArray(result.content)) {
    for (const item of result.content) {
      switch (item.type) {
        case 'text': blocks.push({ type: 'text', text: item.text }); break;
        case 'image': blocks.push({ type: 'image', source: { type: 'base64', media_type: item.mimeType, data: item.data } }); break;
        case 'audio': blocks.push({ type: 'text', text: `[audio content (${item.mimeType}) not shown]` }); break;
        case 'resource_link': blocks.push({ type: 'text', text: `[resource ${item.name}: ${item.uri}]` }); break;
        case 'resource': {
          const resource = item.resource as { uri: string; text?: string; mimeType?: string };
          blocks.push({ type: 'text', text: resource.text !== undefined ? `[resource ${resource.uri}]\n${resource.text}` : `[binary resource ${resource.uri} (${resource.mimeType ?? 'unknown type'}) not shown]` });
          break;
        }
      }
    }
  } else if (result.toolResult !== undefined) {
    blocks.push({ type: 'text', text: JSON.stringify(result.toolResult) });
  }
  if (blocks.length === 0 && result.structuredContent) blocks.push({ type: 'text', text: JSON.stringify(result.structuredContent) });
  const structured = result.structuredContent as { status?: unknown; approvalId?: unknown } | undefined;
  const pendingApprovalId = structured?.status === 'pending_approval' && typeof structured.approvalId === 'string' ? structured.approvalId : undefined;
  const content = blocks.every((b) => b.type === 'text') ? blocks.map((b) => (b as TextBlock).text).join('\n') : blocks;
  return { content, isError: result.isError === true, ...(pendingApprovalId ? { pendingApprovalId } : {}) };
}

/** Errors that prove the request never reached the server's tool: connection refused, or an unknown session (server restarted). */
function isNotDelivered(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  const text = `${errorMessage(error)} ${errorMessage((error as { cause?: unknown })?.cause ?? '')}`;
  return code === 404 || /Session not found|ECONNREFUSED/i.test(text);
}

function isConnectionError(error: unknown): boolean {
  const text = `${errorMessage(error)} ${errorMessage((error as { cause?: unknown })?.cause ?? '')}`;
  return /ECONNREFUSED|ECONNRESET|fetch failed|Not connected|Connection closed|socket hang up|EPIPE|other side closed/i.test(text);
}

function describeConnectError(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  const base = errorMessage(error);
  const detail = cause instanceof Error && !base.includes(cause.message) ? `${base}: ${cause.message}` : base;
  if (/401|unauthori[sz]ed/i.test(detail)) return `${detail} — the token was refused; set LARES_MCP_TOKEN to the server's token`;
  return detail;
}
