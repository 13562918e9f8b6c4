// The content blocks Lares stores and replays. They mirror the Anthropic Messages API
// blocks exactly, so a stored history is replayed to the model byte for byte.

export interface TextBlock { type: 'text'; text: string; cache_control?: CacheControl }
export interface ImageBlock {
  type: 'image';
  source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };
  cache_control?: CacheControl;
}
export interface ToolUseBlock { type: 'tool_use'; id: string; name: string; input: Record<string, unknown>; cache_control?: CacheControl }
export interface ToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content: string | Array<TextBlock | ImageBlock>;
  is_error?: boolean;
  cache_control?: CacheControl;
}
export interface ThinkingBlock { type: 'thinking'; thinking: string; signature: string }
export interface RedactedThinkingBlock { type: 'redacted_thinking'; data: string }
export interface CacheControl { type: 'ephemeral'; ttl?: '5m' | '1h' }

export type ContentBlock = TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock;

export type ApiRole = 'user' | 'assistant';
export interface ApiMessage { role: ApiRole; content: ContentBlock[] }

/** Readable text of some blocks: what `messages.content` holds and what search indexes. */
export function blocksToText(blocks: ContentBlock[]): string {
  const parts: string[] = [];
  for (const block of blocks) {
    switch (block.type) {
      case 'text': parts.push(block.text); break;
      case 'tool_use': parts.push(`[tool call ${block.name}] ${JSON.stringify(block.input)}`); break;
      case 'tool_result': {
        const text = typeof block.content === 'string'
          ? block.content
          : block.content.map((b) => (b.type === 'text' ? b.text : '[image]')).join('\n');
        parts.push(`[tool result${block.is_error ? ' (error)' : ''}] ${text}`);
        break;
      }
      case 'image': parts.push('[image]'); break;
      case 'thinking': break;
      case 'redacted_thinking': break;
    }
  }
  return parts.join('\n');
}

export function text(value: string): TextBlock {
  return { type: 'text', text: value };
}

/**
 * The one key of a tool_use `input` whose arguments arrived as broken JSON (some models on
 * OpenAI-compatible servers send them). The raw text is kept; the tool router answers the
 * call with an error the model can fix.
 */
export const INVALID_ARGUMENTS_KEY = '__lares_invalid_arguments';
