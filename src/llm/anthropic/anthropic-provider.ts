// The Anthropic Messages API through the official SDK. Always streams (long replies never hit
// the SDK's non-streaming timeout), retries with our own policy (the SDK's retries are off so
// that spend-limit 429s are not retried), and reports usage including cache reads and writes.
import Anthropic from '@anthropic-ai/sdk';
import { createHash } from 'node:crypto';
import type { ApiMessage, ContentBlock } from '../content.ts';
import type { CallOptions, ModelProvider, ModelRequest, ModelResponse } from '../provider.ts';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from '../retry.ts';
import { mapAnthropicError } from './map-anthropic-error.ts';

export interface AnthropicProviderOptions {
  apiKey: string;
  baseUrl?: string;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
}

export class AnthropicProvider implements ModelProvider {
  readonly name = 'anthropic';
  private readonly client: Anthropic;
  private readonly retry: RetryPolicy;

  constructor(options: AnthropicProviderOptions) {
    this.client = new Anthropic({ apiKey: options.apiKey, baseURL: options.baseUrl, maxRetries: 0, timeout: options.timeoutMs ?? 10 * 60_000 });
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  async createMessage(request: ModelRequest, options: CallOptions = {}): Promise<ModelResponse> {
    return withRetries(async () => {
      const stream = this.client.messages.stream(toParams(request), { signal: options.signal });
      if (options.onText) stream.on('text', (delta) => options.onText!(delta));
      const message = await stream.finalMessage();
      return {
        id: message.id,
        model: message.model,
        content: message.content as unknown as ContentBlock[],
        stopReason: message.stop_reason ?? 'end_turn',
        usage: {
          inputTokens: message.usage.input_tokens,
          cacheReadTokens: message.usage.cache_read_input_tokens ?? 0,
          cacheWriteTokens: message.usage.cache_creation_input_tokens ?? 0,
          outputTokens: message.usage.output_tokens,
        },
      };
    }, mapAnthropicError, this.retry, options.onRetry, options.signal);
  }

  async countTokens(request: ModelRequest): Promise<number> {
    return withRetries(async () => {
      const params = toParams(request);
      const result = await this.client.messages.countTokens({ model: params.model, system: params.system, tools: params.tools, messages: params.messages });
      return result.input_tokens;
    }, mapAnthropicError, this.retry);
  }
}

function toParams(request: ModelRequest): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: request.model,
    max_tokens: request.maxTokens,
    system: request.system as Anthropic.TextBlockParam[],
    ...(request.tools.length > 0 ? { tools: request.tools as unknown as Anthropic.Tool[] } : {}),
    messages: request.messages.map(withAnthropicToolIds) as unknown as Anthropic.MessageParam[],
  };
}

/**
 * Tool-call ids from other providers (a history that switched provider) that the Messages API
 * would refuse (it takes ^[a-zA-Z0-9_-]+$) are mapped, the same way on both sides of a pair.
 */
export function toAnthropicToolId(id: string): string {
  if (/^[a-zA-Z0-9_-]{1,128}$/.test(id)) return id;
  return `toolu_${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

function withAnthropicToolIds(message: ApiMessage): ApiMessage {
  if (!message.content.some((b) => (b.type === 'tool_use' && b.id !== toAnthropicToolId(b.id)) || (b.type === 'tool_result' && b.tool_use_id !== toAnthropicToolId(b.tool_use_id)))) return message;
  return {
    ...message,
    content: message.content.map((b) => (b.type === 'tool_use' ? { ...b, id: toAnthropicToolId(b.id) }
      : b.type === 'tool_result' ? { ...b, tool_use_id: toAnthropicToolId(b.tool_use_id) } : b)),
  };
}
