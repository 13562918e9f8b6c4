// A strict fake of the Anthropic Messages API, served over real HTTP on 127.0.0.1 and driven by
// the real @anthropic-ai/sdk. It validates requests the way the real API does (same statuses,
// error shapes and messages), streams the real SSE event sequence, and simulates prompt caching
// (prefix order tools → system → messages, breakpoints, 20-block lookback, minimum cacheable
// length, 5m/1h TTL refreshed on hit) so benchmarks can measure cache reads and writes.

import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeServer, flattenHeaders, listenOnLoopback, readBody } from './http-plumbing.ts';
import { createHash, randomBytes } from 'node:crypto';

export interface FakeAnthropicOptions {
  /** Default 'test-key'; requests with another key (x-api-key or Authorization: Bearer) or none get 401 authentication_error. */
  apiKey?: string;
  /** Default 200_000; a request whose counted input exceeds it gets 400 "prompt is too long". */
  contextWindow?: number;
  /** Default 1024 (Sonnet's minimum cacheable prompt length). */
  minCacheableTokens?: number;
  /** Default: replies with text "echo: <last user text>". */
  responder?: Responder;
  /** Clock for cache expiry, in ms. Default Date.now; tests pass their own to expire entries. */
  now?: () => number;
}

export type StopReason = 'end_turn' | 'tool_use' | 'max_tokens' | 'pause_turn' | 'refusal' | 'model_context_window_exceeded' | 'stop_sequence';

export type FakeReply =
  | {
    text?: string;
    toolUses?: Array<{ id?: string; name: string; input: Record<string, unknown> }>;
    thinking?: string;
    stopReason?: StopReason;
    outputTokens?: number;
  }
  | { error: { status: number; type: string; message: string; headers?: Record<string, string> } };

export type Responder = (request: RecordedRequest, index: number) => FakeReply | Promise<FakeReply>;

/** What the fake answered in `usage` (the same fields the real API returns). */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  service_tier: 'standard';
  speed: 'standard';
  server_tool_use: null;
  inference_geo: null;
  output_tokens_details: null;
}

export interface RecordedRequest {
  path: string;
  headers: Record<string, string>;
  body: any;
  /** What the fake answered; absent when the request was rejected. */
  usage?: Usage;
}

