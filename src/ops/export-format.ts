// The Lares export format (docs/export-format.md): one record per row of every table, ids kept,
// in dependency order. Records are readable (camelCase fields, content blocks and metadata as
// JSON values, not strings) and convert back to the exact rows they came from.
import { z } from 'zod';
import { LaresError } from '../errors.ts';
import { toAllowedCommand, toApproval, toJob } from '../memory/tool-state-rows.ts';
import type { TableName, TableRow } from './store-tables.ts';

export const EXPORT_FORMAT = 'lares-export';
export const EXPORT_VERSION = 1;

export type ExportKind = 'block' | 'block_version' | 'summary' | 'message' | 'passage' | 'usage' | 'meta' | 'approval' | 'event' | 'job' | 'allowlist';

/** Record kinds in the order a file must hold them, each with its table and its key in the JSON format. */
export const EXPORT_SECTIONS: Array<{ kind: ExportKind; table: TableName; jsonKey: string }> = [
  { kind: 'block', table: 'memory_blocks', jsonKey: 'blocks' },
  { kind: 'block_version', table: 'memory_block_history', jsonKey: 'blockVersions' },
  { kind: 'summary', table: 'summaries', jsonKey: 'summaries' },
  { kind: 'message', table: 'messages', jsonKey: 'messages' },
  { kind: 'passage', table: 'archival_passages', jsonKey: 'passages' },
  { kind: 'usage', table: 'llm_usage', jsonKey: 'usage' },
  { kind: 'meta', table: 'meta', jsonKey: 'meta' },
  // the tools' state; files exported before these existed simply have none
  { kind: 'approval', table: 'approval_requests', jsonKey: 'approvals' },
  { kind: 'event', table: 'mcp_events', jsonKey: 'events' },
  { kind: 'job', table: 'mcp_jobs', jsonKey: 'jobs' },
  { kind: 'allowlist', table: 'mcp_shell_allowlist', jsonKey: 'allowlist' },
];

const id = z.number().int().positive();
const nullableInt = z.number().int().nullable();
const time = z.string().min(1);
const nullableText = z.string().nullable();

const recordSchemas = {
  block: z.object({ label: z.string().min(1), content: z.string(), description: z.string(), charLimit: z.number().int(), readOnly: z.boolean(), updatedAt: time }),
  block_version: z.object({ id, label: z.string().min(1), content: z.string(), actor: z.string(), createdAt: time }),
  summary: z.object({ id, conversationId: z.string().min(1), summary: z.string(), startMessageId: nullableInt, endMessageId: nullableInt, tokenCount: nullableInt, createdAt: time, sourceRef: nullableText }),
  message: z.object({
    id, conversationId: z.string().min(1), role: z.enum(['user', 'assistant', 'system']), content: z.string(),
    blocks: z.array(z.record(z.string(), z.unknown())), createdAt: time, tokenCount: nullableInt, compactedBy: nullableInt,
    sourceRef: nullableText, metadata: z.record(z.string(), z.unknown()).nullable(),
  }),
  passage: z.object({ id, text: z.string(), tags: z.array(z.string()), createdAt: time, sourceRef: nullableText }),
  usage: z.object({
    id, conversationId: z.string().min(1), model: z.string(), inputTokens: z.number().int(), cacheReadTokens: z.number().int(),
    cacheWriteTokens: z.number().int(), outputTokens: z.number().int(), requestTokens: z.number().int(), lastMessageId: nullableInt, createdAt: time,
    // files exported before this field existed hold turn calls only
    kind: z.enum(['turn', 'compaction']).default('turn'),
    // ...and nothing of who served them or what for
    provider: nullableText.default(null),
    source: nullableText.default(null),
  }),
  meta: z.object({ key: z.string(), value: z.string() }),
  approval: z.object({
    id: z.string().min(1), tool: z.string().min(1), args: z.record(z.string(), z.unknown()), reason: z.string(),
    status: z.enum(['pending', 'approved', 'executed', 'failed', 'denied', 'expired']), createdAt: time, expiresAt: time,
    decidedAt: nullableText, finishedAt: nullableText, result: z.object({ text: z.string(), isError: z.boolean() }).nullable(),
    error: nullableText, denyReason: nullableText, alwaysAllowed: z.boolean(),
  }),
  event: z.object({ id, eventType: z.enum(['approval_needed', 'approval_result', 'job_due']), data: z.record(z.string(), z.unknown()), createdAt: time }),
  job: z.object({
    id: z.string().min(1), kind: z.enum(['once', 'interval', 'cron']), spec: z.string(), message: z.string(),
    nextRunAt: nullableText, lastRunAt: nullableText, active: z.boolean(), createdAt: time,
  }),
  allowlist: z.object({ argv: z.array(z.string()).min(1), approvalId: nullableText, createdAt: time }),
} satisfies Record<ExportKind, z.ZodType>;

export type ExportRecord = { kind: ExportKind; data: Record<string, unknown> };

export interface ExportHeader { format: typeof EXPORT_FORMAT; version: number; exportedAt: string; source: 'sqlite' | 'postgres' }
export type ExportCounts = Record<ExportKind, number>;

