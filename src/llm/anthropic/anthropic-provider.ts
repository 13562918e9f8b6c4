// The Anthropic Messages API through the official SDK. Always streams (long replies never hit
// the SDK's non-streaming timeout), retries with our own policy (the SDK's retries are off so
// that spend-limit 429s are not retried), and reports usage including cache reads and writes.
import Anthropic from '@anthropic-ai/sdk';
import type { ContentBlock } from '../content.ts';
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
    messages: request.messages as unknown as Anthropic.MessageParam[],
  };
}
