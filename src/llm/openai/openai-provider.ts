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
import { replyBlocks, ThinkingFilter, toChatMessages, toChatTools, toStopReason, ToolCallCollector, type CollectedToolCall, type ToolCallIdStyle } from './chat-messages.ts';
import { withoutCredentials } from '../../embeddings/embedder.ts';
import { isToolsUnsupported, mapOpenAIError, type EndpointLabel } from './map-openai-error.ts';
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
  /** the provider's name in usage rows and logs: 'openai' (default) or 'ollama' */
  name?: string;
}

interface ModelFacts { window?: number; tools: boolean; images: boolean }

export class OpenAIProvider implements ModelProvider {
  readonly name: string;
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
  /** real prompt tokens per estimated token, per model (tokenizers differ), learned from reported usage */
  private readonly calibrations = new Map<string, TokenCalibration>();
  private readonly idStyle: ToolCallIdStyle;

  constructor(options: OpenAIProviderOptions) {
    this.options = options;
    this.name = options.name ?? 'openai';
    this.official = !options.baseUrl || /^https:\/\/api\.openai\.com(\/|$)/.test(options.baseUrl);
    this.idStyle = options.baseUrl && /^https:\/\/api\.mistral\.ai(\/|$)/.test(options.baseUrl) ? 'mistral' : 'openai';
    this.client = new OpenAI({
      // the SDK insists on a key; local servers ignore it
      apiKey: options.apiKey ?? 'not-needed',
      baseURL: options.baseUrl,
      maxRetries: 0,
      timeout: options.timeoutMs ?? 10 * 60_000,
      fetch: errorBodyFetch,
    });
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.endpoint = this.official
      ? { name: 'the OpenAI API', urlVariable: 'OPENAI_BASE_URL' }
      : { name: `the OpenAI-compatible server at ${withoutCredentials(options.baseUrl!)}`, urlVariable: 'OPENAI_BASE_URL' };
  }

  private calibration(model: string): TokenCalibration {
    let calibration = this.calibrations.get(model);
    if (!calibration) this.calibrations.set(model, (calibration = new TokenCalibration()));
    return calibration;
  }

