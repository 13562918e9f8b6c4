// Letta mode (USE_DIRECT_LLM=false): the seed's "Before" architecture, kept so the rollback is
// instant. Channels talk to the Letta agent through POST /v1/agents/{id}/messages; its
// assistant messages are the reply, and its own tool approval requests
// (approval_request_message) are surfaced to the owner and answered through Letta's API.
import type { AgentBackend, TurnEvents, TurnInput, TurnResult } from '../agent/types.ts';
import type { Config } from '../config/config.ts';
import type { ContentBlock } from '../llm/content.ts';
import { LaresError } from '../errors.ts';
import { LettaApi, type LettaConnection } from './client.ts';
import type { LettaMessage, LettaToolCall } from './types.ts';

export interface LettaApprovalRequest {
  /** the Letta tool call id; pass it to answerApproval */
  id: string;
  name: string;
  input: Record<string, unknown>;
  /** the Letta message (row) id of the request */
  lettaMessageId: string;
  conversationId: string;
}

export interface LettaBackendOptions {
  api: LettaApi | LettaConnection;
  /** called for every tool call the Letta agent wants approved */
  onApprovalRequest?(request: LettaApprovalRequest): void | Promise<void>;
}

/** The Letta-mode backend from the configuration (LETTA_BASE_URL, LETTA_AGENT_ID, LETTA_API_KEY). */
export function lettaBackendFromConfig(config: Pick<Config, 'letta' | 'env'>, options: Omit<LettaBackendOptions, 'api'> = {}): LettaBackend {
  const missing = [
    config.letta.baseUrl ? undefined : 'LETTA_BASE_URL (the Letta server, e.g. http://localhost:8283)',
    config.letta.agentId ? undefined : 'LETTA_AGENT_ID (the Letta agent to talk to)',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new LaresError('CONFIG_INVALID', `Letta mode (USE_DIRECT_LLM=false) needs ${missing.join(' and ')}. Set them in .env, or set USE_DIRECT_LLM=true for direct mode.`);
  }
  return new LettaBackend({
    ...options,
    api: {
      baseUrl: config.letta.baseUrl!, agentId: config.letta.agentId!, apiKey: config.letta.apiKey, maxRetries: 0,
      passwordHeader: !config.env.LETTA_API_KEY && Boolean(config.env.LETTA_SERVER_PASSWORD),
    },
  });
}

export class LettaBackend implements AgentBackend {
  readonly mode = 'letta' as const;
  readonly api: LettaApi;
  private readonly onApprovalRequest: LettaBackendOptions['onApprovalRequest'];
  /** turns run one at a time: the Letta agent is not safe for concurrent requests */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly pending = new Map<string, LettaApprovalRequest>();

  constructor(options: LettaBackendOptions) {
    this.api = options.api instanceof LettaApi ? options.api : new LettaApi({ maxRetries: 0, ...options.api });
    this.onApprovalRequest = options.onApprovalRequest;
  }

  /** Approval requests the agent is waiting on. */
  pendingApprovals(): LettaApprovalRequest[] { return [...this.pending.values()]; }

  send(input: TurnInput, events?: TurnEvents): Promise<TurnResult> {
    return this.enqueue(() => this.exchange([{ role: 'user', content: toLettaContent(input.content) }], input.conversationId ?? 'default', events));
  }

