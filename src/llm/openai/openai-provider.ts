// Any OpenAI-compatible Chat Completions endpoint through the official openai SDK: OpenAI itself,
// Ollama (/v1), vLLM, llama.cpp's server, LM Studio, OpenRouter, LiteLLM. Always streams (with
// `stream_options.include_usage`, dropped for servers that refuse it), assembles tool calls
// whose arguments arrive in pieces, and keeps each request inside the model's context window
// when it knows it (Ollama shortens longer prompts silently: old messages, then the system prompt).
import OpenAI from 'openai';
import { estimateRequestTokens, estimateTextTokens, TokenCalibration } from '../../agent/tokens.ts';
import { log } from '../../log.ts';
import type { CallOptions, ModelProvider, ModelRequest, ModelResponse, ModelUsage } from '../provider.ts';
import { LlmError } from '../provider.ts';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from '../retry.ts';
import { replyBlocks, ThinkingFilter, toChatMessages, toChatTools, toStopReason, type CollectedToolCall } from './chat-messages.ts';
import { mapOpenAIError, type EndpointLabel } from './map-openai-error.ts';
import { detectOllama, ollamaModelFacts, ollamaWindow, type OllamaModelFacts } from './ollama-model.ts';

export interface OpenAIProviderOptions {
  /** not needed by local servers (Ollama, llama.cpp) */
  apiKey?: string;
  /** default https://api.openai.com/v1 */
  baseUrl?: string;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  /** LARES_CONTEXT_WINDOW: the tokens the server's model holds (prompt and reply) */
  contextWindow?: number;
  /** look for Ollama behind baseUrl (default: when baseUrl is set) */
  detectOllama?: boolean;
}

interface ModelFacts { window?: number; tools: boolean; images: boolean }

export class OpenAIProvider implements ModelProvider {
  readonly name = 'openai';
  private readonly client: OpenAI;
  private readonly retry: RetryPolicy;
  private readonly options: OpenAIProviderOptions;
  private readonly official: boolean;
  private endpoint: EndpointLabel;
  private ollamaRoot: Promise<string | undefined> | undefined;
  private readonly facts = new Map<string, Promise<ModelFacts>>();
  /** models that answered "does not support tools": asked without tools from then on */
  private readonly toolless = new Set<string>();
  private streamUsage = true;
  /** real prompt tokens per estimated token, learned from reported usage, for the window check */
  private readonly calibration = new TokenCalibration();

  constructor(options: OpenAIProviderOptions) {
    this.options = options;
    this.official = !options.baseUrl || /^https:\/\/api\.openai\.com(\/|$)/.test(options.baseUrl);
    this.client = new OpenAI({
      // the SDK insists on a key; local servers ignore it
      apiKey: options.apiKey ?? 'not-needed',
      baseURL: options.baseUrl,
      maxRetries: 0,
      timeout: options.timeoutMs ?? 10 * 60_000,
    });
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.endpoint = this.official
      ? { name: 'the OpenAI API', urlVariable: 'OPENAI_BASE_URL' }
      : { name: `the OpenAI-compatible server at ${options.baseUrl}`, urlVariable: 'OPENAI_BASE_URL' };
  }

  /** The Ollama server behind the base URL, if it is one (asked once). */
  ollama(): Promise<string | undefined> {
    if (this.official || this.options.detectOllama === false || !this.options.baseUrl) return Promise.resolve(undefined);
    this.ollamaRoot ??= detectOllama(this.options.baseUrl).then((root) => {
      if (root) this.endpoint = { name: `Ollama at ${root}`, urlVariable: 'OPENAI_BASE_URL' };
      return root;
    });
    this.ollamaRoot.catch(() => { this.ollamaRoot = undefined; });
    return this.ollamaRoot;
  }

  /** What Ollama says about a model (undefined for other servers); throws when it is not pulled. */
  async ollamaFacts(model: string): Promise<OllamaModelFacts | undefined> {
    const root = await this.ollama();
    return root ? ollamaModelFacts(root, model) : undefined;
  }

  /** The context window Lares keeps requests inside, when known (LARES_CONTEXT_WINDOW, or Ollama's num_ctx). */
  async contextWindow(model: string): Promise<number | undefined> {
    return (await this.modelFacts(model)).window;
  }

  private modelFacts(model: string): Promise<ModelFacts> {
    let facts = this.facts.get(model);
    if (!facts) {
      facts = this.loadFacts(model);
      this.facts.set(model, facts);
      facts.catch(() => this.facts.delete(model)); // asked again next time (the server may be back)
    }
    return facts;
  }

  private async loadFacts(model: string): Promise<ModelFacts> {
    const ollama = await this.ollamaFacts(model);
    if (!ollama) return { window: this.options.contextWindow, tools: true, images: true };
    const window = ollamaWindow(ollama, this.options.contextWindow);
    log().info({ event: 'ollama_model', model, contextWindow: window.tokens, source: window.source, tools: ollama.tools, vision: ollama.vision }, `Ollama model ${model}: context ${window.tokens} tokens (${window.source})`);
    if (window.warning) log().warn({ event: 'ollama_context_small', model }, window.warning);
    if (!ollama.tools) this.noteToolless(model, `Ollama says ${model} does not take tools`);
    return { window: window.tokens, tools: ollama.tools, images: ollama.vision };
  }

  private noteToolless(model: string, why: string): void {
    if (this.toolless.has(model)) return;
    this.toolless.add(model);
    log().warn({ event: 'model_without_tools', model }, `${why}: Lares runs it without tools (no memory edits, no actions). Pick a model with tool support for the whole of Lares.`);
  }

