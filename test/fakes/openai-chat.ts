// A strict fake of OpenAI's Chat Completions API, served over real HTTP on 127.0.0.1 and driven by
// the real `openai` SDK. It validates requests the way the real API does (same statuses, error
// shapes, messages, params and codes), streams the real chunk sequence (tool-call arguments split
// across chunks), reports usage with simulated automatic prompt caching, and can play Ollama's
// OpenAI layer instead (`flavour: 'ollama'`): no key, Ollama's own errors, /api/* model endpoints,
// and Ollama's silent prompt truncation when a conversation outgrows the model's num_ctx.

import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeServer, flattenHeaders, HttpError, listenOnLoopback, readBody } from './http-plumbing.ts';
import { createHash, randomBytes } from 'node:crypto';
import { tokenize } from './anthropic.ts';

export type Flavour = 'openai' | 'ollama';

export interface FakeModel {
  id: string;
  /** Ollama: the context the model is loaded with (Modelfile `num_ctx`). Unset: the server default (`defaultNumCtx`), and no num_ctx line in /api/show. */
  numCtx?: number;
  /** Whether the model takes `tools` (Ollama 400s otherwise). Default true. */
  tools?: boolean;
  /** The model's maximum context: OpenAI 400s prompts over it; Ollama reports it as `<arch>.context_length` and caps num_ctx at it. Default 128,000. */
  contextWindow?: number;
  /** OpenAI reasoning model (gpt-5*, o1/o3/o4*): rejects max_tokens and a non-default temperature. Default from the id. */
  reasoning?: boolean;
  /** Ollama: the `thinking` capability. Default false. */
  thinking?: boolean;
  /** Ollama /api/tags and /api/show details. Defaults: the name before the tag, '8.0B', 'Q4_K_M'. */
  family?: string;
  parameterSize?: string;
  quantization?: string;
  /** Ollama: listed by /api/ps from the start (otherwise a model shows there once it has answered). */
  loaded?: boolean;
}

export interface FakeOpenAiChatOptions {
  /** Default 'openai'. */
  flavour?: Flavour;
  /** Default 'test-key' ('ollama' in ollama mode, where any key or none is accepted). */
  apiKey?: string;
  /** Defaults: gpt-5-mini, gpt-5, gpt-4.1-mini, gpt-4o-mini (openai); qwen3:8b with tools, gemma3:1b without (ollama). */
  models?: FakeModel[];
  /** Ollama: the server's context length for models without numCtx (OLLAMA_CONTEXT_LENGTH). Default 4096. */
  defaultNumCtx?: number;
  /** Default true: OpenAI's message, tool and content-part rules (in ollama mode too; real Ollama checks none of them). */
  strict?: boolean;
  /** Default: replies with text "echo: <last user text>". */
  responder?: Responder;
}

export type FinishReason = 'stop' | 'tool_calls' | 'length' | 'content_filter';

export interface FakeToolCall {
  /** Default: a generated `call_…` id. */
  id?: string;
  name: string;
  /** An object is sent as its JSON; a string is sent as is (so tests can send broken JSON). */
  arguments: Record<string, unknown> | string;
}

export type FakeReply =
  | {
    text?: string;
    toolCalls?: FakeToolCall[];
    /** Default 'tool_calls' with toolCalls, else 'stop' (or 'length' when cut by max tokens). */
    finishReason?: FinishReason;
    /** Overrides the counted completion_tokens (and disables the max-tokens cut). */
    completionTokens?: number;
    /** Visible reasoning, as local models send it: a `<think>…</think>` prefix of the content, or with `reasoningAs: 'field'` a `reasoning` field (Ollama ≥ 0.12). */
    reasoning?: string;
    reasoningAs?: 'think-tags' | 'field';
    /** Hidden reasoning of an OpenAI reasoning model: counted in completion_tokens and completion_tokens_details.reasoning_tokens. */
    reasoningTokens?: number;
    /** Overrides the simulated prompt cache's cached_tokens. */
    cachedTokens?: number;
    /** No usage at all (some OpenAI-compatible servers), even with include_usage. */
    omitUsage?: boolean;
    /** Tool calls without an `id` (some local servers). */
    omitToolCallIds?: boolean;
    /** Stream the chunks of parallel tool calls round-robin by index instead of one call after the other (OpenAI's order). */
    interleaveToolCalls?: boolean;
  }
  | {
    /** `body` defaults to the service's own error for the status; a string body is sent as text/plain (proxies do that). */
    error: { status: number; body?: unknown; headers?: Record<string, string> };
  };

export type Responder = (request: RecordedRequest, index: number) => FakeReply | Promise<FakeReply>;

/** What the fake answered in `usage`: OpenAI's fields, or Ollama's three. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number; audio_tokens: number; accepted_prediction_tokens: number; rejected_prediction_tokens: number };
}

/** What Ollama silently left out of the prompt (ollama mode only). */
export interface Truncation {
  /** How many of the request's messages the model did not see whole: dropped by the message pass, or cut into by the token pass. */
  droppedMessages: number;
  /** Their indices in `body.messages`. */
  droppedIndices: number[];
  /** Tokens the token pass removed after the first 4 (Ollama's "truncating input prompt"); 0 when dropping messages sufficed. */
  cutTokens: number;
  /** Whether the token pass cut into the tool definitions. */
  toolsCut: boolean;
  /** Prompt tokens the model evaluated: usage.prompt_tokens. */
  keptTokens: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Parsed JSON body; undefined when there was none or it did not parse. */
  body: any;
  /** The HTTP status answered. */
  status?: number;
  /** Chat completions the fake answered. */
  usage?: Usage;
  /** Ollama mode: what was silently truncated, when anything was. */
  truncated?: Truncation;
}

