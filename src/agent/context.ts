// Builds the model request for a turn:
//   tools (stable order) → system [base instructions + summary] [memory blocks] → recent history.
// Prompt caching: breakpoints go on the stable prefix (two system parts) and on the rolling tail
// (the last message and the previous request's last message), so every request of a conversation
// and of a tool loop reads the previous prefix from cache. Nothing volatile (no clock) is in the prefix.
import type { ApiMessage, ContentBlock, ImageBlock, TextBlock, ToolResultBlock } from '../llm/content.ts';
import type { ModelRequest, ModelTool } from '../llm/provider.ts';
import type { MemoryBlock, StoredMessage, Summary } from '../memory/store.ts';
import type { ToolDefinition } from '../tools/types.ts';
import { estimateRequestTokens, estimateTextTokens, type RequestEstimate } from './tokens.ts';

export interface ContextInput {
  model: string;
  maxTokens: number;
  baseInstructions: string;
  blocks: MemoryBlock[];
  summary?: Summary;
  messages: StoredMessage[];
  tools: ToolDefinition[];
  caching: boolean;
}

export interface BuiltContext {
  /** what it was built from, so it can be rebuilt with fewer messages */
  input: ContextInput;
  request: ModelRequest;
  /** stored message ids included, oldest first */
  messageIds: number[];
  estimate: RequestEstimate & { blocks: number; summary: number };
}

export function renderMemoryBlocks(blocks: MemoryBlock[]): string {
  const rendered = blocks.map((b) => [
    `<${b.label}>`,
    `<description>${b.description}</description>`,
    `<metadata>chars_current=${b.content.length} chars_limit=${b.charLimit}${b.readOnly ? ' read_only=true' : ''}</metadata>`,
    '<value>',
    b.content,
    '</value>',
    `</${b.label}>`,
  ].join('\n'));
  return [
    'Your core memory, always in view. Edit it with memory_replace, memory_insert and memory_rethink;',
    'each block shows its characters used and its limit. If a memory tool result later in the conversation',
    'shows a newer value of a block, that newer value is the current one.',
    '<memory_blocks>',
    ...rendered,
    '</memory_blocks>',
  ].join('\n');
}

export function renderSummary(summary: Summary): string {
  const range = summary.startMessageId !== null ? ` covering messages ${summary.startMessageId}–${summary.endMessageId}` : '';
  return [
    `<conversation_summary${range}>`,
    summary.summary,
    '</conversation_summary>',
    'Earlier messages are summarised above and kept in full in storage: use conversation_search to look up their details.',
  ].join('\n');
}

export function buildContext(input: ContextInput): BuiltContext {
  const tools: ModelTool[] = input.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema }));
  const stableSystem = input.summary ? `${input.baseInstructions}\n\n${renderSummary(input.summary)}` : input.baseInstructions;
  const memory = renderMemoryBlocks(input.blocks);
  const system: TextBlock[] = [{ type: 'text', text: stableSystem }, { type: 'text', text: memory }];

  const { messages, messageIds } = toApiMessages(input.messages);
  if (input.caching) addCacheBreakpoints(system, messages);

  const request: ModelRequest = { model: input.model, maxTokens: input.maxTokens, system, tools, messages };
  const estimate = estimateRequestTokens(request);
  return {
    input,
    request,
    messageIds,
    estimate: {
      ...estimate,
      blocks: estimateTextTokens(memory),
      summary: input.summary ? estimateTextTokens(renderSummary(input.summary)) : 0,
    },
  };
}

/**
 * Stored messages → API messages the Messages API accepts: events are left out, consecutive
 * turns of one role are merged, the first message is the person's, and every tool_use is
 * answered by a tool_result in the next message (an unanswered one gets an error result here;
 * the stored history itself is repaired by the orchestrator).
 */
export function toApiMessages(stored: StoredMessage[]): { messages: ApiMessage[]; messageIds: number[] } {
  const messages: ApiMessage[] = [];
  const messageIds: number[] = [];
  const refused = refusedTurns(stored);
  for (const m of stored) {
    if (m.role === 'system' || refused.has(m.id)) continue;
    const content = cleanBlocks(m.blocks);
    if (content.length === 0) continue;
    messageIds.push(m.id);
    const last = messages[messages.length - 1];
    if (last && last.role === m.role) last.content = mergeContent(last.content, content);
    else messages.push({ role: m.role, content });
  }
  if (messages.length > 0 && messages[0].role === 'assistant') {
    messages.unshift({ role: 'user', content: [{ type: 'text', text: '(The conversation continues from the summary above.)' }] });
  }
  pairToolCalls(messages);
  return { messages, messageIds };
}

