// Lares's use of the Letta REST API, through the official @letta-ai/letta-client.
// Paging is done here, not by the client's auto-pager: that pager follows `after=<last id>`
// with the server's default order=desc, and the open-source server returns each page
// oldest→newest, so it stops after the first page. We ask for order=asc and follow
// `after=<last id>` until an EMPTY page (a short page is not the end: `limit` counts stored
// rows, and one row expands into several items).
import { Letta, APIConnectionError, APIError } from '@letta-ai/letta-client';
import { LaresError } from '../errors.ts';
import type { LettaAgent, LettaBlock, LettaMessage, LettaPassage } from './types.ts';

export interface LettaConnection {
  baseUrl: string;
  agentId: string;
  /** sent as Authorization: Bearer (and as X-BARE-PASSWORD when `passwordHeader`) */
  apiKey?: string;
  /** also send `X-BARE-PASSWORD: password <key>` (the self-hosted server's own header) */
  passwordHeader?: boolean;
  maxRetries?: number;
  timeoutMs?: number;
  /** a fetch to use instead of the global one (tests) */
  fetch?: typeof fetch;
}

export interface SendResult { messages: LettaMessage[]; stopReason: string }

export class LettaApi {
  readonly connection: LettaConnection;
  readonly client: Letta;

  constructor(connection: LettaConnection) {
    this.connection = connection;
    const headers: Record<string, string> = {};
    if (connection.apiKey && connection.passwordHeader) headers['X-BARE-PASSWORD'] = `password ${connection.apiKey}`;
    this.client = new Letta({
      baseURL: apiRoot(connection.baseUrl),
      // null, not undefined: undefined would make the client read LETTA_API_KEY itself
      apiKey: connection.apiKey ?? null,
      maxRetries: connection.maxRetries ?? 4,
      timeout: connection.timeoutMs ?? 120_000,
      defaultHeaders: headers,
      logLevel: 'off',
      ...(connection.fetch ? { fetch: connection.fetch } : {}),
    });
  }

  get agentId(): string { return this.connection.agentId; }

  async retrieveAgent(): Promise<LettaAgent> {
    return this.call('fetching the agent', async () => (await this.client.agents.retrieve(this.agentId)) as unknown as LettaAgent);
  }

  /** Every memory block of the agent (paged oldest first until an empty page). */
  async listBlocks(pageSize = 100): Promise<LettaBlock[]> {
    const blocks: LettaBlock[] = [];
    const seen = new Set<string>();
    let after: string | undefined;
    for (;;) {
      const page = await this.call('listing memory blocks', async () =>
        (await this.client.agents.blocks.list(this.agentId, { order: 'asc', limit: pageSize, ...(after ? { after } : {}) })).getPaginatedItems() as unknown as LettaBlock[]);
      const fresh = page.filter((b) => !b.id || !seen.has(b.id));
      if (page.length === 0 || fresh.length === 0) break;
      for (const b of fresh) { if (b.id) seen.add(b.id); blocks.push(b); }
      const last = page.at(-1)?.id;
      if (!last) break;
      after = last;
    }
    return blocks;
  }

  /** The whole message history, one page at a time, oldest first. */
  async *messagePages(options: { pageSize?: number; after?: string } = {}): AsyncGenerator<LettaMessage[]> {
    let after = options.after;
    for (;;) {
      const cursor = after;
      const what = cursor ? `listing the messages after ${cursor}` : 'listing messages';
      const page = await this.call(what, async () =>
        (await this.client.agents.messages.list(this.agentId, {
          order: 'asc', limit: options.pageSize ?? 100, use_assistant_message: false, ...(cursor ? { after: cursor } : {}),
        })).getPaginatedItems() as unknown as LettaMessage[]);
      if (page.length === 0) return;
      yield page;
      const last = page.at(-1)!.id;
      if (last === after) return; // a server that ignores the cursor would loop forever
      after = last;
    }
  }

  /**
   * The newest `limit` stored rows' items (read-only). Their order differs between the
   * open-source server and Letta Cloud, so callers must not rely on it.
   */
  async recentMessages(limit = 20): Promise<LettaMessage[]> {
    return this.call('reading the newest messages', async () =>
      (await this.client.agents.messages.list(this.agentId, { order: 'desc', limit, use_assistant_message: false }, { maxRetries: 0 })).getPaginatedItems() as unknown as LettaMessage[]);
  }

  /** Every archival passage, one page at a time, oldest first (embeddings are not kept). */
  async *passagePages(options: { pageSize?: number } = {}): AsyncGenerator<LettaPassage[]> {
    let after: string | undefined;
    for (;;) {
      const cursor = after;
      const page = await this.call('listing archival memory', async () =>
        (await this.client.agents.passages.list(this.agentId, { ascending: true, limit: options.pageSize ?? 100, ...(cursor ? { after: cursor } : {}) })) as unknown as LettaPassage[]);
      if (page.length === 0) return;
      yield page.map(({ embedding: _e, embedding_config: _c, ...rest }) => rest as LettaPassage);
      const last = page.at(-1)!.id;
      if (last === after) return;
      after = last;
    }
  }