export interface FakeOpenAiChat {
  /** http://127.0.0.1:PORT — the SDK's baseURL is `${url}/v1`; the Ollama client's host is `url`. */
  url: string;
  apiKey: string;
  flavour: Flavour;
  /** Every request, in order, rejected ones too. */
  requests: RecordedRequest[];
  /** Tool-call ids that appeared in request histories (assistant tool_calls and tool messages). */
  toolCallIdsSeen: Set<string>;
  /** Tool-call ids the fake generated in its replies, in order. */
  toolCallIdsIssued: string[];
  setResponder(r: Responder): void;
  /** Scripted replies, used first and in order, before the responder. */
  enqueue(...replies: FakeReply[]): void;
  /** The fake's prompt-token count of a body, before any truncation (what OpenAI mode reports). */
  countTokens(body: any): number;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Token counting: tokenize() from the Anthropic fake plus OpenAI's published framing costs
// (3 per message, 1 per name, 3 to prime the reply), so counts are deterministic and plausible.

const MESSAGE_OVERHEAD = 3;
const NAME_OVERHEAD = 1;
const REPLY_PRIMING = 3;
const TOOL_CALL_OVERHEAD = 3;
const TOOLS_OVERHEAD = 12;
const TOOL_OVERHEAD = 8;
/** A low-detail image; `high`/`auto` is costed as a 1024×1024 image (4 tiles × 170 + 85). */
const IMAGE_LOW_TOKENS = 85;
const IMAGE_HIGH_TOKENS = 765;
const AUDIO_TOKENS = 100;
const FILE_TOKENS = 500;

function partTokens(part: any): number {
  switch (part?.type) {
    case 'text': return tokenize(String(part.text ?? ''));
    case 'refusal': return tokenize(String(part.refusal ?? ''));
    case 'image_url': return part.image_url?.detail === 'low' ? IMAGE_LOW_TOKENS : IMAGE_HIGH_TOKENS;
    case 'input_audio': return AUDIO_TOKENS;
    case 'file': return FILE_TOKENS;
    default: return tokenize(JSON.stringify(part ?? null));
  }
}

function contentTokens(content: unknown): number {
  if (typeof content === 'string') return tokenize(content);
  if (Array.isArray(content)) return content.reduce((n: number, part) => n + partTokens(part), 0);
  return 0;
}

/** The tokens one message costs in the prompt: framing, name, content, and any tool calls. */
export function messageTokens(message: any): number {
  let tokens = MESSAGE_OVERHEAD + contentTokens(message?.content);
  if (typeof message?.name === 'string') tokens += NAME_OVERHEAD + tokenize(message.name);
  for (const call of Array.isArray(message?.tool_calls) ? message.tool_calls : []) {
    const args = call?.function?.arguments;
    tokens += TOOL_CALL_OVERHEAD + tokenize(String(call?.function?.name ?? ''))
      + tokenize(typeof args === 'string' ? args : JSON.stringify(args ?? ''));
  }
  return tokens;
}

/** The tokens the tool definitions cost (rendered once, ahead of the conversation). */
export function toolsTokens(tools: unknown): number {
  if (!Array.isArray(tools) || tools.length === 0) return 0;
  return TOOLS_OVERHEAD + tools.reduce((n: number, tool: any) => {
    const fn = tool?.function ?? tool?.custom ?? {};
    return n + TOOL_OVERHEAD + tokenize(String(fn.name ?? '')) + tokenize(String(fn.description ?? ''))
      + (fn.parameters ? tokenize(JSON.stringify(fn.parameters)) : 0);
  }, 0);
}

/** The fake's prompt-token count of a request body: tools + messages + reply priming. */
export function countTokens(body: any): number {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  return toolsTokens(body?.tools) + messages.reduce((n, m) => n + messageTokens(m), 0) + REPLY_PRIMING;
}

// ---------------------------------------------------------------------------------------------
// Automatic prompt caching (OpenAI mode): prompts of 1024+ tokens are cached by prefix; a request
// reads the longest prefix seen before, reported in whole 128-token steps from 1024 up. Prefixes
// are compared at message granularity (tools first, then each message), scoped by model and
// prompt_cache_key. Entries do not expire.

const CACHE_MIN_TOKENS = 1024;
const CACHE_STEP = 128;

/** Stable JSON (sorted keys) so equal content hashes equally whatever the key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

class PromptCache {
  readonly prefixes = new Map<string, number>();

  /** Returns the cached tokens for this prompt, then remembers all its prefixes. */
  apply(scope: string, body: any): number {
    let hash = createHash('sha256').update(scope).update('\0').update(canonical(body.tools ?? [])).digest('hex');
    let running = toolsTokens(body.tools);
    const seen: Array<[string, number]> = [[hash, running]];
    for (const message of body.messages as any[]) {
      hash = createHash('sha256').update(hash).update('\n').update(canonical(message)).digest('hex');
      running += messageTokens(message);
      seen.push([hash, running]);
    }
    let matched = 0;
    for (const [prefix, tokens] of seen) {
      if (this.prefixes.has(prefix)) matched = tokens;
      else break;
    }
    for (const [prefix, tokens] of seen) this.prefixes.set(prefix, tokens);
    return matched < CACHE_MIN_TOKENS ? 0 : CACHE_MIN_TOKENS + Math.floor((matched - CACHE_MIN_TOKENS) / CACHE_STEP) * CACHE_STEP;
  }
}

// ---------------------------------------------------------------------------------------------
// Ollama's silent truncation, in its two passes (server/prompt.go chatPrompt, then the runner):
// 1. Drop messages from the front until the rendered prompt fits num_ctx, always keeping the system
//    messages and the last message (and never orphaning tool results from their assistant turn).
// 2. If it still does not fit, the runner keeps the first 4 tokens and cuts the tokens after them
//    ("truncating input prompt" … keep=4): the system prompt and tool definitions go first.
// Both answer 200 as if nothing happened; prompt_tokens is what the model evaluated.

const NUM_KEEP = 4;

function toolBlockStart(messages: any[], index: number): number {
  if (index <= 0 || messages[index]?.role !== 'tool') return index;
  let start = index;
  while (start > 0 && messages[start - 1]?.role === 'tool') start--;
  const assistant = start - 1;
  return assistant >= 0 && messages[assistant]?.role === 'assistant' && Array.isArray(messages[assistant].tool_calls) && messages[assistant].tool_calls.length > 0
    ? assistant
    : index;
}

/** Applies both passes; returns the evaluated prompt tokens and, when anything was lost, what. */
function ollamaTruncate(body: any, numCtx: number): { promptTokens: number; truncation?: Truncation } {
  const messages: any[] = body.messages;
  const tools = toolsTokens(body.tools);
  const render = (indices: number[]): number => tools + indices.reduce((n, i) => n + messageTokens(messages[i]), 0) + REPLY_PRIMING;

  // Pass 1: the kept window starts at the first index where system messages before it + the window fit.
  let kept: number[] = messages.map((_, i) => i);
  for (let i = 0; i < messages.length; i++) {
    const start = toolBlockStart(messages, i);
    const candidate = messages.map((_, j) => j).filter((j) => j >= start || messages[j].role === 'system');
    if (render(candidate) <= numCtx || i === messages.length - 1) {
      kept = candidate;
      break;
    }
  }
  const dropped = new Set(messages.map((_, i) => i).filter((i) => !kept.includes(i)));

  // Pass 2: lay the rendered prompt out (tools after a leading system message, as chat templates
  // put them) and cut `total - numCtx` tokens starting after the first NUM_KEEP.
  const total = render(kept);
  let cutTokens = 0;
  let toolsCut = false;
  if (total > numCtx) {
    cutTokens = total - numCtx;
    const cutFrom = NUM_KEEP;
    const cutTo = NUM_KEEP + cutTokens;
    const segments: Array<{ index: number | 'tools'; tokens: number }> = [];
    kept.forEach((i, k) => {
      if (k === 0 && messages[i].role !== 'system' && tools > 0) segments.push({ index: 'tools', tokens: tools });
      segments.push({ index: i, tokens: messageTokens(messages[i]) });
      if (k === 0 && messages[i].role === 'system' && tools > 0) segments.push({ index: 'tools', tokens: tools });
    });
    let position = 0;
    for (const segment of segments) {
      const start = position;
      position += segment.tokens;
      if (segment.tokens === 0 || position <= cutFrom || start >= cutTo) continue;
      if (segment.index === 'tools') toolsCut = true;
      else dropped.add(segment.index);
    }
  }
  const promptTokens = Math.min(total, numCtx);
  if (dropped.size === 0 && cutTokens === 0) return { promptTokens };
  const droppedIndices = [...dropped].sort((a, b) => a - b);
  return { promptTokens, truncation: { droppedMessages: droppedIndices.length, droppedIndices, cutTokens, toolsCut, keptTokens: promptTokens } };
}

// ---------------------------------------------------------------------------------------------
// Errors

function openAiError(status: number, message: string, param: string | null = null, code: string | null = null, type = 'invalid_request_error', headers: Record<string, string> = {}): HttpError {
  return new HttpError(status, { error: { message, type, param, code } }, headers);
}

/** A 400 invalid_request_error, OpenAI's answer to every malformed request. */
function invalid(message: string, param: string | null = null, code: string | null = null): HttpError {
  return openAiError(400, message, param, code);
}

/** Ollama's OpenAI layer: middleware errors are invalid_request_error, errors from the chat handler api_error. */
function ollamaError(status: number, message: string, type = 'api_error'): HttpError {
  return new HttpError(status, { error: { message, type, param: null, code: null } });
}

