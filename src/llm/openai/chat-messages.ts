// Lares's stored content blocks (Anthropic-shaped, the provider-neutral form) to and from the
// Chat Completions API's messages. A stored history is never rewritten: the mapping happens on
// every request, so a conversation can switch provider between turns.
//   assistant text + tool_use  →  {role: 'assistant', content, tool_calls}
//   user tool_result blocks    →  one {role: 'tool', tool_call_id} message each, right after
//   user text and images       →  {role: 'user', content: [text, image_url]}
//   thinking blocks            →  left out (only Claude can read them back)
import { createHash, randomBytes } from 'node:crypto';
import type OpenAI from 'openai';
import { INVALID_ARGUMENTS_KEY, type ApiMessage, type ContentBlock, type ImageBlock, type TextBlock } from '../content.ts';
import type { ModelRequest, StopReason } from '../provider.ts';

type ChatMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type UserPart = OpenAI.Chat.Completions.ChatCompletionContentPart;

export interface ChatMappingOptions {
  /** false: the model takes no tools; calls and results in the history are shown as text */
  tools: boolean;
  /** false: images are described as "[image]" (a text-only model) */
  images: boolean;
  /** 'mistral': Mistral's API takes only 9-character alphanumeric tool-call ids */
  idStyle?: ToolCallIdStyle;
}

export type ToolCallIdStyle = 'openai' | 'mistral';