/** A table row → its export record. */
export function rowToRecord(kind: ExportKind, r: TableRow): Record<string, unknown> {
  switch (kind) {
    case 'block': return { label: r.label, content: r.content, description: r.description, charLimit: r.char_limit, readOnly: r.read_only, updatedAt: r.updated_at };
    case 'block_version': return { id: r.id, label: r.label, content: r.content, actor: r.actor, createdAt: r.created_at };
    case 'summary': return {
      id: r.id, conversationId: r.conversation_id, summary: r.summary, startMessageId: r.start_message_id, endMessageId: r.end_message_id,
      tokenCount: r.token_count, createdAt: r.created_at, sourceRef: r.source_ref,
    };
    case 'message': return {
      id: r.id, conversationId: r.conversation_id, role: r.role, content: r.content, blocks: JSON.parse(String(r.blocks_json)),
      createdAt: r.created_at, tokenCount: r.token_count, compactedBy: r.compacted_by, sourceRef: r.source_ref,
      metadata: r.metadata_json === null ? null : JSON.parse(String(r.metadata_json)),
    };
    case 'passage': return { id: r.id, text: r.text, tags: JSON.parse(String(r.tags)), createdAt: r.created_at, sourceRef: r.source_ref };
    case 'usage': return {
      id: r.id, conversationId: r.conversation_id, model: r.model, inputTokens: r.input_tokens, cacheReadTokens: r.cache_read_tokens,
      cacheWriteTokens: r.cache_write_tokens, outputTokens: r.output_tokens, requestTokens: r.request_tokens, lastMessageId: r.last_message_id, createdAt: r.created_at,
      kind: r.kind, provider: r.provider, source: r.source,
    };
    case 'meta': return { key: r.key, value: r.value };
    case 'approval': return { ...toApproval(r) };
    case 'event': return { id: r.id, eventType: r.type, data: JSON.parse(String(r.data_json)), createdAt: r.created_at };
    case 'job': { const { paused: _derived, ...job } = toJob(r); return job; }
    case 'allowlist': return { ...toAllowedCommand(r) };
  }
}

/** An export record (validated) → the table row it came from. `where` names the place in the file for errors. */
export function recordToRow(kind: ExportKind, data: unknown, where: string): TableRow {
  const parsed = recordSchemas[kind].safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LaresError('USAGE', `${where}: invalid ${kind} record: ${issue.path.join('.') || '(record)'}: ${issue.message}`, { exitCode: 1 });
  }
  const d = parsed.data as Record<string, any>;
  switch (kind) {
    case 'block': return { label: d.label, content: d.content, description: d.description, char_limit: d.charLimit, read_only: d.readOnly, updated_at: d.updatedAt };
    case 'block_version': return { id: d.id, label: d.label, content: d.content, actor: d.actor, created_at: d.createdAt };
    case 'summary': return {
      id: d.id, conversation_id: d.conversationId, summary: d.summary, start_message_id: d.startMessageId, end_message_id: d.endMessageId,
      token_count: d.tokenCount, created_at: d.createdAt, source_ref: d.sourceRef,
    };
    case 'message': return {
      id: d.id, conversation_id: d.conversationId, role: d.role, content: d.content, blocks_json: JSON.stringify(d.blocks), created_at: d.createdAt,
      token_count: d.tokenCount, compacted_by: d.compactedBy, source_ref: d.sourceRef, metadata_json: d.metadata === null ? null : JSON.stringify(d.metadata),
    };
    case 'passage': return { id: d.id, text: d.text, tags: JSON.stringify(d.tags), created_at: d.createdAt, source_ref: d.sourceRef };
    case 'usage': return {
      id: d.id, conversation_id: d.conversationId, model: d.model, input_tokens: d.inputTokens, cache_read_tokens: d.cacheReadTokens,
      cache_write_tokens: d.cacheWriteTokens, output_tokens: d.outputTokens, request_tokens: d.requestTokens, last_message_id: d.lastMessageId, created_at: d.createdAt,
      kind: d.kind, provider: d.provider, source: d.source,
    };
    case 'meta': return { key: d.key, value: d.value };
    case 'approval': return {
      id: d.id, tool: d.tool, args_json: JSON.stringify(d.args), reason: d.reason, status: d.status, created_at: d.createdAt, expires_at: d.expiresAt,
      decided_at: d.decidedAt, finished_at: d.finishedAt, result_json: d.result === null ? null : JSON.stringify(d.result),
      error: d.error, deny_reason: d.denyReason, always_allowed: d.alwaysAllowed,
    };
    case 'event': return { id: d.id, type: d.eventType, data_json: JSON.stringify(d.data), created_at: d.createdAt };
    case 'job': return { id: d.id, kind: d.kind, spec: d.spec, message: d.message, next_run_at: d.nextRunAt, last_run_at: d.lastRunAt, active: d.active, created_at: d.createdAt };
    case 'allowlist': return { argv_json: JSON.stringify(d.argv), approval_id: d.approvalId, created_at: d.createdAt };
  }
}

export function emptyCounts(): ExportCounts {
  return { block: 0, block_version: 0, summary: 0, message: 0, passage: 0, usage: 0, meta: 0, approval: 0, event: 0, job: 0, allowlist: 0 };
}