function defaultErrorBody(flavour: Flavour, status: number): unknown {
  if (flavour === 'ollama') {
    const message = status === 429 || status === 503 ? 'server busy, please try again.  maximum pending requests exceeded' : `fake Ollama error ${status}`;
    return { error: { message, type: status === 400 ? 'invalid_request_error' : 'api_error', param: null, code: null } };
  }
  if (status === 429) {
    return { error: { message: 'Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms. Visit https://platform.openai.com/account/rate-limits to learn more.', type: 'requests', param: null, code: 'rate_limit_exceeded' } };
  }
  if (status === 401) return { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } };
  if (status === 503) return { error: { message: 'The engine is currently overloaded, please try again later', type: 'server_error', param: null, code: null } };
  if (status >= 500) return { error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } };
  return { error: { message: `fake OpenAI error ${status}`, type: 'invalid_request_error', param: null, code: null } };
}

/** How OpenAI shows a wrong key in its 401: the first 3 and last 4 characters. */
function maskKey(key: string): string {
  return key.length <= 8 ? '*'.repeat(key.length) : `${key.slice(0, 3)}${'*'.repeat(Math.min(key.length - 7, 40))}${key.slice(-4)}`;
}

// ---------------------------------------------------------------------------------------------
// OpenAI request validation. Messages, params and codes are the real API's (its error texts are
// generated from the schema: "Invalid type for 'x': expected …", "Missing required parameter: 'x'.").

const CHAT_FIELDS = new Set([
  'messages', 'model', 'audio', 'frequency_penalty', 'function_call', 'functions', 'logit_bias', 'logprobs',
  'max_completion_tokens', 'max_tokens', 'metadata', 'modalities', 'moderation', 'n', 'parallel_tool_calls', 'prediction',
  'presence_penalty', 'prompt_cache_key', 'prompt_cache_options', 'prompt_cache_retention', 'reasoning_effort',
  'response_format', 'safety_identifier', 'seed', 'service_tier', 'stop', 'store', 'stream', 'stream_options',
  'temperature', 'tool_choice', 'tools', 'top_logprobs', 'top_p', 'user', 'verbosity', 'web_search_options',
]);
const ROLES = ['system', 'assistant', 'user', 'function', 'tool', 'developer'];
const MESSAGE_FIELDS: Record<string, string[]> = {
  system: ['role', 'content', 'name'],
  developer: ['role', 'content', 'name'],
  user: ['role', 'content', 'name'],
  // `annotations` too: clients append the response message as is, and the API takes it back.
  assistant: ['role', 'content', 'name', 'tool_calls', 'refusal', 'audio', 'function_call', 'annotations'],
  tool: ['role', 'content', 'tool_call_id'],
  function: ['role', 'content', 'name'],
};
/** Ollama's openai.Message: it takes back the `reasoning` it sent. */
const OLLAMA_MESSAGE_FIELDS = ['role', 'content', 'reasoning', 'tool_calls', 'name', 'tool_call_id'];
const PART_TYPES: Record<string, string[]> = {
  user: ['text', 'image_url', 'input_audio', 'file'],
  assistant: ['text', 'refusal'],
  system: ['text'],
  developer: ['text'],
  tool: ['text'],
  function: ['text'],
};
const FUNCTION_NAME = /^[a-zA-Z0-9_-]+$/;
const MAX_FUNCTION_NAME = 64;
const MAX_TOOL_CALL_ID = 40;
const MAX_TOOLS = 128;
const IMAGE_DATA_URL = /^data:image\/(png|jpeg|jpg|gif|webp);base64,[A-Za-z0-9+/=\s]+$/;

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "a string", "an object", … as the API's type errors name what they got. */
function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** "'a', 'b', and 'c'" — the API's list style. */
function quotedList(values: string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  if (quoted.length <= 2) return quoted.join(' and ');
  return `${quoted.slice(0, -1).join(', ')}, and ${quoted[quoted.length - 1]}`;
}

function wrongType(param: string, expected: string, value: unknown): HttpError {
  return invalid(`Invalid type for '${param}': expected ${expected}, but got ${typeName(value)} instead.`, param, 'invalid_type');
}