export interface FakeAnthropic {
  /** http://127.0.0.1:PORT — pass as baseURL / ANTHROPIC_BASE_URL. */
  url: string;
  apiKey: string;
  /** Every /v1/messages call, in order (rejected ones too). count_tokens calls are in countRequests. */
  requests: RecordedRequest[];
  countRequests: RecordedRequest[];
  setResponder(r: Responder): void;
  /** Scripted replies, used first and in order, before the responder. */
  enqueue(...replies: FakeReply[]): void;
  /** The fake's own token count of a request body (the function the server uses). */
  countTokens(body: any): number;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Token counting

// Word pieces (a single leading space joins the word, as in BPE vocabularies), digit runs,
// punctuation runs and whitespace runs.
const PIECES = / ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+/gu;
const ASCII_WORD = /^[A-Za-z]+$/;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const LETTER = /\p{L}/u;
const DIGIT = /\p{N}/u;
const SPACE = /\s/u;

/**
 * A deterministic token count that behaves like a BPE tokenizer in aggregate: about 4.3
 * characters per token on English prose, about 2.8 on code and JSON, fewer on other scripts.
 * ASCII words up to 6 letters are one token, longer ones split every 5 more; digits in groups
 * of 3; punctuation in pairs; CJK one token per character; other letters one per 3.
 */
export function tokenize(text: string): number {
  let count = 0;
  for (const match of text.matchAll(PIECES)) {
    const piece = match[0];
    const body = piece.length > 1 && piece[0] === ' ' ? piece.slice(1) : piece;
    if (SPACE.test(body[0])) {
      let newlines = 0;
      for (const ch of body) if (ch === '\n') newlines++;
      count += Math.max(1, newlines + Math.ceil((body.length - newlines) / 4));
    } else if (LETTER.test(body[0])) {
      if (ASCII_WORD.test(body)) {
        count += body.length <= 6 ? 1 : 1 + Math.ceil((body.length - 6) / 5);
      } else {
        let cjk = 0;
        let other = 0;
        for (const ch of body) {
          if (CJK.test(ch)) cjk++;
          else other++;
        }
        count += cjk + Math.ceil(other / 3);
      }
    } else if (DIGIT.test(body[0])) {
      count += Math.ceil(body.length / 3);
    } else {
      let units = 0;
      for (const ch of body) units += (ch.codePointAt(0) ?? 0) > 0x7f ? 2 : 1;
      count += Math.ceil(units / 2);
    }
  }
  return count;
}

/** Fixed costs, close to the real API's: request framing, per message, the tool-use system prompt, an image. */
const REQUEST_OVERHEAD = 3;
const MESSAGE_OVERHEAD = 4;
const TOOL_OVERHEAD = 4;
const TOOL_USE_SYSTEM_PROMPT = 346;
const IMAGE_TOKENS = 1600;
const DOCUMENT_TOKENS = 3000;
const LOOKBACK_BLOCKS = 20;
const MAX_BREAKPOINTS = 4;
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const TTL_MS = { '5m': 5 * 60_000, '1h': 60 * 60_000 } as const;

type Ttl = keyof typeof TTL_MS;

/** One cacheable position of the prompt: a tool, a system block, or a message content block. */
interface PromptBlock {
  tokens: number;
  /** Hash of the whole prompt prefix up to and including this block. */
  prefixHash: string;
  breakpoint?: Ttl;
}

interface PromptLayout {
  blocks: PromptBlock[];
  total: number;
}

function blockTokens(block: any): number {
  switch (block?.type) {
    case 'text': return tokenize(String(block.text ?? ''));
    case 'image': return IMAGE_TOKENS;
    case 'document': return block.source?.type === 'text' ? tokenize(String(block.source.data ?? '')) : DOCUMENT_TOKENS;
    case 'tool_use': return 3 + tokenize(String(block.name ?? '')) + tokenize(JSON.stringify(block.input ?? {}));
    case 'tool_result': {
      const content = block.content;
      if (content === undefined) return 3;
      if (typeof content === 'string') return 3 + tokenize(content);
      return 3 + (Array.isArray(content) ? content.reduce((n: number, b: any) => n + blockTokens(b), 0) : 0);
    }
    case 'thinking': return tokenize(String(block.thinking ?? ''));
    case 'redacted_thinking': return Math.ceil(String(block.data ?? '').length / 4);
    default: return tokenize(JSON.stringify(block ?? null));
  }
}

function toolTokens(tool: any): number {
  if (tool?.type && tool.type !== 'custom') return TOOL_OVERHEAD + tokenize(JSON.stringify(tool));
  return TOOL_OVERHEAD + tokenize(String(tool?.name ?? '')) + tokenize(String(tool?.description ?? ''))
    + tokenize(JSON.stringify(tool?.input_schema ?? {}));
}

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

function withoutCacheControl(block: any): any {
  if (!block || typeof block !== 'object' || Array.isArray(block)) return block;
  const { cache_control: _cc, ...rest } = block;
  if (rest.type === 'tool_result' && Array.isArray(rest.content)) rest.content = rest.content.map(withoutCacheControl);
  return rest;
}

function contentBlocks(content: unknown): any[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return Array.isArray(content) ? content : [];
}

/**
 * Lays the request out as the real API renders it for caching: tools, then system, then
 * messages, one position per block, each with its tokens and the hash of the prefix ending there.
 * Assumes a validated body.
 */
function layoutPrompt(body: any): PromptLayout {
  const blocks: PromptBlock[] = [];
  let hash = 'prompt';
  const push = (entry: unknown, tokens: number, cacheControl: any): void => {
    hash = createHash('sha256').update(hash).update('\n').update(canonical(entry)).digest('hex');
    const block: PromptBlock = { tokens, prefixHash: hash };
    if (cacheControl && typeof cacheControl === 'object') block.breakpoint = cacheControl.ttl === '1h' ? '1h' : '5m';
    blocks.push(block);
  };

  const tools: any[] = Array.isArray(body.tools) ? body.tools : [];
  tools.forEach((tool, i) => {
    push({ s: 'tool', tool: withoutCacheControl(tool) }, toolTokens(tool) + (i === 0 ? TOOL_USE_SYSTEM_PROMPT : 0), tool?.cache_control);
  });

  const system = typeof body.system === 'string' ? (body.system ? [{ type: 'text', text: body.system }] : []) : (body.system ?? []);
  for (const block of system) push({ s: 'system', block: withoutCacheControl(block) }, blockTokens(block), block?.cache_control);

  // Thinking from earlier turns is stripped by the API and does not count; thinking in the
  // current tool-use loop (after the last user turn with real content) does.
  const messages: any[] = body.messages ?? [];
  let lastHumanTurn = -1;
  messages.forEach((m, i) => {
    if (m.role === 'user' && contentBlocks(m.content).some((b) => b?.type !== 'tool_result')) lastHumanTurn = i;
  });
  // tool_choice and thinking settings are part of the messages cache key (changing them
  // invalidates the message cache but not tools or system).
  const settings = { tool_choice: body.tool_choice ?? null, thinking: body.thinking ?? null };
  messages.forEach((message, m) => {
    contentBlocks(message.content).forEach((block, j) => {
      const stripped = (block?.type === 'thinking' || block?.type === 'redacted_thinking') && m < lastHumanTurn;
      let tokens = stripped ? 0 : blockTokens(block);
      if (j === 0) tokens += MESSAGE_OVERHEAD;
      const entry: Record<string, unknown> = { s: 'message', m, role: message.role, block: withoutCacheControl(block) };
      if (m === 0 && j === 0) entry.settings = settings;
      const nested = block?.type === 'tool_result' && Array.isArray(block.content)
        ? block.content.find((inner: any) => inner?.cache_control)?.cache_control
        : undefined;
      push(entry, tokens, block?.cache_control ?? nested);
    });
  });

  // Automatic caching: a top-level cache_control marks the last block.
  if (body.cache_control && blocks.length > 0 && !blocks[blocks.length - 1].breakpoint) {
    blocks[blocks.length - 1].breakpoint = body.cache_control.ttl === '1h' ? '1h' : '5m';
  }

  const total = REQUEST_OVERHEAD + blocks.reduce((n, b) => n + b.tokens, 0);
  return { blocks, total };
}

/** The fake's token count of a request body: what count_tokens answers and what usage adds up to. */
export function countTokens(body: any): number {
  return layoutPrompt(body).total;
}

// ---------------------------------------------------------------------------------------------
// Prompt cache simulation

interface CacheUsage { read: number; creation: number; creation5m: number; creation1h: number; input: number }

class PromptCache {
  readonly entries = new Map<string, { expiresAt: number; ttl: Ttl }>();
  readonly minTokens: number;
  readonly now: () => number;
  applied = 0;

