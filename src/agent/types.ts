// What channels (terminal, Discord) use to talk to Lares, whatever the backend:
// direct mode (Orchestrator + memory store) or Letta mode (a Letta agent over REST).
import type { ContentBlock } from '../llm/content.ts';

export type TurnSource = 'terminal' | 'discord' | 'telegram' | 'web' | 'perch' | 'job' | 'approval' | 'system';

export interface TurnInput {
  conversationId?: string;
  /** the person's message (or the event's text), as text or content blocks (images, attachments) */
  content: string | ContentBlock[];
  source: TurnSource;
  /** e.g. the Discord message id being answered, the author's name */
  replyToMessageId?: string;
  metadata?: Record<string, unknown>;
  /** a channel-specific external id, stored as source_ref so the same message is never answered twice */
  sourceRef?: string;
  /** a scheduled perch tick: no model call when nothing happened since the last perch turn */
  skipIfIdle?: boolean;
}

export interface TurnEvents {
  /** streamed reply text as it arrives */
  onText?(delta: string): void;
  onToolCall?(call: { id: string; name: string; input: Record<string, unknown> }): void;
  onToolResult?(result: { id: string; name: string; isError: boolean; pendingApprovalId?: string; content: string }): void;
  /** a model call failed and is tried again: text streamed from the failed attempt will come again */
  onRetry?(info: { attempt: number; delayMs: number; reason: string }): void;
}

export interface TurnResult {
  /** the text the person should see (all assistant text of the turn, in order) */
  reply: string;
  stopReason: string;
  toolCalls: number;
  /** true when the turn ended early (iteration limit, refusal, error) */
  incomplete: boolean;
  /** ids of approvals this turn queued */
  pendingApprovals: string[];
}

export interface AgentBackend {
  readonly mode: 'direct' | 'letta';
  /** Runs one turn. Turns of one conversation run one at a time, in arrival order. */
  send(input: TurnInput, events?: TurnEvents): Promise<TurnResult>;
  close(): Promise<void>;
}