function missing(param: string): HttpError {
  return invalid(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
}

function tooLong(param: string, max: number, length: number): HttpError {
  return invalid(`Invalid '${param}': string too long. Expected a string with maximum length ${max}, but got a string with length ${length} instead.`, param, 'string_above_max_length');
}

function unknownParameter(param: string): HttpError {
  return invalid(`Unknown parameter: '${param}'.`, param, 'unknown_parameter');
}

function emptyArray(param: string): HttpError {
  return invalid(`Invalid '${param}': empty array. Expected an array with minimum length 1, but got an empty array instead.`, param, 'empty_array');
}

function checkImageUrl(part: any, param: string): void {
  const image = part.image_url;
  if (!isObject(image)) throw wrongType(`${param}.image_url`, 'an object', image);
  if (typeof image.url !== 'string') throw missing(`${param}.image_url.url`);
  if (image.detail !== undefined && !['auto', 'low', 'high'].includes(image.detail)) {
    throw invalid(`Invalid value: '${image.detail}'. Supported values are: 'auto', 'low', and 'high'.`, `${param}.image_url.detail`, 'invalid_value');
  }
  if (/^https?:\/\//.test(image.url)) return;
  if (!image.url.startsWith('data:')) {
    throw invalid(`Invalid '${param}.image_url.url'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got a value without the 'data:' prefix.`, `${param}.image_url.url`, 'invalid_value');
  }
  if (!IMAGE_DATA_URL.test(image.url)) throw invalid('Invalid MIME type. Only image types are supported.', null, 'invalid_image_format');
}

function checkContent(message: any, i: number, flavour: Flavour): void {
  const { role, content } = message;
  const param = `messages[${i}].content`;
  if (content === undefined || content === null) {
    const optional = role === 'assistant' && (message.tool_calls !== undefined || message.function_call !== undefined || message.refusal !== undefined);
    if (optional) return;
    if (role === 'assistant') throw invalid("Invalid value for 'content': expected a string, got null.", `messages.[${i}].content`);
    throw missing(param);
  }
  if (typeof content === 'string') return;
  if (!Array.isArray(content)) throw wrongType(param, 'one of a string or array of objects', content);
  if (content.length === 0) throw emptyArray(param);
  const allowed = PART_TYPES[role];
  content.forEach((part: any, j: number) => {
    const partParam = `${param}[${j}]`;
    if (!isObject(part)) throw wrongType(partParam, 'an object', part);
    if (part.type === undefined) throw missing(`${partParam}.type`);
    if (part.type === 'image_url' && role !== 'user') {
      throw invalid(`Image URLs are only allowed for messages with role 'user', but this message with role '${role}' contains an image URL.`, partParam, 'invalid_value');
    }
    if (!allowed.includes(part.type)) {
      throw invalid(`Invalid value: '${String(part.type)}'. Supported values are: ${quotedList(allowed)}.`, `${partParam}.type`, 'invalid_value');
    }
    // e.g. Anthropic's cache_control on a part (Ollama ignores extra keys).
    const extra = Object.keys(part).find((key) => key !== 'type' && key !== part.type);
    if (extra !== undefined && flavour === 'openai') throw unknownParameter(`${partParam}.${extra}`);
    if (part.type === 'text' && typeof part.text !== 'string') throw part.text === undefined ? missing(`${partParam}.text`) : wrongType(`${partParam}.text`, 'a string', part.text);
    if (part.type === 'image_url') checkImageUrl(part, partParam);
  });
}

function checkToolCalls(message: any, i: number): void {
  const calls = message.tool_calls;
  const param = `messages[${i}].tool_calls`;
  if (!Array.isArray(calls)) throw wrongType(param, 'an array', calls);
  if (calls.length === 0) throw emptyArray(param);
  calls.forEach((call: any, j: number) => {
    const callParam = `${param}[${j}]`;
    if (!isObject(call)) throw wrongType(callParam, 'an object', call);
    if (call.id === undefined) throw missing(`${callParam}.id`);
    if (typeof call.id !== 'string') throw wrongType(`${callParam}.id`, 'a string', call.id);
    if (call.id.length > MAX_TOOL_CALL_ID) throw tooLong(`${callParam}.id`, MAX_TOOL_CALL_ID, call.id.length);
    if (call.type === undefined) throw missing(`${callParam}.type`);
    if (call.type !== 'function' && call.type !== 'custom') {
      throw invalid(`Invalid value: '${String(call.type)}'. Supported values are: 'function' and 'custom'.`, `${callParam}.type`, 'invalid_value');
    }
    const fn = call.type === 'function' ? call.function : call.custom;
    const fnParam = `${callParam}.${call.type}`;
    if (!isObject(fn)) throw fn === undefined ? missing(fnParam) : wrongType(fnParam, 'an object', fn);
    if (typeof fn.name !== 'string') throw fn.name === undefined ? missing(`${fnParam}.name`) : wrongType(`${fnParam}.name`, 'a string', fn.name);
    if (call.type === 'function') {
      if (fn.arguments === undefined) throw missing(`${fnParam}.arguments`);
      if (typeof fn.arguments !== 'string') throw wrongType(`${fnParam}.arguments`, 'a string', fn.arguments);
    }
  });
}

/** `flavour` only changes which extra message fields are let through (Ollama's own, e.g. `reasoning`). */
function checkMessages(messages: unknown, flavour: Flavour = 'openai'): void {
  if (messages === undefined) throw missing('messages');
  if (!Array.isArray(messages)) throw wrongType('messages', 'an array', messages);
  if (messages.length === 0) throw emptyArray('messages');
  messages.forEach((message: any, i: number) => {
    if (!isObject(message)) throw wrongType(`messages[${i}]`, 'an object', message);
    if (message.role === undefined) throw missing(`messages[${i}].role`);
    if (!ROLES.includes(message.role)) {
      throw invalid(`Invalid value: '${String(message.role)}'. Supported values are: ${quotedList(ROLES)}.`, `messages[${i}].role`, 'invalid_value');
    }
    // Fields other providers add (reasoning_content, thinking, …) are rejected, as by the real API.
    const allowed = flavour === 'ollama' ? OLLAMA_MESSAGE_FIELDS : MESSAGE_FIELDS[message.role];
    const extra = Object.keys(message).find((key) => !allowed.includes(key));
    if (extra !== undefined) throw unknownParameter(`messages[${i}].${extra}`);
    checkContent(message, i, flavour);
    if (message.tool_calls !== undefined) checkToolCalls(message, i);
    if (message.role === 'tool') {
      if (message.tool_call_id === undefined) throw missing(`messages[${i}].tool_call_id`);
      if (typeof message.tool_call_id !== 'string') throw wrongType(`messages[${i}].tool_call_id`, 'a string', message.tool_call_id);
      if (message.tool_call_id.length > MAX_TOOL_CALL_ID) throw tooLong(`messages[${i}].tool_call_id`, MAX_TOOL_CALL_ID, message.tool_call_id.length);
    }
  });

  // Pairing: every tool message answers a tool call of the assistant message before its block of
  // tool messages (checked first, so a wrong id reports the tool message), and every tool call is
  // answered in the tool messages right after it.
  messages.forEach((message: any, i: number) => {
    if (message.role !== 'tool') return;
    let a = i - 1;
    while (a >= 0 && messages[a].role === 'tool') a--;
    const ids = a >= 0 && messages[a].role === 'assistant' && Array.isArray(messages[a].tool_calls) ? messages[a].tool_calls.map((c: any) => c.id) : [];
    if (!ids.includes(message.tool_call_id)) {
      throw invalid("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", `messages.[${i}].role`);
    }
  });
  messages.forEach((message: any, i: number) => {
    if (message.role === 'assistant' && Array.isArray(message.tool_calls)) {
      const answered = new Set<string>();
      for (let k = i + 1; k < messages.length && messages[k].role === 'tool'; k++) answered.add(messages[k].tool_call_id);
      const unanswered = message.tool_calls.map((c: any) => c.id as string).filter((id: string) => !answered.has(id));
      if (unanswered.length > 0) {
        throw invalid(`An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${unanswered.join(', ')}`, `messages.[${i}].role`);
      }
    }
  });
}

function checkTools(tools: unknown): void {
  if (tools === undefined) return;
  if (!Array.isArray(tools)) throw wrongType('tools', 'an array', tools);
  if (tools.length > MAX_TOOLS) {
    throw invalid(`Invalid 'tools': array too long. Expected an array with maximum length ${MAX_TOOLS}, but got an array with length ${tools.length} instead.`, 'tools', 'array_above_max_length');
  }
  tools.forEach((tool: any, i: number) => {
    const param = `tools[${i}]`;
    if (!isObject(tool)) throw wrongType(param, 'an object', tool);
    if (tool.type === undefined) throw missing(`${param}.type`);
    if (tool.type !== 'function' && tool.type !== 'custom') {
      throw invalid(`Invalid value: '${String(tool.type)}'. Supported values are: 'function' and 'custom'.`, `${param}.type`, 'invalid_value');
    }
    const fnParam = `${param}.${tool.type}`;
    const fn = tool[tool.type];
    if (!isObject(fn)) throw fn === undefined ? missing(fnParam) : wrongType(fnParam, 'an object', fn);
    if (fn.name === undefined) throw missing(`${fnParam}.name`);
    if (typeof fn.name !== 'string') throw wrongType(`${fnParam}.name`, 'a string', fn.name);
    if (fn.name.length > MAX_FUNCTION_NAME) throw tooLong(`${fnParam}.name`, MAX_FUNCTION_NAME, fn.name.length);
    if (!FUNCTION_NAME.test(fn.name)) {
      throw invalid(`Invalid '${fnParam}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`, `${fnParam}.name`, 'invalid_value');
    }
    if (tool.type === 'function' && fn.parameters !== undefined) {
      if (!isObject(fn.parameters)) throw wrongType(`${fnParam}.parameters`, 'an object', fn.parameters);
      if (Object.keys(fn.parameters).length > 0 && fn.parameters.type !== 'object') {
        const got = fn.parameters.type === undefined ? 'None' : String(fn.parameters.type);
        throw invalid(`Invalid schema for function '${fn.name}': schema must be a JSON Schema of 'type: "object"', got 'type: "${got}"'.`, `${fnParam}.parameters`, 'invalid_function_parameters');
      }
    }
  });
}

function checkToolChoice(body: any): void {
  const hasTools = Array.isArray(body.tools) && body.tools.length > 0;
  if (body.tool_choice !== undefined && body.tool_choice !== null) {
    if (!hasTools) throw invalid("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", 'tool_choice');
    const choice = body.tool_choice;
    if (typeof choice === 'string') {
      if (!['none', 'auto', 'required'].includes(choice)) {
        throw invalid(`Invalid value: '${choice}'. Supported values are: 'none', 'auto', and 'required'.`, 'tool_choice', 'invalid_value');
      }
    } else if (isObject(choice) && choice.type === 'function') {
      const name = choice.function?.name;
      if (typeof name !== 'string') throw missing('tool_choice.function.name');
      if (!body.tools.some((t: any) => t?.function?.name === name)) {
        throw invalid(`Invalid value for 'tool_choice': function '${name}' not found in 'tools'.`, 'tool_choice');
      }
    } else if (!isObject(choice)) {
      throw wrongType('tool_choice', "one of a string or an object", choice);
    }
  }
  if (body.parallel_tool_calls !== undefined && !hasTools) {
    throw invalid("Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.", 'parallel_tool_calls');
  }
}

function checkTokenLimit(body: any, field: 'max_tokens' | 'max_completion_tokens'): void {
  const value = body[field];
  if (value === undefined || value === null) return;
  if (!Number.isInteger(value)) throw wrongType(field, 'an integer', value);
  if (value < 1) throw invalid(`Invalid '${field}': integer below minimum value. Expected a value >= 1, but got ${value} instead.`, field, 'integer_below_min_value');
}

/** The request-level rules of /v1/chat/completions (model-independent). */
function checkChatBody(body: any, strict: boolean): void {
  for (const key of Object.keys(body)) {
    if (!CHAT_FIELDS.has(key)) throw invalid(`Unrecognized request argument supplied: ${key}`);
  }
  if (body.model === undefined || body.model === null || body.model === '') throw invalid('you must provide a model parameter');
  if (typeof body.model !== 'string') throw wrongType('model', 'a string', body.model);
  if (strict) {
    checkMessages(body.messages);
    checkTools(body.tools);
    checkToolChoice(body);
  } else if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw body.messages === undefined ? missing('messages') : emptyArray('messages');
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw wrongType('stream', 'a boolean', body.stream);
  if (body.stream_options !== undefined && body.stream_options !== null && body.stream !== true) {
    throw invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options');
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw invalid('The fake answers one choice only: n must be 1.', 'n');
  checkTokenLimit(body, 'max_tokens');
  checkTokenLimit(body, 'max_completion_tokens');
  if (body.max_tokens != null && body.max_completion_tokens != null) {
    throw invalid("Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.", 'max_tokens');
  }
  if (body.temperature !== undefined && body.temperature !== null) {
    if (typeof body.temperature !== 'number') throw wrongType('temperature', 'a decimal', body.temperature);
    if (body.temperature < 0) throw invalid(`Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got ${body.temperature} instead.`, 'temperature', 'decimal_below_min_value');
    if (body.temperature > 2) throw invalid(`Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got ${body.temperature} instead.`, 'temperature', 'decimal_above_max_value');
  }
}

/** What only reasoning models refuse (the "Unsupported parameter/value" family). */
function checkReasoningModel(body: any, reasoning: boolean): void {
  if (reasoning) {
    if (body.max_tokens != null) {
      throw invalid("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", 'max_tokens', 'unsupported_parameter');
    }
    if (body.temperature != null && body.temperature !== 1) {
      throw invalid(`Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`, 'temperature', 'unsupported_value');
    }
  } else if (body.reasoning_effort != null) {
    throw invalid("Unsupported parameter: 'reasoning_effort' is not supported with this model.", 'reasoning_effort', 'unsupported_parameter');
  }
}

// ---------------------------------------------------------------------------------------------
// Ollama's own checks (middleware/openai.go and openai.FromChatRequest): laxer, different words.

function checkOllamaBody(body: any): void {
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw ollamaError(400, "[] is too short - 'messages'", 'invalid_request_error');
  for (const message of body.messages as any[]) {
    const content = message?.content;
    if (Array.isArray(content)) {
      for (const part of content) {
        if (!isObject(part) || (part.type !== 'text' && part.type !== 'image_url')) throw ollamaError(400, 'invalid message format', 'invalid_request_error');
        if (part.type === 'text' && typeof part.text !== 'string') throw ollamaError(400, 'invalid message format', 'invalid_request_error');
        if (part.type === 'image_url') {
          const url = typeof part.image_url === 'string' ? part.image_url : part.image_url?.url;
          if (typeof url !== 'string') throw ollamaError(400, 'invalid message format', 'invalid_request_error');
          if (!/^data:(image\/(jpeg|jpg|png|webp))?;base64,/.test(url)) throw ollamaError(400, 'invalid image input', 'invalid_request_error');
        }
      }
    } else if (typeof content !== 'string' && message?.tool_calls == null) {
      throw ollamaError(400, `invalid message content type: ${content === null || content === undefined ? '<nil>' : typeof content}`, 'invalid_request_error');
    }
    // Ollama parses history arguments into a map: broken JSON (which OpenAI accepts) is a 400.
    for (const call of Array.isArray(message?.tool_calls) ? message.tool_calls : []) {
      try {
        const parsed = JSON.parse(call?.function?.arguments);
        if (!isObject(parsed)) throw new Error('not an object');
      } catch {
        throw ollamaError(400, 'invalid tool call arguments', 'invalid_request_error');
      }
    }
  }
  const effort = body.reasoning?.effort ?? body.reasoning_effort;
  if (effort !== undefined && effort !== null && effort !== '' && !['high', 'medium', 'low', 'none'].includes(effort)) {
    throw ollamaError(400, `invalid reasoning value: '${effort}' (must be "high", "medium", "low", or "none")`, 'invalid_request_error');
  }
}

/** Ollama's name matching: case-insensitive, and a missing tag means `latest`. */
function ollamaName(name: string): string {
  const lower = name.toLowerCase();
  return /:[^/]+$/.test(lower) ? lower : `${lower}:latest`;
}

/** The fully qualified name Ollama prints in capability errors. */
function ollamaQualified(name: string): string {
  const parts = ollamaName(name).split('/');
  if (parts.length === 1) return `registry.ollama.ai/library/${parts[0]}`;
  if (parts.length === 2) return `registry.ollama.ai/${parts.join('/')}`;
  return parts.join('/');
}

// ---------------------------------------------------------------------------------------------
// Replies

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomString(length: number, alphabet = ID_ALPHABET): string {
  let out = '';
  for (const byte of randomBytes(length)) out += alphabet[byte % alphabet.length];
  return out;
}

function lastUserText(body: any): string {
  const messages: any[] = body.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const { role, content } = messages[i];
    if (role !== 'user' && role !== 'tool') continue;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) return content.filter((p: any) => p?.type === 'text').map((p: any) => p.text).join('\n');
    return '';
  }
  return '';
}

/** The default responder: replies `echo: <last user text>` (or the last tool result). */
export const echoResponder: Responder = (request) => ({ text: `echo: ${lastUserText(request.body)}` });

// Word pieces as the tokenizer sees them, for cutting text at a token budget.
const PIECES = / ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+/gu;

function truncateToTokens(text: string, limit: number): string {
  let used = 0;
  let end = 0;
  for (const match of text.matchAll(PIECES)) {
    const cost = tokenize(match[0]);
    if (used + cost > limit) break;
    used += cost;
    end = (match.index ?? 0) + match[0].length;
  }
  return text.slice(0, end);
}

interface BuiltCall { id?: string; name: string; arguments: string }

interface BuiltReply {
  content: string | null;
  reasoningField?: string;
  toolCalls: BuiltCall[];
  finishReason: FinishReason;
  completionTokens: number;
  reasoningTokens: number;
}

function callTokens(call: BuiltCall): number {
  return TOOL_CALL_OVERHEAD + tokenize(call.name) + tokenize(call.arguments);
}

/** Turns a scripted reply into what the model "generated": stop sequences, the max-tokens cut, counts. */
function buildReply(reply: Exclude<FakeReply, { error: unknown }>, budget: number | undefined, stop: string[], issue: (id: string) => void): BuiltReply {
  const calls: BuiltCall[] = (reply.toolCalls ?? []).map((c) => {
    const id = reply.omitToolCallIds ? undefined : (c.id ?? `call_${randomString(24)}`);
    if (id) issue(id);
    return { id, name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {}) };
  });
  let text = reply.text;
  let reasoning = reply.reasoning;
  let finishReason: FinishReason = reply.finishReason ?? (calls.length > 0 ? 'tool_calls' : 'stop');
  // A stop sequence ends generation before it, as on the real API.
  if (text && stop.length > 0) {
    const at = Math.min(...stop.map((s) => text!.indexOf(s)).filter((n) => n >= 0));
    if (Number.isFinite(at)) text = text.slice(0, at);
  }
  const hidden = reply.reasoningTokens ?? 0;
  const natural = hidden + (reasoning ? tokenize(reasoning) : 0) + (text ? tokenize(text) : 0) + calls.reduce((n, c) => n + callTokens(c), 0);
  let completionTokens = reply.completionTokens ?? Math.max(1, natural);
  let kept = calls;
  // Without explicit instructions, a reply longer than the budget is cut off like the real model's.
  if (reply.finishReason === undefined && reply.completionTokens === undefined && budget !== undefined && natural > budget) {
    let left = Math.max(0, budget - hidden);
    if (reasoning) {
      reasoning = truncateToTokens(reasoning, left);
      left -= tokenize(reasoning);
    }
    if (text) text = truncateToTokens(text, left);
    kept = [];
    finishReason = 'length';
    completionTokens = budget;
  }
  const asField = reply.reasoningAs === 'field';
  let content: string | null = text ?? null;
  if (reasoning && !asField) content = `<think>\n${reasoning}\n</think>\n\n${text ?? ''}`;
  if (content === null && kept.length === 0) content = '';
  return {
    content,
    reasoningField: reasoning && asField ? reasoning : undefined,
    toolCalls: kept,
    finishReason,
    completionTokens,
    reasoningTokens: hidden,
  };
}

