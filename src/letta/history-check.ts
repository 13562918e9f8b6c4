// A strict check of the rules the Anthropic Messages API enforces on a replayed history:
// every tool_use is answered by a tool_result in the very next (user) message, every
// tool_result answers a tool_use of the message just before it, ids are unique and well
// formed, and no text block is empty. Role 'system' rows are events and are left out,
// as the context builder leaves them out.
import type { ContentBlock } from '../llm/content.ts';

export interface HistoryMessage { role: 'user' | 'assistant' | 'system'; blocks?: ContentBlock[]; content?: ContentBlock[] | string }

const TOOL_ID = /^[a-zA-Z0-9_-]+$/;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Returns the problems found (empty when the API would accept the history). */
export function checkToolPairing(history: HistoryMessage[]): string[] {
  const problems: string[] = [];
  const api = history.filter((m) => m.role !== 'system').map((m) => ({
    role: m.role,
    blocks: m.blocks ?? (typeof m.content === 'string' ? [{ type: 'text', text: m.content } as ContentBlock] : m.content ?? []),
  }));
  const seenToolUse = new Set<string>();
  for (let i = 0; i < api.length; i++) {
    const { role, blocks } = api[i];
    const where = `message ${i} (${role})`;
    if (blocks.length === 0) problems.push(`${where}: empty content`);
    for (const b of blocks) {
      if (b.type === 'text' && b.text.trim() === '') problems.push(`${where}: text content blocks must contain non-whitespace text`);
      if (b.type === 'tool_use') {
        if (role !== 'assistant') problems.push(`${where}: tool_use in a user message`);
        if (!TOOL_ID.test(b.id)) problems.push(`${where}: tool_use id ${JSON.stringify(b.id)} does not match ^[a-zA-Z0-9_-]+$`);
        if (!TOOL_NAME.test(b.name)) problems.push(`${where}: tool_use name ${JSON.stringify(b.name)} does not match ^[a-zA-Z0-9_-]{1,64}$`);
        if (!b.input || typeof b.input !== 'object' || Array.isArray(b.input)) problems.push(`${where}: tool_use input must be an object`);
        if (seenToolUse.has(b.id)) problems.push(`${where}: tool_use ids must be unique (${b.id})`);
        seenToolUse.add(b.id);
      }
      if (b.type === 'tool_result' && role !== 'user') problems.push(`${where}: tool_result in an assistant message`);
    }
    // tool_results must answer the previous assistant message's tool_use blocks, and come first
    const results = blocks.filter((b) => b.type === 'tool_result');
    if (results.length > 0) {
      const prev = api[i - 1];
      const asked = new Set(prev?.role === 'assistant' ? prev.blocks.filter((b) => b.type === 'tool_use').map((b) => b.id) : []);
      const answered = new Set<string>();
      for (const r of results) {
        if (!asked.has(r.tool_use_id)) problems.push(`${where}: unexpected tool_use_id found in tool_result blocks: ${r.tool_use_id}. Each tool_result block must have a corresponding tool_use block in the previous message.`);
        if (answered.has(r.tool_use_id)) problems.push(`${where}: duplicate tool_result for ${r.tool_use_id}`);
        answered.add(r.tool_use_id);
      }
      const firstOther = blocks.findIndex((b) => b.type !== 'tool_result');
      const lastResult = blocks.findLastIndex((b) => b.type === 'tool_result');
      if (firstOther !== -1 && firstOther < lastResult) problems.push(`${where}: tool_result blocks must come before other content`);
    }
    const uses = role === 'assistant' ? blocks.filter((b) => b.type === 'tool_use') : [];
    if (uses.length > 0) {
      const next = api[i + 1];
      const answered = new Set(next?.role === 'user' ? next.blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id) : []);
      for (const u of uses) {
        if (!answered.has(u.id)) problems.push(`${where}: tool_use ids were found without tool_result blocks immediately after: ${u.id}. Each tool_use block must have a corresponding tool_result block in the next message.`);
      }
    }
  }
  return problems;
}