  /** The Ollama server behind the base URL, if it is one (asked once). */
  ollama(): Promise<string | undefined> {
    if (this.official || this.options.detectOllama === false || !this.options.baseUrl) return Promise.resolve(undefined);
    this.ollamaRoot ??= detectOllama(this.options.baseUrl).then((root) => {
      if (root) this.endpoint = { name: `Ollama at ${withoutCredentials(root)}`, urlVariable: this.name === 'ollama' ? 'OLLAMA_BASE_URL' : 'OPENAI_BASE_URL' };
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
    const facts = await withRetries(() => this.modelFacts(request.model), (error) => mapOpenAIError(error, this.endpoint), this.retry, options.onRetry, options.signal);
    // the request's size, estimated once: the window check, the reply limit and usage all use it
    const estimate = estimateRequestTokens(request).total;
    this.checkWindow(request, facts.window, estimate);
    try {
      return await this.send(request, options, facts, estimate);
    } catch (error) {
      if (!(error instanceof LlmError) || error.kind !== 'invalid_request') throw error;
      if (isToolsUnsupported(error.message) && !this.toolless.has(request.model) && request.tools.length > 0) {
        this.noteToolless(request.model, `${this.endpoint.name} says ${request.model} does not take tools`);
        return this.send(request, options, facts, estimate);
      }
      if (/stream_options|include_usage/i.test(error.message) && this.streamUsage) {
        log().info({ event: 'stream_usage_unsupported' }, `${this.endpoint.name} refuses stream_options; token counts will be estimated`);
        this.streamUsage = false;
        return this.send(request, options, facts, estimate);
      }
      throw error;
    }
  }

  /** Refuses a request the server would cut: the orchestrator then compacts and asks again. */
  private checkWindow(request: ModelRequest, window: number | undefined, estimate: number): void {
    if (!window) return;
    const tokens = this.calibration(request.model).tokens(estimate);
    const reserve = replyReserve(request.maxTokens, window);
    if (tokens + reserve <= window) return;
    throw new LlmError('context_exceeded', `the request (about ${tokens} tokens, plus ${reserve} for the reply) does not fit ${request.model}'s context window of ${window} tokens; the server would shorten it silently (old messages first, then the memory in the system prompt). A larger window: OLLAMA_CONTEXT_LENGTH or num_ctx on the server, then LARES_CONTEXT_WINDOW`, { retryable: false });
  }

  /**
   * The reply's token limit. Inside a known window: what is left after the prompt (Ollama would
   * otherwise shift its context mid-reply, dropping the prompt's start; vLLM refuses prompt +
   * max_tokens over its max_model_len). OpenAI's reasoning models spend part of it on hidden
   * reasoning, so they get room for that on top.
   */
  private replyTokens(request: ModelRequest, window: number | undefined, estimate: number): number {
    if (this.official && /^(gpt-5|o\d)/.test(request.model)) return Math.max(request.maxTokens * 4, 16_384);
    if (!window) return request.maxTokens;
    const tokens = this.calibration(request.model).tokens(estimate);
    return Math.max(replyReserve(request.maxTokens, window), Math.min(request.maxTokens, window - tokens));
  }

  private async send(request: ModelRequest, options: CallOptions, facts: ModelFacts, estimate: number): Promise<ModelResponse> {
    const tools = !this.toolless.has(request.model) && facts.tools && request.tools.length > 0;
    const maxTokens = this.replyTokens(request, facts.window, estimate);
    const params: OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming = {
      model: request.model,
      messages: toChatMessages(request, { tools: !this.toolless.has(request.model) && facts.tools, images: facts.images, idStyle: this.idStyle }),
      ...(tools ? { tools: toChatTools(request) } : {}),
      // OpenAI's newer models take only max_completion_tokens; most other servers only max_tokens
      ...(this.official ? { max_completion_tokens: maxTokens } : { max_tokens: maxTokens }),
      stream: true,
      ...(this.streamUsage ? { stream_options: { include_usage: true } } : {}),
    };
    return withRetries(async () => {
      const filter = options.onText ? new ThinkingFilter(options.onText) : undefined;
      const stream = await this.client.chat.completions.create(params, { signal: options.signal });
      let id = '';
      let model = request.model;
      let text = '';
      let refusal = '';
      let finish: string | null | undefined;
      let usage: OpenAI.CompletionUsage | undefined;
      const collector = new ToolCallCollector();
      for await (const chunk of stream) {
        id ||= chunk.id ?? '';
        if (chunk.model) model = chunk.model;
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices ?? []) {
          if ((choice.index ?? 0) !== 0) continue;
          const delta = choice.delta ?? {};
          if (delta.content) { text += delta.content; filter?.push(delta.content); }
          if (delta.refusal) refusal += delta.refusal;
          for (const part of delta.tool_calls ?? []) collector.push(part);
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
      if (!text.trim() && refusal) text = refusal;
      const complete = collector.complete();
      const content = replyBlocks(text, complete);
      const stopReason = refusal && !complete.length ? 'refusal' : toStopReason(finish, complete.length > 0);
      return { id: id || `chatcmpl-${Date.now()}`, model, content, stopReason, usage: this.usage(request.model, usage, estimate, text, complete) };
    }, (error) => mapOpenAIError(error, this.endpoint), this.retry, options.onRetry, options.signal);
  }

  /** The reported usage (cached tokens are part of prompt_tokens), or an estimate when there is none. */
  private usage(model: string, reported: OpenAI.CompletionUsage | undefined, estimate: number, text: string, calls: CollectedToolCall[]): ModelUsage {
    const calibration = this.calibration(model);
    if (reported && Number.isFinite(reported.prompt_tokens)) {
      const cached = reported.prompt_tokens_details?.cached_tokens ?? 0;
      calibration.observe(estimate, reported.prompt_tokens);
      return { inputTokens: reported.prompt_tokens - cached, cacheReadTokens: cached, cacheWriteTokens: 0, outputTokens: reported.completion_tokens ?? 0 };
    }
    const output = estimateTextTokens(text) + calls.reduce((sum, c) => sum + estimateTextTokens(c.name + c.arguments), 0);
    return { inputTokens: calibration.tokens(estimate), cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: output, estimated: true };
  }

  async countTokens(request: ModelRequest): Promise<number> {
    // Chat Completions has no counting endpoint: the estimate, calibrated on reported usage
    return this.calibration(request.model).tokens(estimateRequestTokens(request).total);
  }
}

/** Room kept for the reply inside a window: a quarter of it at most. */
function replyReserve(maxTokens: number, window: number): number {
  return Math.min(maxTokens, Math.floor(window / 4));
}

/**
 * vLLM (before 0.10.1) and some proxies answer errors as `{"object":"error","message":…}`, which
 * the SDK reads as "no body": such a body is rewritten to OpenAI's `{error: {message}}` shape.
 */
const errorBodyFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return response;
  const text = await response.text();
  let body: unknown;
  try { body = JSON.parse(text); } catch { body = undefined; }
  const flat = body as { error?: unknown; message?: unknown; type?: unknown; code?: unknown } | undefined;
  const rewritten = flat && flat.error === undefined && typeof flat.message === 'string'
    ? JSON.stringify({ error: { message: flat.message, type: flat.type ?? null, code: flat.code ?? null } })
    : text;
  return new Response(rewritten, { status: response.status, statusText: response.statusText, headers: response.headers });
};
