// Database rows → store records, shared by the SQLite and PostgreSQL stores (same column names).
import type { ContentBlock } from '../llm/content.ts';
import type { MemoryBlock, Passage, StoredMessage, Summary } from './store.ts';

type Row = Record<string, any>;

const nullableNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export function toBlock(r: Row): MemoryBlock {
  // SQLite stores booleans as 0/1, PostgreSQL as booleans
  return { label: r.label, content: r.content, description: r.description, charLimit: Number(r.char_limit), readOnly: r.read_only === true || Number(r.read_only) === 1, updatedAt: r.updated_at };
}

export function toMessage(r: Row): StoredMessage {
  return {
    id: Number(r.id), conversationId: r.conversation_id, role: r.role, content: r.content, blocks: JSON.parse(r.blocks_json) as ContentBlock[],
    createdAt: r.created_at, tokenCount: nullableNumber(r.token_count), compactedBy: nullableNumber(r.compacted_by),
    sourceRef: r.source_ref, metadata: r.metadata_json ? JSON.parse(r.metadata_json) : null,
  };
}

export function toSummary(r: Row): Summary {
  return {
    id: Number(r.id), conversationId: r.conversation_id, summary: r.summary,
    startMessageId: nullableNumber(r.start_message_id), endMessageId: nullableNumber(r.end_message_id),
    tokenCount: nullableNumber(r.token_count), createdAt: r.created_at, sourceRef: r.source_ref,
  };
}

export function toPassage(r: Row): Passage {
  return { id: Number(r.id), text: r.text, tags: JSON.parse(r.tags) as string[], createdAt: r.created_at, sourceRef: r.source_ref };
}