/** Splits text into pieces of two words, the way the API streams a few tokens per chunk. */
function textChunks(text: string): string[] {
  const words = text.match(/\s*\S+/g) ?? [];
  const chunks: string[] = [];
  for (let i = 0; i < words.length; i += 2) chunks.push(words.slice(i, i + 2).join(''));
  const tail = text.slice(chunks.join('').length);
  if (tail) chunks.push(tail);
  return chunks.length > 0 ? chunks : [text];
}

/** Splits tool-call arguments into small fragments: always at least two when there are two characters. */
function argumentChunks(json: string): string[] {
  if (json.length < 2) return [json];
  const size = Math.max(1, Math.min(7, Math.ceil(json.length / 2)));
  const chunks: string[] = [];
  for (let i = 0; i < json.length; i += size) chunks.push(json.slice(i, i + size));
  return chunks;
}

function fingerprint(model: string): string {
  return `fp_${createHash('sha256').update(model).digest('hex').slice(0, 10)}`;
}

// ---------------------------------------------------------------------------------------------
// Models and requests

const MAX_BODY_BYTES = 32 * 1024 * 1024;

const DEFAULT_OPENAI_MODELS: FakeModel[] = [
  { id: 'gpt-5-mini', contextWindow: 272_000 },
  { id: 'gpt-5', contextWindow: 272_000 },
  { id: 'gpt-4.1-mini', contextWindow: 1_047_576 },
  { id: 'gpt-4o-mini', contextWindow: 128_000 },
];
const DEFAULT_OLLAMA_MODELS: FakeModel[] = [
  { id: 'qwen3:8b', tools: true, thinking: true, contextWindow: 40_960, family: 'qwen3', parameterSize: '8.2B' },
  { id: 'gemma3:1b', tools: false, contextWindow: 32_768, family: 'gemma3', parameterSize: '999.89M' },
];
const OLLAMA_VERSION = '0.12.3';