  /** Answers a pending approval through Letta's API; Letta then continues the turn. */
  answerApproval(id: string, approve: boolean, reason?: string, events?: TurnEvents): Promise<TurnResult> {
    return this.enqueue(async () => {
      const request = this.pending.get(id);
      const result = await this.exchange([{ type: 'approval', approvals: [{ type: 'approval', tool_call_id: id, approve, ...(reason ? { reason } : {}) }] }], request?.conversationId ?? 'default', events);
      this.pending.delete(id);
      return result;
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Finds the approval requests the Letta agent is still waiting on (asked before this process
   * started, e.g. before a restart) and surfaces them like new ones, so the owner can answer
   * them through Lares. Read-only against Letta. Returns every request now pending.
   */
  recoverPendingApprovals(conversationId = 'default'): Promise<LettaApprovalRequest[]> {
    return this.enqueue(() => this.recover(conversationId));
  }

  private async recover(conversationId: string): Promise<LettaApprovalRequest[]> {
    const items = await this.api.recentMessages(20);
    // pages come oldest→newest (open source) or newest→oldest (Cloud): match by id, not position
    const answered = new Set<string>();
    for (const m of items) {
      if (m.message_type !== 'approval_response_message') continue;
      if (m.approval_request_id) answered.add(m.approval_request_id);
      for (const a of m.approvals ?? []) answered.add(a.tool_call_id);
    }
    for (const m of items) {
      if (m.message_type !== 'approval_request_message') continue;
      for (const call of callsOf(m)) {
        if (answered.has(call.tool_call_id) || this.pending.has(call.tool_call_id)) continue;
        const request: LettaApprovalRequest = { id: call.tool_call_id, name: call.name, input: parseArgs(call.arguments), lettaMessageId: m.id, conversationId };
        this.pending.set(request.id, request);
        await this.onApprovalRequest?.(request);
      }
    }
    return this.pendingApprovals();
  }

  private async exchange(messages: Array<Record<string, unknown>>, conversationId: string, events?: TurnEvents): Promise<TurnResult> {
    let response;
    try {
      response = await this.api.send(messages);
    } catch (error) {
      if (error instanceof LaresError && /PENDING_APPROVAL|waiting for approval/.test(error.message)) {
        // the request may predate this process (a restart): find it so the owner can answer it here
        const pending = await this.recover(conversationId).catch(() => this.pendingApprovals());
        const which = pending.map((p) => `${p.name} (${p.id})`).join(', ');
        throw new LaresError('LETTA_ERROR', pending.length > 0
          ? `the Letta agent is waiting for the owner's approval of ${which} before it takes new messages; approve or deny it first (/approve ID or /deny ID in lares chat, or ✅/❌ on its post in Discord).`
          : 'the Letta agent is waiting for an approval of a tool call that Lares cannot find; approve or deny it in the Letta ADE.', { cause: error });
      }
      throw error;
    }
    const reply: string[] = [];
    const pendingApprovals: string[] = [];
    let toolCalls = 0;
    const names = new Map<string, string>();
    for (const m of response.messages) {
      switch (m.message_type) {
        case 'assistant_message': {
          const text = typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text ?? '').join('');
          if (text) { reply.push(text); events?.onText?.(text); }
          break;
        }
        case 'tool_call_message':
          for (const call of callsOf(m)) {
            toolCalls++;
            names.set(call.tool_call_id, call.name);
            events?.onToolCall?.({ id: call.tool_call_id, name: call.name, input: parseArgs(call.arguments) });
          }
          break;
        case 'tool_return_message':
          for (const r of m.tool_returns ?? [{ tool_call_id: m.tool_call_id ?? '', status: m.status ?? 'success', tool_return: m.tool_return ?? '' }]) {
            events?.onToolResult?.({ id: r.tool_call_id, name: names.get(r.tool_call_id) ?? m.name ?? '', isError: r.status === 'error', content: typeof r.tool_return === 'string' ? r.tool_return : JSON.stringify(r.tool_return) });
          }
          break;
        case 'approval_request_message':
          for (const call of callsOf(m)) {
            const request: LettaApprovalRequest = { id: call.tool_call_id, name: call.name, input: parseArgs(call.arguments), lettaMessageId: m.id, conversationId };
            this.pending.set(request.id, request);
            pendingApprovals.push(request.id);
            // shown like a direct-mode call waiting for approval (the terminal prints /approve ID)
            events?.onToolCall?.({ id: request.id, name: request.name, input: request.input });
            events?.onToolResult?.({ id: request.id, name: request.name, isError: false, pendingApprovalId: request.id, content: 'waiting for the owner\'s approval' });
            await this.onApprovalRequest?.(request);
          }
          break;
        default:
          break;
      }
    }
    const incomplete = !['end_turn', 'requires_approval', 'no_tool_call', 'tool_rule'].includes(response.stopReason);
    return { reply: reply.join('\n\n'), stopReason: response.stopReason, toolCalls, incomplete, pendingApprovals };
  }
}

function callsOf(m: LettaMessage): LettaToolCall[] {
  if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0) return m.tool_calls;
  const c = m.tool_call;
  return c?.tool_call_id ? [{ name: c.name ?? '', arguments: c.arguments ?? '', tool_call_id: c.tool_call_id }] : [];
}

function parseArgs(raw: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed as Record<string, unknown> : { arguments: parsed };
  } catch { return { arguments: raw }; }
}

/** Lares content → Letta message content (text and images; other blocks as text). */
function toLettaContent(content: string | ContentBlock[]): string | Array<Record<string, unknown>> {
  if (typeof content === 'string') return content;
  const parts = content.map((b): Record<string, unknown> => {
    if (b.type === 'text') return { type: 'text', text: b.text };
    if (b.type === 'image') return { type: 'image', source: b.source.type === 'base64' ? { type: 'base64', media_type: b.source.media_type, data: b.source.data } : { type: 'url', url: b.source.url } };
    return { type: 'text', text: JSON.stringify(b) };
  });
  return parts.every((p) => p.type === 'text') ? parts.map((p) => p.text as string).join('\n') : parts;
}