/**
 * A refused turn must be taken out of the context, or the model keeps refusing (Anthropic's
 * guidance for stop_reason "refusal"). It stays stored and searchable: only the request leaves out
 * the refusal and its turn, back to the person's message that started it.
 */
function refusedTurns(stored: StoredMessage[]): Set<number> {
  const out = new Set<number>();
  for (let i = 0; i < stored.length; i++) {
    if (stored[i].role !== 'assistant' || stored[i].metadata?.stopReason !== 'refusal') continue;
    for (let j = i; j >= 0; j--) {
      const m = stored[j];
      out.add(m.id);
      const source = m.metadata?.source;
      if (m.role === 'user' && source !== 'tool_results' && source !== 'repair') break;
    }
  }
  return out;
}

function cleanBlocks(blocks: ContentBlock[]): ContentBlock[] {
  return blocks
    .filter((b) => !(b.type === 'text' && b.text.trim() === ''))
    .map((b) => {
      // the API rejects empty text anywhere, also inside a tool result (an MCP tool may return
      // an image with an empty caption): stored as it came, it would fail every later request
      let block = b;
      if (b.type === 'tool_result' && Array.isArray(b.content) && b.content.some(isBlankText)) {
        const kept = b.content.filter((inner) => !isBlankText(inner));
        block = { ...b, content: kept.length > 0 ? kept : '(no output)' };
      }
      if (!('cache_control' in block)) return block;
      const { cache_control: _ignored, ...rest } = block as ContentBlock & { cache_control?: unknown };
      return rest as ContentBlock;
    });
}

function isBlankText(block: TextBlock | ImageBlock): boolean {
  return block.type === 'text' && block.text.trim() === '';
}

/** Merges two same-role contents keeping tool_result blocks first, as the API requires. */
function mergeContent(a: ContentBlock[], b: ContentBlock[]): ContentBlock[] {
  const all = [...a, ...b];
  const results = all.filter((x) => x.type === 'tool_result');
  return results.length === 0 ? all : [...results, ...all.filter((x) => x.type !== 'tool_result')];
}

function pairToolCalls(messages: ApiMessage[]): void {
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (message.role === 'user') {
      // a tool_result with no tool_use just before it (history starting mid-pair) becomes plain text
      const previous = messages[i - 1];
      const calls = new Set(previous?.role === 'assistant' ? previous.content.filter((b) => b.type === 'tool_use').map((b) => (b as { id: string }).id) : []);
      message.content = message.content.map((b) => (b.type === 'tool_result' && !calls.has(b.tool_use_id) ? orphanResultAsText(b) : b));
      continue;
    }
    const ids = message.content.filter((b) => b.type === 'tool_use').map((b) => (b as { id: string }).id);
    if (ids.length === 0) continue;
    let next = messages[i + 1];
    if (!next || next.role !== 'user') {
      next = { role: 'user', content: [] };
      messages.splice(i + 1, 0, next);
    }
    const answered = new Set(next.content.filter((b) => b.type === 'tool_result').map((b) => (b as ToolResultBlock).tool_use_id));
    const missing: ToolResultBlock[] = ids.filter((id) => !answered.has(id)).map((id) => ({
      type: 'tool_result', tool_use_id: id, is_error: true, content: 'This tool call was interrupted before it returned a result; it may or may not have run.',
    }));
    if (missing.length > 0) next.content = mergeContent(missing, next.content);
  }
  // the request may not end with an unanswered tool_use, and a lone empty user message is invalid
  for (const m of messages) if (m.content.length === 0) m.content = [{ type: 'text', text: '(no content)' }];
}

function orphanResultAsText(block: ToolResultBlock): TextBlock {
  const body = typeof block.content === 'string' ? block.content : block.content.map((b) => (b.type === 'text' ? b.text : '[image]')).join('\n');
  return { type: 'text', text: `[result of an earlier tool call${block.is_error ? ', an error' : ''}] ${body}` };
}

function addCacheBreakpoints(system: TextBlock[], messages: ApiMessage[]): void {
  for (const block of system) block.cache_control = { type: 'ephemeral' };
  const tail = messages.length - 1;
  if (tail < 0) return;
  markLastBlock(messages[tail]);
  // the previous request ended at the user message before the last one: mark it too, so a
  // long tool loop or a big new message still reads everything up to there from cache
  let previousUser = -1;
  for (let i = tail - 1; i >= 0; i--) if (messages[i].role === 'user') { previousUser = i; break; }
  if (previousUser >= 0) markLastBlock(messages[previousUser]);
}

function markLastBlock(message: ApiMessage): void {
  for (let i = message.content.length - 1; i >= 0; i--) {
    const block = message.content[i];
    if (block.type === 'thinking' || block.type === 'redacted_thinking') continue;
    message.content[i] = { ...block, cache_control: { type: 'ephemeral' } } as ContentBlock;
    return;
  }
}
