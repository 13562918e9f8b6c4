// Token accounting. Compaction decisions use the API's own numbers: the tokens the last
// request really cost (input + cache read + cache write), scaled onto the next request by a
// ratio calibrated from that same reported usage. The raw estimate below only has to be
// proportional to real tokens; it is not chars/4 (code, JSON and non-Latin text cost more per char).
import type { ContentBlock } from '../llm/content.ts';
import type { ModelRequest } from '../llm/provider.ts';

const PIECE = /\s?[\p{L}\p{M}]+|\s?\p{N}{1,3}|\s?[^\s\p{L}\p{M}\p{N}]+|\s+/gu;
const IMAGE_TOKENS = 1600;
const MESSAGE_OVERHEAD = 4;

/** A tokenizer-shaped estimate: words and word pieces, digit groups, punctuation runs. */
export function estimateTextTokens(value: string): number {
  let tokens = 0;
  for (const match of value.matchAll(PIECE)) {
    const piece = match[0];
    const trimmed = piece.trimStart();
    if (trimmed.length === 0) { tokens += 1; continue; }
    if (/^[\p{L}\p{M}]/u.test(trimmed)) {
      // ASCII words average ~4.5 chars a token; other scripts fewer chars per token
      const perToken = /^[a-zA-Z]+$/.test(trimmed) ? 6 : 2;
      tokens += Math.ceil(trimmed.length / perToken);
    } else if (/^\p{N}/u.test(trimmed)) {
      tokens += 1;
    } else {
      tokens += Math.ceil(trimmed.length / 2);
    }
  }
  return tokens;
}

export function estimateBlocksTokens(blocks: ContentBlock[]): number {
  let tokens = MESSAGE_OVERHEAD;
  for (const block of blocks) {
    switch (block.type) {
      case 'text': tokens += estimateTextTokens(block.text); break;
      case 'tool_use': tokens += estimateTextTokens(block.name) + estimateTextTokens(JSON.stringify(block.input)) + 8; break;
      case 'tool_result':
        tokens += 6 + (typeof block.content === 'string'
          ? estimateTextTokens(block.content)
          : block.content.reduce((sum, b) => sum + (b.type === 'text' ? estimateTextTokens(b.text) : IMAGE_TOKENS), 0));
        break;
      case 'image': tokens += IMAGE_TOKENS; break;
      case 'thinking': tokens += estimateTextTokens(block.thinking); break;
      case 'redacted_thinking': tokens += Math.ceil(block.data.length / 4); break;
    }
  }
  return tokens;
}

export interface RequestEstimate {
  tools: number;
  system: number;
  messages: number;
  total: number;
}

export function estimateRequestTokens(request: Pick<ModelRequest, 'tools' | 'system' | 'messages'>): RequestEstimate {
  const tools = request.tools.reduce((sum, t) => sum + estimateTextTokens(t.name) + estimateTextTokens(t.description) + estimateTextTokens(JSON.stringify(t.input_schema)) + 10, 0);
  const system = request.system.reduce((sum, b) => sum + estimateTextTokens(b.text), 0);
  const messages = request.messages.reduce((sum, m) => sum + estimateBlocksTokens(m.content), 0);
  return { tools, system, messages, total: tools + system + messages };
}

/**
 * Real tokens per estimated token, learned from reported usage. Kept per process and in the
 * store's meta (key `token_calibration`) so it survives restarts.
 */
export class TokenCalibration {
  ratio: number;
  constructor(initial = 1) {
    this.ratio = initial;
  }

  /** Folds in one observation: the API counted `actual` tokens for a request we estimated at `estimated`. */
  observe(estimated: number, actual: number): void {
    if (estimated <= 0 || actual <= 0) return;
    const observed = actual / estimated;
    // the newest observation dominates: it was measured on nearly the same request
    this.ratio = this.ratio === 1 ? observed : this.ratio * 0.3 + observed * 0.7;
  }

  tokens(estimated: number): number {
    return Math.round(estimated * this.ratio);
  }
}