/** A model with every default filled in. */
interface ModelEntry extends Required<Omit<FakeModel, 'numCtx'>> {
  numCtx?: number;
  /** The context Ollama actually loads it with: numCtx or the server default, capped at the model's window. */
  effectiveNumCtx: number;
  digest: string;
  size: number;
  modifiedAt: Date;
}

function modelEntry(model: FakeModel, defaultNumCtx: number): ModelEntry {
  const contextWindow = model.contextWindow ?? 128_000;
  const digest = createHash('sha256').update(`fake-model\n${model.id}`).digest('hex');
  return {
    id: model.id,
    numCtx: model.numCtx,
    tools: model.tools ?? true,
    contextWindow,
    reasoning: model.reasoning ?? (/^(o\d|gpt-5)/.test(model.id) && !model.id.startsWith('gpt-5-chat')),
    thinking: model.thinking ?? false,
    family: model.family ?? model.id.split(':')[0].split('/').pop()!,
    parameterSize: model.parameterSize ?? '8.0B',
    quantization: model.quantization ?? 'Q4_K_M',
    loaded: model.loaded ?? false,
    effectiveNumCtx: Math.min(model.numCtx ?? defaultNumCtx, contextWindow),
    digest,
    size: 500_000_000 + (parseInt(digest.slice(0, 8), 16) % 5_000_000_000),
    modifiedAt: new Date('2025-09-30T12:00:00Z'),
  };
}

function ollamaDetails(model: ModelEntry): Record<string, unknown> {
  return { parent_model: '', format: 'gguf', family: model.family, families: [model.family], parameter_size: model.parameterSize, quantization_level: model.quantization };
}

/** The /api/show parameters text: Go's `%-30s %#v` per line, strings quoted. */
function ollamaParameters(model: ModelEntry): string {
  const params: Array<[string, string | number]> = model.family.startsWith('gemma')
    ? [['stop', '<end_of_turn>'], ['temperature', 1], ['top_k', 64], ['top_p', 0.95]]
    : [['repeat_penalty', 1], ['stop', '<|im_start|>'], ['stop', '<|im_end|>'], ['temperature', 0.6], ['top_k', 20], ['top_p', 0.95]];
  if (model.numCtx !== undefined) params.unshift(['num_ctx', model.numCtx]);
  return params.map(([k, v]) => `${k.padEnd(30)} ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`).join('\n');
}

function ollamaTemplate(model: ModelEntry): string {
  const tools = model.tools
    ? '{{- if .Tools }}\n# Tools\n\nYou may call one or more functions to assist with the user query.\n<tools>\n{{- range .Tools }}\n{"type": "function", "function": {{ .Function }}}\n{{- end }}\n</tools>\n{{- end }}\n'
    : '';
  return `{{- if .System }}<|im_start|>system\n{{ .System }}\n${tools}<|im_end|>\n{{ end }}{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n`;
}

function ollamaShow(model: ModelEntry): Record<string, unknown> {
  const arch = model.family;
  const template = ollamaTemplate(model);
  const parameters = ollamaParameters(model);
  const modelfile = [
    '# Modelfile generated by "ollama show"',
    '# To build a new Modelfile based on this, replace FROM with:',
    `# FROM ${model.id}`,
    '',
    `FROM /root/.ollama/models/blobs/sha256-${model.digest}`,
    `TEMPLATE """${template}"""`,
    ...parameters.split('\n').map((line) => `PARAMETER ${line.replace(/\s+/, ' ')}`),
    '',
  ].join('\n');
  return {
    license: 'Apache License\nVersion 2.0, January 2004',
    modelfile,
    parameters,
    template,
    details: ollamaDetails(model),
    model_info: {
      'general.architecture': arch,
      'general.file_type': 15,
      'general.parameter_count': Math.round(parseFloat(model.parameterSize) * (model.parameterSize.endsWith('M') ? 1e6 : 1e9)),
      'general.quantization_version': 2,
      [`${arch}.context_length`]: model.contextWindow,
      [`${arch}.embedding_length`]: 4096,
      [`${arch}.block_count`]: 36,
      [`${arch}.attention.head_count`]: 32,
    },
    capabilities: ['completion', ...(model.tools ? ['tools'] : []), ...(model.thinking ? ['thinking'] : [])],
    modified_at: model.modifiedAt.toISOString(),
  };
}