  async createMessage(request: ModelRequest, options: CallOptions = {}): Promise<ModelResponse> {
    const facts = await this.modelFacts(request.model).catch((error: unknown) => { throw mapOpenAIError(error, this.endpoint); });
    this.checkWindow(request, facts.window);
    try {
      return await this.send(request, options, facts);
    } catch (error) {
      if (!(error instanceof LlmError) || error.kind !== 'invalid_request') throw error;
      if (/does not support tools|tools? (are|is) not supported|tool.?use is not supported|"?tools"? .*not (supported|allowed)/i.test(error.message) && !this.toolless.has(request.model) && request.tools.length > 0) {
        this.noteToolless(request.model, `${this.endpoint.name} says ${request.model} does not take tools`);
        return this.send(request, options, facts);
      }
      if (/stream_options|include_usage/i.test(error.message) && this.streamUsage) {
        log().info({ event: 'stream_usage_unsupported' }, `${this.endpoint.name} refuses stream_options; token counts will be estimated`);
        this.streamUsage = false;
        return this.send(request, options, facts);
      }
      throw error;
    }
  }

  /** Refuses a request the server would cut: the orchestrator then compacts and asks again. */
  private checkWindow(request: ModelRequest, window: number | undefined): void {
    if (!window) return;
    const estimate = this.calibration.tokens(estimateRequestTokens(request).total);
    const reserve = Math.min(request.maxTokens, Math.floor(window / 4));
    if (estimate + reserve <= window) return;
    throw new LlmError('context_exceeded', `the request (about ${estimate} tokens, plus ${reserve} for the reply) does not fit ${request.model}'s context window of ${window} tokens; the server would shorten it silently (old messages first, then the memory in the system prompt)`, { retryable: false });
  }

  private async send(request: ModelRequest, options: CallOptions, facts: ModelFacts): Promise<ModelResponse> {
    const tools = !this.toolless.has(request.model) && facts.tools && request.tools.length > 0;
    const params: OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming = {
      model: request.model,
      messages: toChatMessages(request, { tools: !this.toolless.has(request.model) && facts.tools, images: facts.images }),
      ...(tools ? { tools: toChatTools(request) } : {}),
      // OpenAI's newer models take only max_completion_tokens; most other servers only max_tokens
      ...(this.official ? { max_completion_tokens: request.maxTokens } : { max_tokens: request.maxTokens }),
      stream: true,
      ...(this.streamUsage ? { stream_options: { include_usage: true } } : {}),
    };
    const estimate = estimateRequestTokens(request).total;
    return withRetries(async () => {
      const filter = options.onText ? new ThinkingFilter(options.onText) : undefined;
      const stream = await this.client.chat.completions.create(params, { signal: options.signal });
      let id = '';
      let model = request.model;
      let text = '';
      let refusal = '';
      let finish: string | null | undefined;
      let usage: OpenAI.CompletionUsage | undefined;
      const calls: CollectedToolCall[] = [];
      for await (const chunk of stream) {
        id ||= chunk.id ?? '';
        if (chunk.model) model = chunk.model;
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices ?? []) {
          if ((choice.index ?? 0) !== 0) continue;
          const delta = choice.delta ?? {};
          if (delta.content) { text += delta.content; filter?.push(delta.content); }
          if (delta.refusal) refusal += delta.refusal;
          for (const part of delta.tool_calls ?? []) collectToolCall(calls, part);
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
      if (!text.trim() && refusal) text = refusal;
      const complete = calls.filter((c) => c?.name);
      const content = replyBlocks(text, complete);
      const stopReason = refusal && !complete.length ? 'refusal' : toStopReason(finish, complete.length > 0);
      return { id: id || `chatcmpl-${Date.now()}`, model, content, stopReason, usage: this.usage(usage, estimate, text, complete) };
    }, (error) => mapOpenAIError(error, this.endpoint), this.retry, options.onRetry, options.signal);
  }

  /** The reported usage (cached tokens are part of prompt_tokens), or an estimate when there is none. */
  private usage(reported: OpenAI.CompletionUsage | undefined, estimate: number, text: string, calls: CollectedToolCall[]): ModelUsage {
    if (reported && Number.isFinite(reported.prompt_tokens)) {
      const cached = reported.prompt_tokens_details?.cached_tokens ?? 0;
      this.calibration.observe(estimate, reported.prompt_tokens);
      return { inputTokens: reported.prompt_tokens - cached, cacheReadTokens: cached, cacheWriteTokens: 0, outputTokens: reported.completion_tokens ?? 0 };
    }
    const output = estimateTextTokens(text) + calls.reduce((sum, c) => sum + estimateTextTokens(c.name + c.arguments), 0);
    return { inputTokens: this.calibration.tokens(estimate), cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: output, estimated: true };
  }

  async countTokens(request: ModelRequest): Promise<number> {
    // Chat Completions has no counting endpoint: the estimate, calibrated on reported usage
    return this.calibration.tokens(estimateRequestTokens(request).total);
  }
}

/** Folds one streamed tool-call fragment in: by index, or by id for servers that send no index. */
function collectToolCall(calls: CollectedToolCall[], part: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall): void {
  let index = typeof part.index === 'number' ? part.index : -1;
  if (index < 0) index = part.id ? calls.findIndex((c) => c.id === part.id) : calls.length - 1;
  if (index < 0) index = calls.length;
  const call = (calls[index] ??= { name: '', arguments: '' });
  if (part.id && !call.id) call.id = part.id;
  if (part.function?.name && !call.name) call.name = part.function.name;
  if (part.function?.arguments) call.arguments += part.function.arguments;
}