  /** POST /v1/agents/{id}/messages (not streaming). */
  async send(messages: Array<Record<string, unknown>>): Promise<SendResult> {
    return this.call('sending a message', async () => {
      const response = await this.client.agents.messages.create(this.agentId, { messages: messages as never }, { maxRetries: 0 });
      const r = response as unknown as { messages: LettaMessage[]; stop_reason?: { stop_reason?: string } };
      return { messages: r.messages ?? [], stopReason: r.stop_reason?.stop_reason ?? 'end_turn' };
    });
  }

  /** PATCH /v1/agents/{id}/core-memory/blocks/{label}: the only write Lares makes to Letta (rollback --sync-blocks). */
  async updateBlockValue(label: string, value: string): Promise<LettaBlock> {
    return this.call(`updating block ${label}`, async () =>
      (await this.client.agents.blocks.update(label, { agent_id: this.agentId, value }, { maxRetries: 0 })) as unknown as LettaBlock);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw describeLettaError(error, what, this.connection);
    }
  }
}

/** The client adds /v1 itself: a base URL copied with /v1 (or a trailing slash) still works. */
export function apiRoot(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/** A Letta failure as a message that says what to fix. */
export function describeLettaError(error: unknown, what: string, connection: Pick<LettaConnection, 'baseUrl' | 'agentId' | 'apiKey'>): LaresError {
  if (error instanceof LaresError) return error;
  if (error instanceof APIConnectionError) {
    return new LaresError('LETTA_ERROR', `cannot reach the Letta server at ${connection.baseUrl} while ${what} (${error.message}). Is it running? Check LETTA_BASE_URL.`, { cause: error });
  }
  if (error instanceof APIError) {
    const detail = detailOf(error.error);
    // a wrong key or agent id is a configuration problem (exit 2), not a passing failure
    if (error.status === 401 || error.status === 403) {
      if (!connection.apiKey) {
        return new LaresError('LETTA_ERROR', `the Letta server at ${connection.baseUrl} wants a password (it answered ${error.status} ${detail || 'Unauthorized'} while ${what}) and no key is set. Set LETTA_API_KEY (or LETTA_SERVER_PASSWORD) to the server's password.`, { cause: error, exitCode: 2 });
      }
      return new LaresError('LETTA_ERROR', `the Letta API key is wrong (LETTA_API_KEY): ${connection.baseUrl} answered ${error.status} ${detail || 'Unauthorized'} while ${what}. Set LETTA_API_KEY (or LETTA_SERVER_PASSWORD) to the server's password.`, { cause: error, exitCode: 2 });
    }
    if (error.status === 404) {
      // Letta says "Agent not found" / "Agent with ID … not found"; a bare "Not Found" is a route
      // that does not exist: not a Letta server, or a base URL with an extra path
      if (/agent/i.test(detail)) {
        return new LaresError('LETTA_ERROR', `the Letta server at ${connection.baseUrl} has no agent with id ${connection.agentId} (${detail}). Check LETTA_AGENT_ID.`, { cause: error, exitCode: 2 });
      }
      if (what === 'fetching the agent') {
        return new LaresError('LETTA_ERROR', `${connection.baseUrl} has no Letta API (GET /v1/agents/${connection.agentId} answered 404 ${detail || 'Not Found'}). Check LETTA_BASE_URL: it is the Letta server's root, e.g. http://localhost:8283.`, { cause: error, exitCode: 2 });
      }
      return new LaresError('LETTA_ERROR', `Letta answered 404 while ${what}: ${detail || 'Not Found'}.`, { cause: error });
    }
    if (error.status === 409) return new LaresError('LETTA_ERROR', `Letta refused while ${what} (409 conflict): ${detail}.`, { cause: error });
    if (error.status === 422 && /['"]agent_id['"]/.test(detail)) {
      return new LaresError('LETTA_ERROR', `LETTA_AGENT_ID=${connection.agentId} is not a Letta agent id: ids look like agent-123e4567-e89b-42d3-8456-426614174000 (copy it from the Letta ADE or GET ${apiRoot(connection.baseUrl)}/v1/agents/).`, { cause: error, exitCode: 2 });
    }
    if (error.status === 422) return new LaresError('LETTA_ERROR', `Letta rejected the request while ${what} (422): ${detail}. This Letta server may be older or newer than Lares expects.`, { cause: error });
    return new LaresError('LETTA_ERROR', `the Letta server failed while ${what} (${error.status ?? 'no status'}${detail ? `: ${detail}` : ''}), after retrying. Try again later.`, { cause: error });
  }
  return new LaresError('LETTA_ERROR', `Letta request failed while ${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

function detailOf(body: unknown): string {
  if (!body || typeof body !== 'object') return typeof body === 'string' ? body : '';
  const detail = (body as Record<string, unknown>).detail;
  if (typeof detail === 'string') return detail;
  if (detail && typeof detail === 'object') return JSON.stringify(detail);
  return '';
}