export async function startFakeOpenAiChat(options: FakeOpenAiChatOptions = {}): Promise<FakeOpenAiChat> {
  const flavour = options.flavour ?? 'openai';
  const ollama = flavour === 'ollama';
  const apiKey = options.apiKey ?? (ollama ? 'ollama' : 'test-key');
  const strict = options.strict ?? true;
  const defaultNumCtx = options.defaultNumCtx ?? 4096;
  const models = (options.models ?? (ollama ? DEFAULT_OLLAMA_MODELS : DEFAULT_OPENAI_MODELS)).map((m) => modelEntry(m, defaultNumCtx));
  const loaded = new Set(models.filter((m) => m.loaded).map((m) => m.id));
  const cache = new PromptCache();
  let responder: Responder = options.responder ?? echoResponder;
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  const toolCallIdsSeen = new Set<string>();
  const toolCallIdsIssued: string[] = [];
  let answered = 0;

  const findModel = (name: string): ModelEntry | undefined => (ollama
    ? models.find((m) => ollamaName(m.id) === ollamaName(name))
    : models.find((m) => m.id === name));

  // OpenAI tags every response with a request id (the SDK exposes it as _request_id); Ollama does not.
  const baseHeaders = (): Record<string, string> => (ollama
    ? {}
    : { 'x-request-id': `req_${randomBytes(16).toString('hex')}`, 'openai-version': '2020-10-01', 'openai-processing-ms': '42' });

  function send(res: ServerResponse, record: RecordedRequest, status: number, body: unknown, headers: Record<string, string> = {}): void {
    record.status = status;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
    res.writeHead(status, { 'content-type': type, ...baseHeaders(), ...headers });
    res.end(text);
  }

  function checkAuth(headers: Record<string, string>): void {
    if (ollama) return;
    const presented = /^Bearer (.+)$/i.exec(headers.authorization ?? '')?.[1];
    if (!presented) {
      throw openAiError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.");
    }
    if (presented !== apiKey) {
      throw openAiError(401, `Incorrect API key provided: ${maskKey(presented)}. You can find your API key at https://platform.openai.com/account/api-keys.`, null, 'invalid_api_key');
    }
  }

  function notFound(method: string, path: string): HttpError {
    return ollama ? new HttpError(404, '404 page not found') : openAiError(404, `Invalid URL (${method} ${path})`);
  }

  function modelObject(model: ModelEntry): Record<string, unknown> {
    return { id: model.id, object: 'model', created: Math.floor(model.modifiedAt.getTime() / 1000), owned_by: ollama ? 'library' : 'system' };
  }

  /** Ollama's native /api/* endpoints (ollama mode only). */
  function ollamaApi(method: string, path: string, body: any): unknown {
    if (method === 'GET' && path === '/api/version') return { version: OLLAMA_VERSION };
    if (method === 'GET' && path === '/api/tags') {
      return {
        models: models.map((m) => ({ name: m.id, model: m.id, modified_at: m.modifiedAt.toISOString(), size: m.size, digest: m.digest, details: ollamaDetails(m) })),
      };
    }
    if (method === 'GET' && path === '/api/ps') {
      const expires = new Date(Date.now() + 5 * 60_000).toISOString();
      return {
        models: models.filter((m) => loaded.has(m.id)).map((m) => ({
          name: m.id, model: m.id, size: m.size, digest: m.digest, details: ollamaDetails(m), expires_at: expires, size_vram: m.size, context_length: m.effectiveNumCtx,
        })),
      };
    }
    if (method === 'POST' && path === '/api/show') {
      const name = body?.model || body?.name;
      if (!name) throw new HttpError(400, { error: 'model is required' });
      const model = findModel(String(name));
      if (!model) throw new HttpError(404, { error: `model '${name}' not found` });
      return ollamaShow(model);
    }
    throw notFound(method, path);
  }

  async function chat(res: ServerResponse, record: RecordedRequest, raw: string): Promise<void> {
    checkAuth(record.headers);
    const body = record.body;
    if (!isObject(body)) {
      if (ollama) {
        // Go's encoding/json words, as gin's ShouldBindJSON reports them.
        const message = !raw.trim() ? 'EOF'
          : body === undefined ? `invalid character '${raw.trim()[0]}' looking for beginning of value`
            : `json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type openai.ChatCompletionRequest`;
        throw ollamaError(400, message, 'invalid_request_error');
      }
      throw invalid("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)");
    }
    for (const message of Array.isArray(body.messages) ? body.messages : []) {
      for (const call of Array.isArray(message?.tool_calls) ? message.tool_calls : []) if (typeof call?.id === 'string') toolCallIdsSeen.add(call.id);
      if (typeof message?.tool_call_id === 'string') toolCallIdsSeen.add(message.tool_call_id);
    }

    let model: ModelEntry | undefined;
    let promptTokens: number;
    let cachedTokens = 0;
    if (ollama) {
      checkOllamaBody(body);
      if (strict) {
        checkMessages(body.messages, 'ollama');
        checkTools(body.tools);
      }
      if (!body.model) throw ollamaError(400, 'model is required');
      model = findModel(String(body.model));
      if (!model) throw ollamaError(404, `model "${body.model}" not found, try pulling it first`);
      if (Array.isArray(body.tools) && body.tools.length > 0 && !model.tools) throw ollamaError(400, `${ollamaQualified(model.id)} does not support tools`);
      loaded.add(model.id);
      const { promptTokens: kept, truncation } = ollamaTruncate(body, model.effectiveNumCtx);
      promptTokens = kept;
      if (truncation) record.truncated = truncation;
    } else {
      checkChatBody(body, strict);
      model = findModel(body.model);
      if (!model) throw openAiError(404, `The model \`${body.model}\` does not exist or you do not have access to it.`, null, 'model_not_found');
      checkReasoningModel(body, model.reasoning);
      promptTokens = countTokens(body);
      if (promptTokens > model.contextWindow) {
        throw invalid(`This model's maximum context length is ${model.contextWindow} tokens. However, your messages resulted in ${promptTokens} tokens. Please reduce the length of the messages.`, 'messages', 'context_length_exceeded');
      }
    }

    const index = answered++;
    const reply = queue.length > 0 ? queue.shift()! : await responder(record, index);
    if ('error' in reply) {
      const e = reply.error;
      throw new HttpError(e.status, e.body ?? defaultErrorBody(flavour, e.status), e.headers ?? {});
    }
    // Ollama maps only max_tokens to num_predict; max_completion_tokens is silently ignored there.
    const budget = ollama ? (body.max_tokens ?? undefined) : (body.max_completion_tokens ?? body.max_tokens ?? undefined);
    const stop = typeof body.stop === 'string' ? [body.stop] : Array.isArray(body.stop) ? body.stop.filter((s: unknown) => typeof s === 'string') : [];
    const built = buildReply(reply, budget, stop, (id) => toolCallIdsIssued.push(id));
    if (!ollama) cachedTokens = reply.cachedTokens ?? cache.apply(`${model.id}\0${body.prompt_cache_key ?? ''}`, body);
    const completionTokens = built.completionTokens;
    const usage: Usage = ollama
      ? { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
      : {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: { cached_tokens: Math.min(cachedTokens, promptTokens), audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: built.reasoningTokens, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      };
    if (!reply.omitUsage) record.usage = usage;

    const id = ollama ? `chatcmpl-${Math.floor(Math.random() * 999)}` : `chatcmpl-${randomString(29)}`;
    const created = Math.floor(Date.now() / 1000);
    const includeUsage = body.stream_options?.include_usage === true && !reply.omitUsage;
    if (body.stream === true) {
      record.status = 200;
      res.writeHead(200, { 'content-type': ollama ? 'text/event-stream' : 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...baseHeaders() });
      if (ollama) streamOllama(res, { id, created, model: body.model, built, usage: includeUsage ? usage : undefined });
      else streamOpenAi(res, { id, created, model: body.model, built, usage: includeUsage ? usage : undefined, includeUsage, obfuscate: body.stream_options?.include_obfuscation !== false, interleave: reply.interleaveToolCalls === true });
      return;
    }
    const toolCalls = built.toolCalls.map((c, i) => (ollama
      ? { ...(c.id === undefined ? {} : { id: c.id }), index: i, type: 'function', function: { name: c.name, arguments: c.arguments } }
      : { ...(c.id === undefined ? {} : { id: c.id }), type: 'function', function: { name: c.name, arguments: c.arguments } }));
    const completion = ollama
      ? {
        id, object: 'chat.completion', created, model: body.model, system_fingerprint: 'fp_ollama',
        choices: [{
          index: 0,
          message: { role: 'assistant', content: built.content ?? '', ...(built.reasoningField ? { reasoning: built.reasoningField } : {}), ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
          finish_reason: built.finishReason,
        }],
        ...(reply.omitUsage ? {} : { usage }),
      }
      : {
        id, object: 'chat.completion', created, model: body.model,
        choices: [{
          index: 0,
          message: { role: 'assistant', content: built.content, refusal: null, annotations: [], ...(built.reasoningField ? { reasoning: built.reasoningField } : {}), ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
          logprobs: null,
          finish_reason: built.finishReason,
        }],
        ...(reply.omitUsage ? {} : { usage }),
        service_tier: 'default',
        system_fingerprint: fingerprint(body.model),
      };
    send(res, record, 200, completion);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<void> {
    const raw = (await readBody(req, { maxBytes: MAX_BODY_BYTES, tooLarge: () => openAiError(413, 'Request too large.') })).toString('utf8');
    try {
      record.body = raw ? JSON.parse(raw) : undefined;
    } catch {
      // left undefined; each endpoint reports the parse error its service's way
    }
    const { method, path } = record;
    if (method === 'POST' && path === '/v1/chat/completions') return chat(res, record, raw);
    if (method === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'))) {
      checkAuth(record.headers);
      if (path === '/v1/models') return send(res, record, 200, { object: 'list', data: models.map(modelObject) });
      const name = decodeURIComponent(path.slice('/v1/models/'.length));
      const model = findModel(name);
      if (!model) {
        throw ollama
          ? ollamaError(404, `model '${name}' not found`)
          : openAiError(404, `The model '${name}' does not exist`, 'model', 'model_not_found');
      }
      return send(res, record, 200, modelObject(model));
    }
    if (ollama && (path === '/' || path === '') && (method === 'GET' || method === 'HEAD')) return send(res, record, 200, 'Ollama is running');
    if (ollama && path.startsWith('/api/')) return send(res, record, 200, ollamaApi(method, path, record.body));
    throw notFound(method, path);
  }

  const server = http.createServer((req, res) => {
    const record: RecordedRequest = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0], headers: flattenHeaders(req), body: undefined };
    requests.push(record);
    handle(req, res, record).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        send(res, record, error.status, error.body, error.headers);
        return;
      }
      // A throwing responder is a bug in the test: answer 500 but tell the SDK not to retry it.
      const message = `fake responder failed: ${(error as Error)?.message ?? String(error)}`;
      send(res, record, 500, ollama ? { error: { message, type: 'api_error', param: null, code: null } } : { error: { message, type: 'server_error', param: null, code: null } }, { 'x-should-retry': 'false' });
    });
  });
  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    flavour,
    requests,
    toolCallIdsSeen,
    toolCallIdsIssued,
    setResponder(r: Responder) {
      responder = r;
    },
    enqueue(...replies: FakeReply[]) {
      queue.push(...replies);
    },
    countTokens,
    close: () => closeServer(server),
  };
}