  constructor(minTokens: number, now: () => number) {
    this.minTokens = minTokens;
    this.now = now;
  }

  /**
   * Finds the longest cached prefix ending at a breakpoint or at one of the 20 block boundaries
   * before a breakpoint, then writes every breakpoint prefix long enough to be cached.
   */
  apply(scope: string, layout: PromptLayout): CacheUsage {
    const now = this.now();
    // Long benchmark runs write many prefixes: drop the expired ones now and then.
    if (++this.applied % 500 === 0) {
      for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
    }
    const { blocks, total } = layout;
    const cumulative: number[] = [];
    let running = REQUEST_OVERHEAD;
    for (const block of blocks) {
      running += block.tokens;
      cumulative.push(running);
    }
    const breakpoints = blocks.flatMap((b, i) => (b.breakpoint ? [i] : []));
    if (breakpoints.length === 0) return { read: 0, creation: 0, creation5m: 0, creation1h: 0, input: total };

    let hit = -1;
    for (const bp of breakpoints) {
      for (let p = bp; p >= Math.max(0, bp - LOOKBACK_BLOCKS) && p > hit; p--) {
        const entry = this.entries.get(`${scope}\0${blocks[p].prefixHash}`);
        if (entry && entry.expiresAt > now) {
          hit = p;
          break;
        }
      }
    }
    const read = hit >= 0 ? cumulative[hit] : 0;
    if (hit >= 0) {
      const key = `${scope}\0${blocks[hit].prefixHash}`;
      const entry = this.entries.get(key)!;
      entry.expiresAt = now + TTL_MS[entry.ttl];
    }

    let creation5m = 0;
    let creation1h = 0;
    let covered = read;
    for (const bp of breakpoints) {
      const prefixTokens = cumulative[bp];
      if (prefixTokens < this.minTokens) continue;
      const ttl = blocks[bp].breakpoint!;
      this.entries.set(`${scope}\0${blocks[bp].prefixHash}`, { expiresAt: now + TTL_MS[ttl], ttl });
      if (prefixTokens > covered) {
        if (ttl === '1h') creation1h += prefixTokens - covered;
        else creation5m += prefixTokens - covered;
        covered = prefixTokens;
      }
    }
    const creation = creation5m + creation1h;
    return { read, creation, creation5m, creation1h, input: total - read - creation };
  }
}

// ---------------------------------------------------------------------------------------------
// Errors and validation

class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly headers: Record<string, string>;

  constructor(status: number, type: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.headers = headers;
  }
}

function invalid(message: string): ApiError {
  return new ApiError(400, 'invalid_request_error', message);
}

