// The shapes of the Letta REST API that Lares reads, as the open-source server sends them
// (letta/schemas/letta_message.py, block.py, passage.py, agent.py). Only the fields Lares uses
// are typed; everything else passes through untouched.

export type LettaMessageType =
  | 'system_message' | 'user_message' | 'assistant_message' | 'reasoning_message' | 'hidden_reasoning_message'
  | 'tool_call_message' | 'tool_return_message' | 'approval_request_message' | 'approval_response_message'
  | 'summary_message' | 'event_message';

export interface LettaToolCall { name: string; arguments: string; tool_call_id: string }

/** A content part of a user or assistant message (text, image...). */
export interface LettaContentPart {
  type: string;
  text?: string;
  source?: { type: string; media_type?: string; data?: string; url?: string; file_id?: string };
  [key: string]: unknown;
}

export interface LettaToolReturn {
  type?: 'tool';
  tool_call_id: string;
  status: 'success' | 'error';
  tool_return: string | LettaContentPart[];
  stdout?: string[] | null;
  stderr?: string[] | null;
}

export interface LettaApprovalReturn { type?: 'approval'; tool_call_id: string; approve: boolean; reason?: string | null }

/** One item of GET /v1/agents/{id}/messages. One stored row can expand into several items sharing `id`. */
export interface LettaMessage {
  id: string;
  date: string;
  message_type: LettaMessageType | string;
  name?: string | null;
  otid?: string | null;
  sender_id?: string | null;
  step_id?: string | null;
  run_id?: string | null;
  is_err?: boolean | null;
  // system / user / assistant
  content?: string | LettaContentPart[];
  // reasoning
  reasoning?: string;
  signature?: string | null;
  source?: string;
  // hidden reasoning
  state?: 'redacted' | 'omitted';
  hidden_reasoning?: string | null;
  // tool call / approval request
  tool_call?: Partial<LettaToolCall>;
  tool_calls?: LettaToolCall[] | Partial<LettaToolCall> | null;
  // tool return (top-level fields are the deprecated single-return form)
  tool_return?: string;
  status?: 'success' | 'error';
  tool_call_id?: string;
  stdout?: string[] | null;
  stderr?: string[] | null;
  tool_returns?: LettaToolReturn[] | null;
  // approval response
  approvals?: Array<LettaApprovalReturn | LettaToolReturn> | null;
  approve?: boolean | null;
  approval_request_id?: string | null;
  reason?: string | null;
  // summary message
  summary?: string;
  [key: string]: unknown;
}

export interface LettaBlock {
  id?: string;
  label: string;
  value: string;
  limit?: number | null;
  description?: string | null;
  read_only?: boolean | null;
  [key: string]: unknown;
}

export interface LettaPassage {
  id: string;
  text: string;
  tags?: string[] | null;
  created_at?: string | null;
  [key: string]: unknown;
}

export interface LettaAgent {
  id: string;
  name?: string;
  system?: string;
  agent_type?: string;
  [key: string]: unknown;
}

/** A stored Letta message row (the database shape, also used by `.af` agent files). */
export interface LettaMessageRow {
  id: string;
  role: 'system' | 'user' | 'assistant' | 'tool' | 'approval' | 'summary' | 'function';
  content?: string | Array<LettaContentPart & { reasoning?: string; signature?: string | null; data?: string }> | null;
  name?: string | null;
  created_at: string;
  tool_calls?: Array<{ id: string; type?: 'function'; function: { name: string; arguments: string } }> | null;
  tool_call_id?: string | null;
  tool_returns?: Array<{ tool_call_id?: string | null; status: 'success' | 'error'; func_response?: string | LettaContentPart[] | null; stdout?: string[] | null; stderr?: string[] | null }> | null;
  approvals?: Array<LettaApprovalReturn | (LettaToolReturn & { func_response?: string })> | null;
  approve?: boolean | null;
  approval_request_id?: string | null;
  denial_reason?: string | null;
  otid?: string | null;
  sender_id?: string | null;
  step_id?: string | null;
  run_id?: string | null;
  [key: string]: unknown;
}
