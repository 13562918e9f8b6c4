// The model provider interface. The agent core depends on this, never on a concrete SDK.
import { LaresError } from '../errors.ts';
import type { ApiMessage, CacheControl, ContentBlock, TextBlock } from './content.ts';

export interface ModelTool {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
  cache_control?: CacheControl;
}

export interface ModelRequest {
  model: string;
  maxTokens: number;
  system: TextBlock[];
  tools: ModelTool[];
  messages: ApiMessage[];
}

export interface ModelUsage {
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  /** the server reported no usage: these are Lares's estimates */
  estimated?: boolean;
}

export type StopReason =
  | 'end_turn' | 'tool_use' | 'max_tokens' | 'pause_turn' | 'refusal' | 'model_context_window_exceeded' | 'stop_sequence';

export interface ModelResponse {
  id: string;
  model: string;
  content: ContentBlock[];
  stopReason: StopReason | string;
  usage: ModelUsage;
}

export interface CallOptions {
  onText?(delta: string): void;
  /** called before a retry, so a channel can drop text it streamed from the failed attempt */
  onRetry?(info: { attempt: number; delayMs: number; reason: string }): void;
  signal?: AbortSignal;
}

export interface ModelProvider {
  readonly name: string;
  createMessage(request: ModelRequest, options?: CallOptions): Promise<ModelResponse>;
  /** Tokens the API would count for this request (input side). */
  countTokens(request: ModelRequest): Promise<number>;
  /** The tokens the model's context holds, when the provider knows (a local server's setting). */
  contextWindow?(model: string): Promise<number | undefined>;
}

export type LlmErrorKind =
  | 'authentication' | 'permission' | 'context_exceeded' | 'rate_limit' | 'spend_limit' | 'overloaded'
  | 'server' | 'connection' | 'timeout' | 'invalid_request' | 'not_found' | 'other';

/** A failed model call. `retryable` says whether trying again could help. */
export class LlmError extends LaresError {
  readonly kind: LlmErrorKind;
  readonly status?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  constructor(kind: LlmErrorKind, message: string, options: { status?: number; retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(kind === 'context_exceeded' ? 'LLM_CONTEXT_EXCEEDED' : 'LLM_ERROR', message, { cause: options.cause });
    this.name = 'LlmError';
    this.kind = kind;
    this.status = options.status;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}