const MESSAGES_FIELDS = new Set([
  'model', 'messages', 'max_tokens', 'system', 'tools', 'tool_choice', 'stream', 'stop_sequences', 'temperature',
  'top_p', 'top_k', 'metadata', 'thinking', 'cache_control', 'service_tier', 'container', 'context_management',
  'mcp_servers', 'output_config', 'output_format', 'inference_geo', 'speed', 'diagnostics', 'user_profile_id', 'workspace_id',
]);
const COUNT_FIELDS = new Set([
  'model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'cache_control', 'context_management',
  'mcp_servers', 'output_config', 'output_format', 'speed', 'user_profile_id', 'workspace_id',
]);
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
const TOOL_USE_ID = /^[a-zA-Z0-9_-]+$/;
const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
const USER_BLOCKS = ['text', 'image', 'document', 'search_result', 'tool_result'];
const ASSISTANT_BLOCKS = ['text', 'tool_use', 'thinking', 'redacted_thinking'];

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Counts and checks cache_control markers; returns how many there were. */
function checkCacheControl(value: unknown, path: string): number {
  if (value === undefined || value === null) return 0;
  if (!isObject(value)) throw invalid(`${path}.cache_control: Input should be a valid dictionary`);
  if (value.type !== 'ephemeral') throw invalid(`${path}.cache_control.type: Input should be 'ephemeral'`);
  if (value.ttl !== undefined && value.ttl !== '5m' && value.ttl !== '1h') throw invalid(`${path}.cache_control.ttl: Input should be '5m' or '1h'`);
  return 1;
}

function checkText(block: any, path: string, section: 'messages' | 'system'): void {
  if (typeof block.text !== 'string') throw invalid(`${path}.text: Input should be a valid string`);
  if (block.text.length === 0) throw invalid(`${section}: text content blocks must be non-empty`);
  if (block.text.trim().length === 0) throw invalid(`${section}: text content blocks must contain non-whitespace text`);
}

function checkImage(block: any, path: string): void {
  const source = block.source;
  if (!isObject(source)) throw invalid(`${path}.source: Field required`);
  if (source.type === 'base64') {
    if (!IMAGE_TYPES.includes(source.media_type)) throw invalid(`${path}.source.base64.media_type: Input should be ${IMAGE_TYPES.map((t) => `'${t}'`).join(', ')}`);
    if (typeof source.data !== 'string' || source.data.length === 0) throw invalid(`${path}.source.base64.data: Field required`);
  } else if (source.type === 'url') {
    if (typeof source.url !== 'string') throw invalid(`${path}.source.url.url: Field required`);
  } else if (source.type !== 'file') {
    throw invalid(`${path}.source: Input tag '${String(source.type)}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'`);
  }
}

