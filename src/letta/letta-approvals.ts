// Letta mode's approvals, behind the same ApprovalsClient interface as Lares's own queue, so the
// terminal and Discord ask the owner the same way. A Letta agent's approval_request_message
// becomes a pending approval; approving or denying answers it through Letta's API, and Letta
// continues its turn: that continuation is the outcome (result.text), delivered to subscribers.
import { ApprovalError, type ApprovalRecord } from '../mcp-server/approvals.ts';
import type { LaresEvent, LaresEventType } from '../mcp-server/events.ts';
import type { ApprovalSubscription, ApprovalsClient } from '../tools/approvals-client.ts';
import type { TurnResult } from '../agent/types.ts';
import { nowIso } from '../time.ts';
import type { LettaApprovalRequest, LettaBackend } from './letta-backend.ts';

const LETTA_REASON = 'The Letta agent asks for approval before running this tool (a tool rule on the Letta agent).';

export class LettaApprovals implements ApprovalsClient {
  readonly kind = 'in-process' as const;
  private readonly records = new Map<string, ApprovalRecord>();
  private readonly listeners = new Set<(event: LaresEvent) => void>();
  private readonly events: LaresEvent[] = [];
  private backend: LettaBackend | undefined;
  /** the Letta agent's continuation after each decision, by approval id */
  readonly continuations = new Map<string, TurnResult>();

  attach(backend: LettaBackend): void {
    this.backend = backend;
  }

  /** Wire as LettaBackendOptions.onApprovalRequest. */
  readonly onApprovalRequest = (request: LettaApprovalRequest): void => {
    const createdAt = nowIso();
    const record: ApprovalRecord = {
      id: request.id, tool: request.name, args: request.input, reason: LETTA_REASON, status: 'pending', createdAt,
      expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(), decidedAt: null, finishedAt: null, result: null, error: null, denyReason: null, alwaysAllowed: false,
    };
    this.records.set(record.id, record);
    this.emit('approval_needed', { id: record.id, tool: record.tool, args: record.args, reason: record.reason, expiresAt: record.expiresAt, summary: `${record.tool} needs approval` });
  };

  async listPending(): Promise<ApprovalRecord[]> {
    return [...this.records.values()].filter((r) => r.status === 'pending');
  }

  async get(id: string): Promise<ApprovalRecord> {
    const record = this.records.get(id);
    if (!record) throw new ApprovalError(404, `no approval request ${id}`);
    return record;
  }

  approve(id: string): Promise<ApprovalRecord> {
    return this.decide(id, true);
  }

  deny(id: string, reason?: string): Promise<ApprovalRecord> {
    return this.decide(id, false, reason);
  }

  subscribe(onEvent: (event: LaresEvent) => void, options: { lastEventId?: number } = {}): ApprovalSubscription {
    for (const event of this.events) if (options.lastEventId !== undefined && event.id > options.lastEventId) onEvent(event);
    this.listeners.add(onEvent);
    return { close: () => { this.listeners.delete(onEvent); } };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private async decide(id: string, approve: boolean, reason?: string): Promise<ApprovalRecord> {
    const record = await this.get(id);
    if (record.status !== 'pending') throw new ApprovalError(409, `approval ${id} is already ${record.status}`);
    if (!this.backend) throw new ApprovalError(409, 'Letta mode is not connected');
    record.status = approve ? 'approved' : 'denied';
    record.decidedAt = nowIso();
    record.denyReason = approve ? null : (reason ?? null);
    const continuation = await this.backend.answerApproval(id, approve, reason);
    this.continuations.set(id, continuation);
    record.status = approve ? 'executed' : 'denied';
    record.finishedAt = nowIso();
    record.result = { text: continuation.reply, isError: continuation.incomplete };
    this.emit('approval_result', { id, tool: record.tool, status: record.status, result: record.result, reason: record.denyReason, summary: `${record.tool}: ${record.status}` });
    return record;
  }

  private emit(type: LaresEventType, data: Record<string, unknown>): void {
    const event: LaresEvent = { id: this.events.length + 1, type, data, createdAt: nowIso() };
    this.events.push(event);
    for (const listener of this.listeners) listener(event);
  }
}
