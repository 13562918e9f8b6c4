// Where a migration reads a Letta agent from: the REST API (the full history) or an `.af`
// agent file (offline, but partial). Both are read-only.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LaresError } from '../errors.ts';
import { LettaApi, type LettaConnection } from './client.ts';
import { expandRows } from './message-rows.ts';
import type { LettaAgent, LettaBlock, LettaMessage, LettaMessageRow, LettaPassage } from './types.ts';

export interface MigrationSource {
  /** 'letta' for the API; 'letta-af:<hash>' for a file (its ids are file-local) */
  readonly refPrefix: string;
  readonly description: string;
  /** what this source cannot provide, said to the person */
  readonly limitations: string[];
  agent(): Promise<LettaAgent>;
  blocks(): Promise<LettaBlock[]>;
  messagePages(pageSize: number): AsyncIterable<LettaMessage[]>;
  passagePages(pageSize: number): AsyncIterable<LettaPassage[]>;
}

export class ApiSource implements MigrationSource {
  readonly refPrefix = 'letta';
  readonly description: string;
  readonly limitations: string[] = ['archival passages are copied without their embeddings (Lares searches them with full-text search)'];
  readonly api: LettaApi;

  constructor(connection: LettaConnection | LettaApi) {
    this.api = connection instanceof LettaApi ? connection : new LettaApi(connection);
    this.description = `Letta server ${this.api.connection.baseUrl}, agent ${this.api.agentId}`;
  }

  agent(): Promise<LettaAgent> { return this.api.retrieveAgent(); }
  blocks(): Promise<LettaBlock[]> { return this.api.listBlocks(); }
  messagePages(pageSize: number): AsyncIterable<LettaMessage[]> { return this.api.messagePages({ pageSize }); }
  passagePages(pageSize: number): AsyncIterable<LettaPassage[]> { return this.api.passagePages({ pageSize }); }
}

export const AGENT_FILE_LIMITATIONS = [
  'an .af agent file holds only the messages that were in the agent\'s context window when it was exported (recent Letta versions), not the whole history: older messages and summarized-away turns are missing',
  'an .af agent file holds no archival memory passages',
  'for the full history, run lares migrate against the Letta server (LETTA_BASE_URL) instead',
];

interface AgentFile {
  agents: Array<LettaAgent & { messages?: LettaMessageRow[]; block_ids?: string[] | null; in_context_message_ids?: string[] }>;
  blocks?: Array<LettaBlock & { id: string }>;
}

/** The older single-agent format (top-level `messages` and `core_memory`, rows without ids) → the current one. */
function normalizeAgentFile(parsed: unknown): AgentFile {
  if (!parsed || typeof parsed !== 'object') return parsed as AgentFile;
  const obj = parsed as Record<string, unknown>;
  if (Array.isArray(obj.agents) || !Array.isArray(obj.messages)) return obj as unknown as AgentFile;
  const messages = (obj.messages as Array<Record<string, unknown>>).map((m, i) => ({ ...m, id: typeof m.id === 'string' ? m.id : `message-${i}` }) as unknown as LettaMessageRow);
  const blocks = ((obj.core_memory as Array<Record<string, unknown>> | undefined) ?? []).map((b, i) => ({ ...b, id: typeof b.id === 'string' ? b.id : `block-${i}` }) as unknown as LettaBlock & { id: string });
  const { core_memory: _c, messages: _m, ...agent } = obj;
  return { agents: [{ ...(agent as unknown as LettaAgent), id: typeof obj.id === 'string' ? obj.id : 'agent-0', messages }], blocks };
}

export class AgentFileSource implements MigrationSource {
  readonly refPrefix: string;
  readonly description: string;
  readonly limitations = AGENT_FILE_LIMITATIONS;
  private readonly file: AgentFile;
  private readonly entry: AgentFile['agents'][number];

  constructor(path: string, agentId?: string) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new LaresError('USAGE', `cannot read the agent file ${path}: ${(error as Error).message}. Pass a Letta .af export (JSON).`, { cause: error });
    }
    const file = normalizeAgentFile(parsed);
    if (!file || typeof file !== 'object' || !Array.isArray(file.agents) || file.agents.length === 0) {
      throw new LaresError('USAGE', `${path} is not a Letta agent file: it has no "agents" list. Export one with Letta's "Export agent" (.af).`);
    }
    const entry = agentId ? file.agents.find((a) => a.id === agentId || a.name === agentId) : file.agents[0];
    if (!entry) throw new LaresError('USAGE', `${path} has no agent ${agentId}; it holds ${file.agents.map((a) => a.name ?? a.id).join(', ')}.`);
    if (file.agents.length > 1 && !agentId) {
      throw new LaresError('USAGE', `${path} holds ${file.agents.length} agents (${file.agents.map((a) => a.name ?? a.id).join(', ')}); choose one with LETTA_AGENT_ID=<id or name>.`);
    }
    this.file = file;
    this.entry = entry;
    const messages = entry.messages ?? [];
    const identity = `${entry.name ?? ''}\u0000${messages[0]?.created_at ?? ''}\u0000${messages[0]?.id ?? ''}`;
    this.refPrefix = `letta-af:${createHash('sha256').update(identity).digest('hex').slice(0, 12)}`;
    this.description = `agent file ${path}`;
  }

  async agent(): Promise<LettaAgent> {
    const { messages: _m, ...agent } = this.entry;
    return agent;
  }

  async blocks(): Promise<LettaBlock[]> {
    const ids = new Set(this.entry.block_ids ?? []);
    const all = this.file.blocks ?? [];
    return ids.size > 0 ? all.filter((b) => ids.has(b.id)) : all;
  }

  async *messagePages(pageSize: number): AsyncIterable<LettaMessage[]> {
    const rows = this.entry.messages ?? [];
    for (let i = 0; i < rows.length; i += pageSize) {
      try {
        yield expandRows(rows.slice(i, i + pageSize), { useAssistantMessage: false, textIsAssistantMessage: this.entry.agent_type === 'letta_v1_agent', preciseDates: true });
      } catch (error) {
        throw new LaresError('LETTA_ERROR', `the agent file has a message Lares cannot read (rows ${i + 1}–${i + pageSize}): ${(error as Error).message}`, { cause: error });
      }
    }
  }

  async *passagePages(): AsyncIterable<LettaPassage[]> {
    // agent files carry no archival memory
  }
}