// ---------------------------------------------------------------------------------------------
// Streaming

interface StreamPlan {
  id: string;
  created: number;
  model: string;
  built: BuiltReply;
  /** Sent in a final `choices: []` chunk when include_usage asked for it. */
  usage?: Usage;
}

function writeData(res: ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

/**
 * OpenAI's chunk sequence: a first delta with the role (and content '' — or null with the first
 * tool call when there is no text), content deltas, tool calls as a start delta (index, id, type,
 * name, arguments '') followed by argument fragments (index + arguments only), a last choice chunk
 * with finish_reason and an empty delta, then with include_usage a `choices: []` chunk carrying
 * usage (every earlier chunk has `usage: null`), and `[DONE]`.
 */
function streamOpenAi(res: ServerResponse, plan: StreamPlan & { includeUsage: boolean; obfuscate: boolean; interleave: boolean }): void {
  const { built } = plan;
  const fp = fingerprint(plan.model);
  const chunk = (choices: unknown[], usage?: Usage): Record<string, unknown> => {
    const out: Record<string, unknown> = { id: plan.id, object: 'chat.completion.chunk', created: plan.created, model: plan.model, service_tier: 'default', system_fingerprint: fp, choices };
    if (plan.includeUsage) out.usage = usage ?? null;
    if (plan.obfuscate) out.obfuscation = randomString(4 + (randomBytes(1)[0] % 12));
    return out;
  };
  const choice = (delta: Record<string, unknown>, finish: FinishReason | null = null): unknown => ({ index: 0, delta, logprobs: null, finish_reason: finish });

  // Tool-call deltas: per call a start and its argument fragments, ordered one call after the
  // other (OpenAI) or round-robin by index (other servers).
  const perCall = built.toolCalls.map((call, index) => [
    { index, ...(call.id === undefined ? {} : { id: call.id }), type: 'function', function: { name: call.name, arguments: '' } },
    ...argumentChunks(call.arguments).map((fragment) => ({ index, function: { arguments: fragment } })),
  ]);
  const toolDeltas: unknown[] = [];
  if (plan.interleave) {
    for (let round = 0; perCall.some((c) => round < c.length); round++) {
      for (const pieces of perCall) if (round < pieces.length) toolDeltas.push(pieces[round]);
    }
  } else {
    for (const pieces of perCall) toolDeltas.push(...pieces);
  }

  const hasText = built.content !== null;
  const first: Record<string, unknown> = { role: 'assistant', content: hasText ? '' : null, refusal: null };
  if (!hasText && toolDeltas.length > 0 && !built.reasoningField) first.tool_calls = [toolDeltas.shift()];
  writeData(res, chunk([choice(first)]));
  if (built.reasoningField) for (const piece of textChunks(built.reasoningField)) writeData(res, chunk([choice({ reasoning: piece })]));
  if (built.content) for (const piece of textChunks(built.content)) writeData(res, chunk([choice({ content: piece })]));
  for (const delta of toolDeltas) writeData(res, chunk([choice({ tool_calls: [delta] })]));
  writeData(res, chunk([choice({}, built.finishReason)]));
  if (plan.usage) writeData(res, chunk([], plan.usage));
  writeData(res, '[DONE]');
  res.end();
}

/**
 * Ollama's chunk sequence (middleware/openai.go): every delta repeats role 'assistant' and has a
 * content string; each tool call arrives whole in one chunk (its parser emits complete calls);
 * the done chunk carries finish_reason; with include_usage one more chunk with `choices: []`.
 * No `usage` key otherwise.
 */
function streamOllama(res: ServerResponse, plan: StreamPlan): void {
  const { built } = plan;
  const chunk = (choices: unknown[], usage?: Usage): Record<string, unknown> => ({
    id: plan.id, object: 'chat.completion.chunk', created: plan.created, model: plan.model, system_fingerprint: 'fp_ollama', choices, ...(usage ? { usage } : {}),
  });
  const choice = (delta: Record<string, unknown>, finish: FinishReason | null = null): unknown => ({ index: 0, delta: { role: 'assistant', content: '', ...delta }, finish_reason: finish });
  if (built.reasoningField) for (const piece of textChunks(built.reasoningField)) writeData(res, chunk([choice({ reasoning: piece })]));
  if (built.content) for (const piece of textChunks(built.content)) writeData(res, chunk([choice({ content: piece })]));
  built.toolCalls.forEach((call, index) => {
    writeData(res, chunk([choice({ tool_calls: [{ ...(call.id === undefined ? {} : { id: call.id }), index, type: 'function', function: { name: call.name, arguments: call.arguments } }] })]));
  });
  writeData(res, chunk([choice({}, built.finishReason)]));
  if (plan.usage) writeData(res, chunk([], plan.usage));
  writeData(res, '[DONE]');
  res.end();
}
