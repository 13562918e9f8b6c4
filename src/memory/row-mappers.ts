// Database rows → store records, shared by the SQLite and PostgreSQL stores (same column names).
import type { ContentBlock } from '../llm/content.ts';
import type { MemoryBlock, Passage, StoredMessage, Summary, UsageGroup, UsageRange } from './store.ts';

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

/** llm_usage added up per UTC day (times are stored as UTC ISO text), provider, model, kind and source. */
export function usageSummarySql(where: string): string {
  return `SELECT substr(created_at, 1, 10) AS day, provider, model, kind, source, COUNT(*) AS calls,
      SUM(input_tokens) AS i, SUM(cache_read_tokens) AS cr, SUM(cache_write_tokens) AS cw, SUM(output_tokens) AS o
    FROM llm_usage ${where} GROUP BY substr(created_at, 1, 10), provider, model, kind, source`;
}

/** The WHERE clause of a usage range (since inclusive, until exclusive), with the store's placeholders. */
export function usageSummaryRange(range: UsageRange, placeholder: (n: number) => string): { where: string; params: string[] } {
  const conditions: string[] = [];
  const params: string[] = [];
  if (range.since !== undefined) { params.push(range.since); conditions.push(`created_at >= ${placeholder(params.length)}`); }
  if (range.until !== undefined) { params.push(range.until); conditions.push(`created_at < ${placeholder(params.length)}`); }
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

const byText = (a: string | null, b: string | null): number => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1);

/** Rows of usageSummarySql → groups, ordered alike in both stores (their collations and NULL orders differ). */
export function toUsageGroups(rows: Row[]): UsageGroup[] {
  return rows
    .map((r): UsageGroup => ({
      day: r.day, provider: r.provider ?? null, model: r.model, kind: r.kind, source: r.source ?? null, calls: Number(r.calls),
      inputTokens: Number(r.i), cacheReadTokens: Number(r.cr), cacheWriteTokens: Number(r.cw), outputTokens: Number(r.o),
    }))
    .sort((a, b) => byText(a.day, b.day) || byText(a.provider, b.provider) || byText(a.model, b.model) || byText(a.kind, b.kind) || byText(a.source, b.source));
}