/** Validates one content block; returns the number of cache_control markers in it. */
function checkBlock(block: any, path: string, role: string): number {
  if (!isObject(block)) throw invalid(`${path}: Input should be a valid dictionary`);
  const allowed = role === 'user' ? USER_BLOCKS : ASSISTANT_BLOCKS;
  if (!allowed.includes(block.type)) {
    if ([...USER_BLOCKS, ...ASSISTANT_BLOCKS].includes(block.type)) {
      throw invalid(`${path}: \`${block.type}\` blocks are not allowed in \`${role}\` messages`);
    }
    throw invalid(`${path}: Input tag '${String(block.type)}' found using 'type' does not match any of the expected tags: ${allowed.map((t) => `'${t}'`).join(', ')}`);
  }
  let markers = 0;
  switch (block.type) {
    case 'text': checkText(block, path, 'messages'); break;
    case 'image': checkImage(block, path); break;
    case 'document':
      if (!isObject(block.source)) throw invalid(`${path}.source: Field required`);
      break;
    case 'search_result': break;
    case 'tool_use':
      if (typeof block.id !== 'string') throw invalid(`${path}.tool_use.id: Field required`);
      if (!TOOL_USE_ID.test(block.id)) throw invalid(`${path}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
      if (typeof block.name !== 'string' || !TOOL_NAME.test(block.name)) throw invalid(`${path}.tool_use.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      if (!isObject(block.input)) throw invalid(`${path}.tool_use.input: Input should be a valid dictionary`);
      break;
    case 'tool_result': {
      if (typeof block.tool_use_id !== 'string') throw invalid(`${path}.tool_result.tool_use_id: Field required`);
      if (block.is_error !== undefined && typeof block.is_error !== 'boolean') throw invalid(`${path}.tool_result.is_error: Input should be a valid boolean`);
      const content = block.content;
      if (content !== undefined && typeof content !== 'string') {
        if (!Array.isArray(content)) throw invalid(`${path}.tool_result.content: Input should be a valid list`);
        content.forEach((inner: any, k: number) => {
          const innerPath = `${path}.tool_result.content.${k}`;
          if (!isObject(inner) || !['text', 'image', 'document', 'search_result'].includes(inner.type)) {
            throw invalid(`${innerPath}: Input tag '${String(inner?.type)}' found using 'type' does not match any of the expected tags: 'text', 'image', 'document', 'search_result'`);
          }
          if (inner.type === 'text') checkText(inner, innerPath, 'messages');
          if (inner.type === 'image') checkImage(inner, innerPath);
          markers += checkCacheControl(inner.cache_control, innerPath);
        });
      }
      break;
    }
    case 'thinking':
      if (typeof block.thinking !== 'string') throw invalid(`${path}.thinking.thinking: Field required`);
      if (typeof block.signature !== 'string' || block.signature.length === 0) throw invalid(`${path}.thinking.signature: Field required`);
      if (block.cache_control !== undefined) throw invalid(`${path}.thinking.cache_control: Extra inputs are not permitted`);
      break;
    case 'redacted_thinking':
      if (typeof block.data !== 'string') throw invalid(`${path}.redacted_thinking.data: Field required`);
      break;
  }
  return markers + checkCacheControl(block.cache_control, path);
}

function checkTools(tools: unknown): number {
  if (tools === undefined) return 0;
  if (!Array.isArray(tools)) throw invalid('tools: Input should be a valid list');
  const names = new Set<string>();
  let markers = 0;
  tools.forEach((tool: any, i: number) => {
    if (!isObject(tool)) throw invalid(`tools.${i}: Input should be a valid dictionary`);
    const kind = tool.type && tool.type !== 'custom' ? String(tool.type) : 'custom';
    if (typeof tool.name !== 'string' || !TOOL_NAME.test(tool.name)) {
      throw invalid(`tools.${i}.${kind}.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
    }
    if (kind === 'custom') {
      if (tool.description !== undefined && typeof tool.description !== 'string') throw invalid(`tools.${i}.custom.description: Input should be a valid string`);
      if (!isObject(tool.input_schema)) throw invalid(`tools.${i}.custom.input_schema: Field required`);
      if (tool.input_schema.type !== 'object') throw invalid(`tools.${i}.custom.input_schema.type: Input should be 'object'`);
    }
    if (names.has(tool.name)) throw invalid('tools: Tool names must be unique.');
    names.add(tool.name);
    markers += checkCacheControl(tool.cache_control, `tools.${i}.${kind}`);
  });
  return markers;
}

function checkSystem(system: unknown): number {
  if (system === undefined || typeof system === 'string') return 0;
  if (!Array.isArray(system)) throw invalid('system: Input should be a valid string or a valid list of text blocks');
  let markers = 0;
  system.forEach((block: any, i: number) => {
    if (!isObject(block) || block.type !== 'text') throw invalid(`system.${i}.type: Input should be 'text'`);
    checkText(block, `system.${i}`, 'system');
    markers += checkCacheControl(block.cache_control, `system.${i}`);
  });
  return markers;
}

/** The conversation rules: roles, non-empty content, and tool_use ↔ tool_result pairing. */
function checkMessages(messages: unknown): number {
  if (messages === undefined) throw invalid('messages: Field required');
  if (!Array.isArray(messages)) throw invalid('messages: Input should be a valid list');
  if (messages.length === 0) throw invalid('messages: at least one message is required');
  let markers = 0;
  const seenToolUseIds = new Set<string>();
  messages.forEach((message: any, i: number) => {
    if (!isObject(message)) throw invalid(`messages.${i}: Input should be a valid dictionary`);
    if (message.role !== 'user' && message.role !== 'assistant') {
      throw invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    }
    if (i === 0 && message.role !== 'user') throw invalid('messages: first message must use the "user" role');
    const isFinalAssistant = i === messages.length - 1 && message.role === 'assistant';
    const content = message.content;
    if (typeof content === 'string') {
      if (content.length === 0 && !isFinalAssistant) {
        throw invalid(`messages.${i}: all messages must have non-empty content except for the optional final assistant message`);
      }
      if (content.length > 0 && content.trim().length === 0 && !isFinalAssistant) {
        throw invalid('messages: text content blocks must contain non-whitespace text');
      }
    } else if (Array.isArray(content)) {
      if (content.length === 0 && !isFinalAssistant) {
        throw invalid(`messages.${i}: all messages must have non-empty content except for the optional final assistant message`);
      }
      content.forEach((block: any, j: number) => {
        markers += checkBlock(block, `messages.${i}.content.${j}`, message.role);
        if (block.type === 'tool_use') {
          if (seenToolUseIds.has(block.id)) throw invalid(`messages.${i}.content.${j}: \`tool_use\` ids must be unique`);
          seenToolUseIds.add(block.id);
        }
      });
    } else {
      throw invalid(`messages.${i}.content: Input should be a valid string or a valid list of content blocks`);
    }
    if (isFinalAssistant) {
      const blocks = contentBlocks(content);
      const last = blocks[blocks.length - 1];
      if (last?.type === 'text' && typeof last.text === 'string' && /\s$/.test(last.text)) {
        throw invalid('messages: final assistant content cannot end with trailing whitespace');
      }
    }
  });

  // Every tool_use must be answered at the start of the next (user) message, and every
  // tool_result must answer a tool_use of the previous (assistant) message.
  messages.forEach((message: any, i: number) => {
    const blocks = contentBlocks(message.content);
    if (message.role === 'user') {
      const previous = i > 0 ? messages[i - 1] : undefined;
      const offered = new Set(previous?.role === 'assistant'
        ? contentBlocks(previous.content).filter((b) => b.type === 'tool_use').map((b) => b.id)
        : []);
      blocks.forEach((block, j) => {
        if (block.type === 'tool_result' && !offered.has(block.tool_use_id)) {
          throw invalid(`messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${block.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
        }
      });
      return;
    }
    const toolUseIds = blocks.filter((b) => b.type === 'tool_use').map((b) => b.id as string);
    if (toolUseIds.length === 0) return;
    const next = messages[i + 1];
    const nextBlocks = next?.role === 'user' ? contentBlocks(next.content) : [];
    const answered = new Set(nextBlocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id));
    const missing = toolUseIds.filter((id) => !answered.has(id));
    if (missing.length > 0) {
      throw invalid(`messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
    }
    const firstOther = nextBlocks.findIndex((b) => b.type !== 'tool_result');
    const lastResult = nextBlocks.map((b) => b.type).lastIndexOf('tool_result');
    if (firstOther !== -1 && firstOther < lastResult) {
      throw invalid(`messages.${i + 1}: Did not find ${toolUseIds.length} \`tool_result\` block(s) at the beginning of this message. Messages following \`tool_use\` blocks must begin with a matching number of \`tool_result\` blocks.`);
    }
  });
  return markers;
}

function checkToolChoice(toolChoice: unknown, tools: unknown): void {
  if (toolChoice === undefined) return;
  if (!isObject(toolChoice) || !['auto', 'any', 'none', 'tool'].includes(toolChoice.type)) {
    throw invalid("tool_choice: Input tag found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'");
  }
  if (toolChoice.type === 'tool') {
    if (typeof toolChoice.name !== 'string') throw invalid('tool_choice.tool.name: Field required');
    const names = Array.isArray(tools) ? tools.map((t: any) => t?.name) : [];
    if (!names.includes(toolChoice.name)) throw invalid(`tool_choice: tool '${toolChoice.name}' was not found in \`tools\``);
  }
}

function checkThinking(thinking: unknown, maxTokens: number | undefined): void {
  if (thinking === undefined) return;
  if (!isObject(thinking) || !['enabled', 'disabled', 'adaptive'].includes(thinking.type)) {
    throw invalid("thinking: Input tag found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'");
  }
  if (thinking.type !== 'enabled') return;
  if (!Number.isInteger(thinking.budget_tokens)) throw invalid('thinking.enabled.budget_tokens: Field required');
  if (thinking.budget_tokens < 1024) throw invalid('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
  if (maxTokens !== undefined && maxTokens <= thinking.budget_tokens) {
    throw invalid('`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size');
  }
}

/** Validates a /v1/messages (or count_tokens) body like the real API; throws a 400 ApiError. */
function validateBody(body: unknown, endpoint: 'messages' | 'count_tokens'): void {
  if (!isObject(body)) throw invalid('Input should be a valid dictionary');
  const fields = endpoint === 'messages' ? MESSAGES_FIELDS : COUNT_FIELDS;
  for (const key of Object.keys(body)) if (!fields.has(key)) throw invalid(`${key}: Extra inputs are not permitted`);
  if (body.model === undefined) throw invalid('model: Field required');
  if (typeof body.model !== 'string' || body.model.length === 0) throw invalid('model: Input should be a valid string');
  if (endpoint === 'messages') {
    if (body.max_tokens === undefined) throw invalid('max_tokens: Field required');
    if (!Number.isInteger(body.max_tokens)) throw invalid('max_tokens: Input should be a valid integer');
    if (body.max_tokens < 1) throw invalid('max_tokens: Input should be greater than or equal to 1');
    if (body.stream !== undefined && typeof body.stream !== 'boolean') throw invalid('stream: Input should be a valid boolean');
    if (body.stop_sequences !== undefined && (!Array.isArray(body.stop_sequences) || body.stop_sequences.some((s: unknown) => typeof s !== 'string'))) {
      throw invalid('stop_sequences: Input should be a valid list of strings');
    }
    if (body.temperature !== undefined) {
      if (typeof body.temperature !== 'number') throw invalid('temperature: Input should be a valid number');
      if (body.temperature < 0) throw invalid('temperature: Input should be greater than or equal to 0');
      if (body.temperature > 1) throw invalid('temperature: Input should be less than or equal to 1');
    }
    if (body.metadata !== undefined && !isObject(body.metadata)) throw invalid('metadata: Input should be a valid dictionary');
  }
  let markers = checkTools(body.tools);
  markers += checkSystem(body.system);
  markers += checkMessages(body.messages);
  checkToolChoice(body.tool_choice, body.tools);
  checkThinking(body.thinking, endpoint === 'messages' ? body.max_tokens : undefined);
  markers += checkCacheControl(body.cache_control, 'cache_control');
  if (markers > MAX_BREAKPOINTS) throw invalid(`A maximum of ${MAX_BREAKPOINTS} blocks with cache_control may be provided. Found ${markers}.`);
}

// ---------------------------------------------------------------------------------------------
// Replies

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomId(prefix: string): string {
  const bytes = randomBytes(24);
  let id = prefix + '01';
  for (const byte of bytes) id += ID_ALPHABET[byte % ID_ALPHABET.length];
  return id;
}

/** A deterministic opaque signature, the way the real API signs thinking it produced. */
function thinkingSignature(thinking: string): string {
  return createHash('sha512').update('fake-anthropic-thinking\n').update(thinking).digest('base64');
}

function lastUserText(body: any): string {
  const messages: any[] = body.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role !== 'user') continue;
    const blocks = contentBlocks(messages[i].content);
    const texts = blocks.filter((b) => b.type === 'text').map((b) => b.text as string);
    if (texts.length > 0) return texts.join('\n');
    const results = blocks.filter((b) => b.type === 'tool_result').map((b) => (typeof b.content === 'string'
      ? b.content
      : contentBlocks(b.content).filter((c) => c.type === 'text').map((c) => c.text).join('\n')));
    return results.join('\n');
  }
  return '';
}

/** The default responder: replies `echo: <last user text>` (or the last tool_result text). */
export const echoResponder: Responder = (request) => ({ text: `echo: ${lastUserText(request.body)}` });

interface BuiltReply {
  content: any[];
  stopReason: StopReason;
  stopSequence: string | null;
  outputTokens: number;
}

/** Keeps the first `limit` tokens of a text, cutting at tokenizer piece boundaries. */
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

function buildReply(reply: Exclude<FakeReply, { error: unknown }>, body: any): BuiltReply {
  const toolUses = (reply.toolUses ?? []).map((t) => ({ type: 'tool_use', id: t.id ?? randomId('toolu_'), name: t.name, input: t.input ?? {} }));
  const toolTokensOut = toolUses.reduce((n, t) => n + blockTokens(t), 0);
  let thinking = reply.thinking;
  let text = reply.text;
  let stopReason: StopReason = reply.stopReason ?? (toolUses.length > 0 ? 'tool_use' : 'end_turn');
  let keptTools = toolUses;
  const naturalTokens = (thinking ? tokenize(thinking) : 0) + (text ? tokenize(text) : 0) + toolTokensOut;
  let outputTokens = reply.outputTokens ?? Math.max(1, naturalTokens);

  // Without explicit instructions, a reply longer than max_tokens is cut off like the real model's.
  if (reply.stopReason === undefined && reply.outputTokens === undefined && naturalTokens > body.max_tokens) {
    let budget = body.max_tokens as number;
    if (thinking) {
      thinking = truncateToTokens(thinking, budget);
      budget -= tokenize(thinking);
    }
    if (text) text = truncateToTokens(text, budget);
    keptTools = [];
    stopReason = 'max_tokens';
    outputTokens = body.max_tokens;
  }

  const content: any[] = [];
  if (thinking) content.push({ type: 'thinking', thinking, signature: thinkingSignature(thinking) });
  if (text) content.push({ type: 'text', text });
  content.push(...keptTools);
  const stopSequence = stopReason === 'stop_sequence' ? (body.stop_sequences?.[0] ?? null) : null;
  return { content, stopReason, stopSequence, outputTokens };
}

function usageOf(cache: CacheUsage, outputTokens: number): Usage {
  return {
    input_tokens: cache.input,
    output_tokens: outputTokens,
    cache_creation_input_tokens: cache.creation,
    cache_read_input_tokens: cache.read,
    cache_creation: { ephemeral_5m_input_tokens: cache.creation5m, ephemeral_1h_input_tokens: cache.creation1h },
    service_tier: 'standard',
    speed: 'standard',
    server_tool_use: null,
    inference_geo: null,
    output_tokens_details: null,
  };
}

/** Splits text into small word groups, the way the API streams text and thinking. */
function textChunks(text: string): string[] {
  const words = text.match(/\s*\S+\s*/g) ?? [text];
  const chunks: string[] = [];
  for (let i = 0; i < words.length; i += 3) chunks.push(words.slice(i, i + 3).join(''));
  return chunks;
}

function jsonChunks(json: string): string[] {
  const chunks = [''];
  for (let i = 0; i < json.length; i += 12) chunks.push(json.slice(i, i + 12));
  return chunks;
}

function writeEvent(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function streamMessage(res: ServerResponse, message: any, built: BuiltReply): void {
  const usage = message.usage as Usage;
  writeEvent(res, 'message_start', {
    type: 'message_start',
    message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
  });
  let pinged = false;
  const ping = (): void => {
    if (!pinged) writeEvent(res, 'ping', { type: 'ping' });
    pinged = true;
  };
  built.content.forEach((block, index) => {
    if (block.type === 'text') {
      writeEvent(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      ping();
      for (const chunk of textChunks(block.text)) {
        writeEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: chunk } });
      }
    } else if (block.type === 'thinking') {
      writeEvent(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      ping();
      for (const chunk of textChunks(block.thinking)) {
        writeEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: chunk } });
      }
      writeEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } });
    } else {
      writeEvent(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      ping();
      for (const chunk of jsonChunks(JSON.stringify(block.input))) {
        writeEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: chunk } });
      }
    }
    writeEvent(res, 'content_block_stop', { type: 'content_block_stop', index });
  });
  ping();
  writeEvent(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: built.stopReason, stop_sequence: built.stopSequence, stop_details: null, container: null },
    usage: {
      input_tokens: usage.input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      output_tokens: usage.output_tokens,
    },
  });
  writeEvent(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

// ---------------------------------------------------------------------------------------------
// HTTP server

function sendError(res: ServerResponse, error: ApiError): void {
  const requestId = randomId('req_');
  res.writeHead(error.status, { 'content-type': 'application/json', 'request-id': requestId, ...error.headers });
  res.end(JSON.stringify({ type: 'error', error: { type: error.type, message: error.message }, request_id: requestId }));
}

function sendJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json', 'request-id': randomId('req_') });
  res.end(JSON.stringify(body));
}