/** Tool-call ids the Chat Completions API accepts: at most 40 characters (OpenAI's limit), no odd characters. */
export function toChatToolCallId(id: string, style: ToolCallIdStyle = 'openai'): string {
  if (style === 'mistral') return /^[A-Za-z0-9]{9}$/.test(id) ? id : createHash('sha256').update(id).digest('base64url').replace(/[^A-Za-z0-9]/g, '').slice(0, 9);
  if (/^[A-Za-z0-9_-]{1,40}$/.test(id)) return id;
  return `call_${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

/** A fresh id for a tool call a server sent without one (some local servers do). */
export function newToolCallId(): string {
  return `call_${randomBytes(12).toString('hex')}`;
}

export function toChatMessages(request: Pick<ModelRequest, 'system' | 'messages'>, options: ChatMappingOptions): ChatMessage[] {
  const out: ChatMessage[] = [];
  const system = request.system.map((b) => b.text).join('\n\n').trim();
  if (system) out.push({ role: 'system', content: system });
  for (const message of request.messages) {
    if (message.role === 'assistant') out.push(...assistantMessage(message, options));
    else out.push(...userMessages(message, options));
  }
  return out;
}

function assistantMessage(message: ApiMessage, options: ChatMappingOptions): ChatMessage[] {
  const texts: string[] = [];
  const calls: OpenAI.Chat.Completions.ChatCompletionMessageToolCall[] = [];
  for (const block of message.content) {
    if (block.type === 'text') texts.push(block.text);
    else if (block.type === 'tool_use') {
      // always a JSON object (Ollama refuses any other arguments in a history), broken ones included
      if (options.tools) calls.push({ id: toChatToolCallId(block.id, options.idStyle), type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
      else texts.push(`[I called the tool ${block.name} with ${JSON.stringify(block.input ?? {})}]`);
    }
  }
  const content = texts.join('\n').trim();
  if (calls.length === 0 && !content) return [];
  return [{ role: 'assistant', content: content || null, ...(calls.length > 0 ? { tool_calls: calls } : {}) }];
}

function userMessages(message: ApiMessage, options: ChatMappingOptions): ChatMessage[] {
  const tools: ChatMessage[] = [];
  const parts: UserPart[] = [];
  for (const block of message.content) {
    switch (block.type) {
      case 'tool_result': {
        const { text, images } = resultContent(block.content);
        const body = block.is_error ? `Error: ${text}` : text;
        if (options.tools) tools.push({ role: 'tool', tool_call_id: toChatToolCallId(block.tool_use_id, options.idStyle), content: body || '(no output)' });
        else parts.push({ type: 'text', text: `[tool result${block.is_error ? ' (error)' : ''}] ${body}` });
        // tool messages carry text only: a tool's images follow in the user message
        for (const image of images) parts.push(imagePart(image, options));
        break;
      }
      case 'text': if (block.text.trim()) parts.push({ type: 'text', text: block.text }); break;
      case 'image': parts.push(imagePart(block, options)); break;
      default: break;
    }
  }
  if (parts.length === 0) return tools;
  // plain strings where possible: some local servers take only a string as content
  const content = parts.every((p) => p.type === 'text') ? parts.map((p) => (p as { text: string }).text).join('\n') : parts;
  return [...tools, { role: 'user', content }];
}

function resultContent(content: string | Array<TextBlock | ImageBlock>): { text: string; images: ImageBlock[] } {
  if (typeof content === 'string') return { text: content, images: [] };
  return {
    text: content.filter((b): b is TextBlock => b.type === 'text').map((b) => b.text).join('\n'),
    images: content.filter((b): b is ImageBlock => b.type === 'image'),
  };
}

function imagePart(image: ImageBlock, options: ChatMappingOptions): UserPart {
  if (!options.images) return { type: 'text', text: '[image]' };
  const url = image.source.type === 'base64' ? `data:${image.source.media_type};base64,${image.source.data}` : image.source.url;
  return { type: 'image_url', image_url: { url } };
}

export function toChatTools(request: Pick<ModelRequest, 'tools'>): OpenAI.Chat.Completions.ChatCompletionTool[] {
  return request.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.input_schema } }));
}

/** A streamed or whole tool call, once its arguments are complete. */
export interface CollectedToolCall { id?: string; name: string; arguments: string }

export interface ToolCallDelta { index?: number; id?: string; function?: { name?: string; arguments?: string } }

/**
 * Assembles tool calls from stream fragments. OpenAI numbers parallel calls by `index` and sends
 * the id once; some servers (Ollama, LiteLLM, Gemini bridges) send every call at index 0, each
 * with its own id, or no index at all: a new id always starts a new call, and fragments without
 * an id continue the newest call of their index.
 */
export class ToolCallCollector {
  readonly calls: CollectedToolCall[] = [];
  private readonly slotOfIndex = new Map<number, number>();

  push(part: ToolCallDelta): void {
    const index = typeof part.index === 'number' ? part.index : -1;
    let slot = this.slotOfIndex.get(index);
    const current = slot === undefined ? undefined : this.calls[slot];
    if (slot === undefined || (part.id && current?.id && part.id !== current.id)) {
      slot = this.calls.push({ name: '', arguments: '' }) - 1;
      this.slotOfIndex.set(index, slot);
    }
    const call = this.calls[slot];
    if (part.id && !call.id) call.id = part.id;
    if (part.function?.name && !call.name) call.name = part.function.name;
    if (part.function?.arguments) call.arguments += part.function.arguments;
  }

  complete(): CollectedToolCall[] {
    return this.calls.filter((c) => c.name);
  }
}

/** The reply's blocks: text (without a model's <think> section) first, then the tool calls. */
export function replyBlocks(text: string, calls: CollectedToolCall[]): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  const visible = stripThinking(text).trim();
  if (visible) blocks.push({ type: 'text', text: visible });
  const seen = new Set<string>();
  for (const call of calls) {
    // no id, or the same id twice in one reply (both happen with local servers): make one up
    let id = call.id && /^[A-Za-z0-9_.:-]{1,128}$/.test(call.id) ? call.id : newToolCallId();
    if (seen.has(id)) id = newToolCallId();
    seen.add(id);
    blocks.push({ type: 'tool_use', id, name: call.name, input: parseArguments(call.arguments) });
  }
  return blocks;
}

/** Tool arguments as an object; broken JSON is kept, so the tool answers with an error the model can fix. */
export function parseArguments(raw: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  try {
    const value = JSON.parse(raw) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch { /* kept below */ }
  return { [INVALID_ARGUMENTS_KEY]: raw };
}

/** Reasoning models on local servers put their thoughts in <think>…</think> before the answer. */
export function stripThinking(text: string): string {
  return text.replace(/^\s*<think>[\s\S]*?(<\/think>|$)/, '');
}

/** finish_reason onto the stop reasons the orchestrator handles. */
export function toStopReason(finishReason: string | null | undefined, hasToolCalls: boolean): StopReason | string {
  switch (finishReason) {
    case 'length': return 'max_tokens';
    case 'content_filter': return 'refusal';
    case 'tool_calls': case 'function_call': return 'tool_use';
    default: return hasToolCalls ? 'tool_use' : 'end_turn';
  }
}

/**
 * Passes streamed text on, holding back a leading <think>…</think> section, so a person never
 * sees a local model's reasoning.
 */
export class ThinkingFilter {
  private buffer = '';
  private state: 'start' | 'thinking' | 'open' = 'start';
  private readonly emit: (text: string) => void;
  constructor(emit: (text: string) => void) { this.emit = emit; }

  push(delta: string): void {
    if (this.state === 'open') { this.emit(delta); return; }
    this.buffer += delta;
    if (this.state === 'start') {
      const trimmed = this.buffer.trimStart();
      if (trimmed.length < '<think>'.length && '<think>'.startsWith(trimmed)) return;
      if (!trimmed.startsWith('<think>')) { this.state = 'open'; this.flush(); return; }
      this.state = 'thinking';
    }
    const end = this.buffer.indexOf('</think>');
    if (end < 0) return;
    this.buffer = this.buffer.slice(end + '</think>'.length).trimStart();
    this.state = 'open';
    this.flush();
  }

  private flush(): void {
    if (this.buffer) this.emit(this.buffer);
    this.buffer = '';
  }
}