export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const apiKey = options.apiKey ?? 'test-key';
  const contextWindow = options.contextWindow ?? 200_000;
  const cache = new PromptCache(options.minCacheableTokens ?? 1024, options.now ?? Date.now);
  let responder: Responder = options.responder ?? echoResponder;
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  const countRequests: RecordedRequest[] = [];
  let answered = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const headers = flattenHeaders(req);
    const endpoint = path === '/v1/messages' ? 'messages' : path === '/v1/messages/count_tokens' ? 'count_tokens' : undefined;
    const record: RecordedRequest = { path, headers, body: undefined };
    if (endpoint === 'messages') requests.push(record);
    if (endpoint === 'count_tokens') countRequests.push(record);

    const raw = await readBody(req, { maxBytes: MAX_BODY_BYTES, tooLarge: () => new ApiError(413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.') });
    // Parsed before the checks so a rejected request is still recorded with what was sent.
    let parseError: Error | undefined;
    try {
      record.body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      parseError = error as Error;
    }
    if (!endpoint || req.method !== 'POST') {
      throw new ApiError(404, 'not_found_error', `${req.method} ${path} not found`);
    }
    // The key comes as x-api-key or, as SDK 1.14 sends it, as an Authorization bearer token.
    const bearer = /^Bearer (.+)$/i.exec(headers.authorization ?? '')?.[1];
    const presented = headers['x-api-key'] ?? bearer;
    if (!presented) throw new ApiError(401, 'authentication_error', 'x-api-key header is required');
    if (presented !== apiKey) throw new ApiError(401, 'authentication_error', 'invalid x-api-key');
    if (!headers['anthropic-version']) throw invalid('anthropic-version: header is required');
    if (parseError) throw invalid(`The request body is not valid JSON: ${parseError.message}`);
    const body = record.body;
    validateBody(body, endpoint);
    const layout = layoutPrompt(body);

    if (endpoint === 'count_tokens') {
      sendJson(res, { input_tokens: layout.total });
      return;
    }
    if (layout.total > contextWindow) throw invalid(`prompt is too long: ${layout.total} tokens > ${contextWindow} maximum`);

    const index = answered++;
    const reply = queue.length > 0 ? queue.shift()! : await responder(record, index);
    if ('error' in reply) {
      const e = reply.error;
      throw new ApiError(e.status, e.type, e.message, e.headers ?? {});
    }
    const built = buildReply(reply, body);
    const cacheUsage = cache.apply(`${apiKey}\0${body.model}`, layout);
    const usage = usageOf(cacheUsage, built.outputTokens);
    record.usage = usage;
    const message = {
      id: randomId('msg_'),
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: built.content,
      stop_reason: built.stopReason,
      stop_sequence: built.stopSequence,
      stop_details: null,
      container: null,
      diagnostics: null,
      usage,
    };
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': randomId('req_') });
      streamMessage(res, message, built);
    } else {
      sendJson(res, message);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A throwing responder is a bug in the test: answer 500 but tell the SDK not to retry it.
      const apiError = error instanceof ApiError
        ? error
        : new ApiError(500, 'api_error', `fake responder failed: ${(error as Error)?.message ?? String(error)}`, { 'x-should-retry': 'false' });
      sendError(res, apiError);
    });
  });
  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    countRequests,
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
