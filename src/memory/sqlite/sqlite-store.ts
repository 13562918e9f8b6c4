// The default memory store: one SQLite file (Node's built-in node:sqlite, FTS5 included).
// WAL so readers (lares search, sqlite3) never block the agent; foreign keys on; every
// multi-row write in one transaction; messages are never deleted.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { LaresError } from '../../errors.ts';
import { blocksToText } from '../../llm/content.ts';
import { nowIso } from '../../time.ts';
import {
  DEFAULT_CONVERSATION,
  type BlockVersion, type ImportBatch, type NewVector, type PendingDoc, type RankedId, type RecallFilters, type RecallKind, type RecallStats, type VectorRow, type ImportResult, type MemoryBlock, type MemoryStore, type MessageSearchOptions,
  type NewMessage, type NewPassage, type NewSummary, type Passage, type PassageHit, type SearchHit, type StoreCounts,
  type StoredMessage, type StoredUsage, type Summary, type UsageGroup, type UsageRange, type UsageRecord,
} from '../store.ts';
import { toBlock, toMessage, toPassage, toSummary, toUsageGroups, usageSummaryRange, usageSummarySql } from '../row-mappers.ts';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './schema.ts';
import { SqliteToolState } from './tool-state.ts';
import { fts5OrQuery, queryTerms } from '../../recall/query-terms.ts';
import { CONTEXT_WEIGHT } from '../../recall/settings.ts';

type Row = Record<string, any>;

export function openSqliteDatabase(path: string): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: 5000 });
  } catch (error) {
    throw new LaresError('STORE_ERROR', `cannot open the SQLite database at ${path}: ${(error as Error).message}. Check that the directory exists and is writable (SQLITE_DB_PATH).`, { cause: error });
  }
  db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;');
  return db;
}

export function migrateSqlite(db: DatabaseSync): void {
  const current = Number((db.prepare('PRAGMA user_version').get() as Row).user_version);
  if (current > SQLITE_SCHEMA_VERSION) {
    throw new LaresError('STORE_ERROR', `the database has schema version ${current}, newer than this Lares understands (${SQLITE_SCHEMA_VERSION}). Update Lares.`);
  }
  for (let version = current; version < SQLITE_SCHEMA_VERSION; version++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(SQLITE_MIGRATIONS[version]);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
}

export class SqliteStore implements MemoryStore {
  readonly kind = 'sqlite' as const;
  readonly db: DatabaseSync;
  readonly path: string;
  readonly toolState: SqliteToolState;
  private readonly statements = new Map<string, StatementSync>();

  constructor(path: string) {
    this.path = path;
    this.db = openSqliteDatabase(path);
    migrateSqlite(this.db);
    this.toolState = new SqliteToolState(this.db);
  }

  /** Prepared statements are cached: the hot paths (append, context load) prepare nothing. */
  private sql(text: string): StatementSync {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  private transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  // ---- memory blocks

  async listBlocks(): Promise<MemoryBlock[]> {
    return (this.sql('SELECT * FROM memory_blocks ORDER BY rowid').all() as Row[]).map(toBlock);
  }

  async getBlock(label: string): Promise<MemoryBlock | undefined> {
    const row = this.sql('SELECT * FROM memory_blocks WHERE label = ?').get(label) as Row | undefined;
    return row ? toBlock(row) : undefined;
  }

  async putBlock(block: Omit<MemoryBlock, 'updatedAt'> & { updatedAt?: string }, actor: string): Promise<MemoryBlock> {
    const updatedAt = block.updatedAt ?? nowIso();
    this.transaction(() => {
      this.sql(`INSERT INTO memory_blocks(label, content, description, char_limit, read_only, updated_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT(label) DO UPDATE SET content = excluded.content, description = excluded.description,
          char_limit = excluded.char_limit, read_only = excluded.read_only, updated_at = excluded.updated_at`)
        .run(block.label, block.content, block.description, block.charLimit, block.readOnly ? 1 : 0, updatedAt);
      this.sql('INSERT INTO memory_block_history(label, content, actor, created_at) VALUES (?, ?, ?, ?)').run(block.label, block.content, actor, updatedAt);
    });
    return (await this.getBlock(block.label))!;
  }

  async setBlockContent(label: string, content: string, actor: string): Promise<MemoryBlock> {
    const updatedAt = nowIso();
    this.transaction(() => {
      const result = this.sql('UPDATE memory_blocks SET content = ?, updated_at = ? WHERE label = ?').run(content, updatedAt, label);
      if (Number(result.changes) === 0) throw new LaresError('MEMORY_TOOL_ERROR', `there is no memory block labelled "${label}"`);
      this.sql('INSERT INTO memory_block_history(label, content, actor, created_at) VALUES (?, ?, ?, ?)').run(label, content, actor, updatedAt);
    });
    return (await this.getBlock(label))!;
  }

  async blockHistory(label: string): Promise<BlockVersion[]> {
    return (this.sql('SELECT * FROM memory_block_history WHERE label = ? ORDER BY id').all(label) as Row[])
      .map((r) => ({ id: Number(r.id), label: r.label, content: r.content, actor: r.actor, createdAt: r.created_at }));
  }

  // ---- messages

  async appendMessages(messages: NewMessage[]): Promise<StoredMessage[]> {
    const ids = this.transaction(() => messages.map((m) => this.insertMessage(m)));
    return ids.map((id) => this.getMessageSync(id)!);
  }

  private insertMessage(m: NewMessage): number {
    const result = this.sql(`INSERT INTO messages(conversation_id, role, content, blocks_json, created_at, token_count, source_ref, metadata_json)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(
      m.conversationId ?? DEFAULT_CONVERSATION, m.role, m.content ?? blocksToText(m.blocks), JSON.stringify(m.blocks),
      m.createdAt ?? nowIso(), m.tokenCount ?? null, m.sourceRef ?? null, m.metadata ? JSON.stringify(m.metadata) : null,
    );
    return Number(result.lastInsertRowid);
  }

  private getMessageSync(id: number): StoredMessage | undefined {
    const row = this.sql('SELECT * FROM messages WHERE id = ?').get(id) as Row | undefined;
    return row ? toMessage(row) : undefined;
  }

  async getMessage(id: number): Promise<StoredMessage | undefined> {
    return this.getMessageSync(id);
  }

  async uncompactedMessages(conversationId = DEFAULT_CONVERSATION): Promise<StoredMessage[]> {
    return (this.sql('SELECT * FROM messages WHERE conversation_id = ? AND compacted_by IS NULL ORDER BY id').all(conversationId) as Row[]).map(toMessage);
  }

  async messagesInRange(startId: number, endId: number, conversationId = DEFAULT_CONVERSATION): Promise<StoredMessage[]> {
    return (this.sql('SELECT * FROM messages WHERE conversation_id = ? AND id BETWEEN ? AND ? ORDER BY id').all(conversationId, startId, endId) as Row[]).map(toMessage);
  }

  async uncompactedIdsInRange(startId: number, endId: number, conversationId = DEFAULT_CONVERSATION, sourceRefPrefix?: string): Promise<number[]> {
    const rows = sourceRefPrefix === undefined
      ? this.sql('SELECT id FROM messages WHERE conversation_id = ? AND id BETWEEN ? AND ? AND compacted_by IS NULL ORDER BY id').iterate(conversationId, startId, endId)
      : this.sql('SELECT id FROM messages WHERE conversation_id = ? AND id BETWEEN ? AND ? AND compacted_by IS NULL AND substr(source_ref, 1, ?) = ? ORDER BY id')
        .iterate(conversationId, startId, endId, sourceRefPrefix.length, sourceRefPrefix);
    // row by row: a range can hold most of a long history, and a row object weighs far more than its id
    const ids: number[] = [];
    for (const row of rows) ids.push(Number((row as Row).id));
    return ids;
  }

  async recentMessages(limit: number, conversationId = DEFAULT_CONVERSATION): Promise<StoredMessage[]> {
    return (this.sql('SELECT * FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?').all(conversationId, limit) as Row[]).map(toMessage);
  }

  /** Keyword search alone (stemmed, OR-ed, best first); hybrid search is src/recall/recall.ts. */
  async searchMessages(query: string, options: MessageSearchOptions = {}): Promise<SearchHit[]> {
    const ranked = await this.recallKeyword('message', queryTerms(query), options, options.limit ?? 10);
    const byId = new Map((await this.messagesByIds(ranked.map((r) => r.id))).map((m) => [m.id, m]));
    return ranked.filter((r) => byId.has(r.id)).map((r) => {
      const m = byId.get(r.id)!;
      return { id: m.id, role: m.role, content: m.content, createdAt: m.createdAt, score: r.score, compacted: m.compactedBy !== null };
    });
  }

  async findMessageBySourceRef(sourceRef: string): Promise<StoredMessage | undefined> {
    const row = this.sql('SELECT * FROM messages WHERE source_ref = ?').get(sourceRef) as Row | undefined;
    return row ? toMessage(row) : undefined;
  }

  async setMessageTokenCount(id: number, tokenCount: number): Promise<void> {
    this.sql('UPDATE messages SET token_count = ? WHERE id = ?').run(tokenCount, id);
  }

  // ---- summaries

  async compact(summary: NewSummary, messageIds: number[]): Promise<Summary> {
    const id = this.transaction(() => {
      const id = this.insertSummary(summary);
      const mark = this.sql('UPDATE messages SET compacted_by = ? WHERE id = ? AND compacted_by IS NULL');
      for (const messageId of messageIds) mark.run(id, messageId);
      return id;
    });
    return this.getSummary(id)!;
  }

  private insertSummary(s: NewSummary): number {
    const result = this.sql(`INSERT INTO summaries(conversation_id, summary, start_message_id, end_message_id, token_count, created_at, source_ref)
      VALUES (?, ?, ?, ?, ?, ?, ?)`).run(s.conversationId ?? DEFAULT_CONVERSATION, s.summary, s.startMessageId, s.endMessageId, s.tokenCount ?? null, s.createdAt ?? nowIso(), s.sourceRef ?? null);
    return Number(result.lastInsertRowid);
  }

  private getSummary(id: number): Summary | undefined {
    const row = this.sql('SELECT * FROM summaries WHERE id = ?').get(id) as Row | undefined;
    return row ? toSummary(row) : undefined;
  }

  async latestSummary(conversationId = DEFAULT_CONVERSATION): Promise<Summary | undefined> {
    const row = this.sql('SELECT * FROM summaries WHERE conversation_id = ? ORDER BY id DESC LIMIT 1').get(conversationId) as Row | undefined;
    return row ? toSummary(row) : undefined;
  }

  async listSummaries(conversationId = DEFAULT_CONVERSATION): Promise<Summary[]> {
    return (this.sql('SELECT * FROM summaries WHERE conversation_id = ? ORDER BY id').all(conversationId) as Row[]).map(toSummary);
  }

  // ---- archival memory

  async insertPassage(passage: NewPassage): Promise<Passage> {
    const id = this.insertPassageSync(passage);
    return toPassage(this.sql('SELECT * FROM archival_passages WHERE id = ?').get(id) as Row);
  }

  private insertPassageSync(p: NewPassage): number {
    const result = this.sql('INSERT INTO archival_passages(text, tags, created_at, source_ref) VALUES (?, ?, ?, ?)')
      .run(p.text, JSON.stringify(p.tags ?? []), p.createdAt ?? nowIso(), p.sourceRef ?? null);
    return Number(result.lastInsertRowid);
  }

  async searchPassages(query: string, options: { tags?: string[]; limit?: number } = {}): Promise<PassageHit[]> {
    const ranked = await this.recallKeyword('passage', queryTerms(query), { tags: options.tags }, options.limit ?? 10);
    const byId = new Map((await this.passagesByIds(ranked.map((r) => r.id))).map((p) => [p.id, p]));
    return ranked.filter((r) => byId.has(r.id)).map((r) => ({ ...byId.get(r.id)!, score: r.score }));
  }

  async listPassages(): Promise<Passage[]> {
    return (this.sql('SELECT * FROM archival_passages ORDER BY id').all() as Row[]).map(toPassage);
  }

  async deletePassage(id: number): Promise<boolean> {
    return this.transaction(() => {
      const row = this.sql('SELECT id, text, tags FROM archival_passages WHERE id = ?').get(id) as Row | undefined;
      if (!row) return false;
      // the first index keeps its content in the table: FTS5 needs the old values to forget them
      this.sql(`INSERT INTO archival_passages_fts(archival_passages_fts, rowid, text, tags) VALUES ('delete', ?, ?, ?)`).run(row.id, row.text, row.tags);
      this.sql('DELETE FROM passage_recall_fts WHERE rowid = ?').run(id);
      this.sql(`DELETE FROM recall_vectors WHERE kind = 'passage' AND id = ?`).run(id);
      this.sql('DELETE FROM archival_passages WHERE id = ?').run(id);
      return true;
    });
  }

  // ---- by id

  async messagesByIds(ids: number[]): Promise<StoredMessage[]> {
    return this.byIds(ids, 'messages', toMessage);
  }

  async summariesByIds(ids: number[]): Promise<Summary[]> {
    return this.byIds(ids, 'summaries', toSummary);
  }

  async passagesByIds(ids: number[]): Promise<Passage[]> {
    return this.byIds(ids, 'archival_passages', toPassage);
  }

  private byIds<T extends { id: number }>(ids: number[], table: string, map: (row: Row) => T): T[] {
    if (ids.length === 0) return [];
    const rows = (this.db.prepare(`SELECT * FROM ${table} WHERE id IN (SELECT value FROM json_each(?))`).all(JSON.stringify(ids)) as Row[]).map(map);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id)).filter((r): r is T => r !== undefined);
  }

  // ---- recall index

  /** SQL that keeps only the documents the filters allow; `d` is the document table. */
  private recallWhere(kind: RecallKind, filters: RecallFilters): { join: string; where: string[]; params: Array<string | number> } {
    const table = { message: 'messages', summary: 'summaries', passage: 'archival_passages' }[kind];
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (kind !== 'passage' && filters.conversationId !== '*') { where.push('d.conversation_id = ?'); params.push(filters.conversationId ?? DEFAULT_CONVERSATION); }
    if (kind === 'message' && filters.roles && filters.roles.length > 0) {
      where.push(`d.role IN (${filters.roles.map(() => '?').join(', ')})`);
      params.push(...filters.roles);
    }
    if (filters.startDate) { where.push('d.created_at >= ?'); params.push(filters.startDate); }
    if (filters.endDate) { where.push('d.created_at <= ?'); params.push(filters.endDate); }
    for (const tag of kind === 'passage' ? filters.tags ?? [] : []) {
      where.push('EXISTS (SELECT 1 FROM json_each(d.tags) WHERE value = ?)');
      params.push(tag);
    }
    return { join: `JOIN ${table} d ON d.id = `, where, params };
  }

  async recallKeyword(kind: RecallKind, terms: string[], filters: RecallFilters, limit: number): Promise<RankedId[]> {
    const match = fts5OrQuery(terms);
    if (!match) return [];
    const fts = `${kind}_recall_fts`;
    const { join, where, params } = this.recallWhere(kind, filters);
    const weights = kind === 'message' ? `1.0, ${CONTEXT_WEIGHT}` : '1.0';
    const rows = this.db.prepare(`SELECT d.id, bm25(${fts}, ${weights}) AS rank FROM ${fts} ${join}${fts}.rowid
      WHERE ${fts} MATCH ?${where.map((w) => ` AND ${w}`).join('')} ORDER BY rank LIMIT ?`).all(match, ...params, limit) as Row[];
    return rows.map((r) => ({ id: Number(r.id), score: -Number(r.rank) }));
  }

  async recallTermCounts(kind: RecallKind, terms: string[], cap: number): Promise<number[]> {
    const fts = `${kind}_recall_fts`;
    const count = this.sql(`SELECT COUNT(*) AS n FROM (SELECT rowid FROM ${fts} WHERE ${fts} MATCH ? LIMIT ?)`);
    return terms.map((term) => Number((count.get(fts5OrQuery([term])!, cap) as Row).n));
  }

  async recallSessionKeyword(terms: string[], filters: RecallFilters, limit: number): Promise<RankedId[]> {
    const match = fts5OrQuery(terms);
    if (!match) return [];
    const where = filters.conversationId === '*' ? '' : ' AND d.conversation_id = ?';
    const params = filters.conversationId === '*' ? [] : [filters.conversationId ?? DEFAULT_CONVERSATION];
    const rows = this.db.prepare(`SELECT session_recall_fts.rowid AS id, bm25(session_recall_fts) AS rank FROM session_recall_fts
      JOIN messages d ON d.id = session_recall_fts.rowid WHERE session_recall_fts MATCH ?${where} ORDER BY rank LIMIT ?`).all(match, ...params, limit) as Row[];
    return rows.map((r) => ({ id: Number(r.id), score: -Number(r.rank) }));
  }

  async recallSessionsOf(messageIds: number[]): Promise<Map<number, number>> {
    if (messageIds.length === 0) return new Map();
    const rows = this.db.prepare('SELECT message_id, session_id FROM recall_sessions WHERE message_id IN (SELECT value FROM json_each(?))').all(JSON.stringify(messageIds)) as Row[];
    return new Map(rows.map((r) => [Number(r.message_id), Number(r.session_id)]));
  }

  async recallVectors(kind: RecallKind, model: string, filters: RecallFilters, clusters?: number[], page?: { afterId: number; limit: number }): Promise<VectorRow[]> {
    const where = ['v.kind = ?', 'v.model = ?'];
    const params: Array<string | number> = [kind, model];
    // the cluster list is inlined (whole numbers only) so that SQLite reads just those runs of the table
    if (clusters) where.push(`v.cluster IN (${[-1, ...clusters.map((c) => Math.trunc(c))].join(', ')})`);
    if (kind !== 'passage' && filters.conversationId !== '*') { where.push('v.conversation_id = ?'); params.push(filters.conversationId ?? DEFAULT_CONVERSATION); }
    if (page) { where.push('v.id > ?'); params.push(page.afterId); }
    // the document table is read only for filters the vector table cannot answer
    let join = '';
    if (filters.roles?.length || filters.startDate || filters.endDate || (kind === 'passage' && filters.tags?.length)) {
      const more = this.recallWhere(kind, { ...filters, conversationId: '*' });
      join = ` ${more.join}v.id`;
      where.push(...more.where);
      params.push(...more.params);
    }
    const rows = this.db.prepare(`SELECT v.id, v.vector FROM recall_vectors v${join} WHERE ${where.join(' AND ')}${page ? ` ORDER BY v.id LIMIT ${Math.floor(page.limit)}` : ''}`).all(...params) as Row[];
    return rows.map((r) => ({ id: Number(r.id), vector: r.vector as Uint8Array }));
  }

  async recallPending(kind: RecallKind, model: string, limit: number, afterId = 0): Promise<PendingDoc[]> {
    const source = {
      message: 'SELECT id, content AS text, conversation_id FROM messages',
      summary: 'SELECT id, summary AS text, conversation_id FROM summaries',
      passage: 'SELECT id, text, NULL AS conversation_id FROM archival_passages',
    }[kind];
    const rows = this.db.prepare(`SELECT d.* FROM (${source}) d LEFT JOIN recall_vectors v ON v.kind = ? AND v.id = d.id
      WHERE (v.id IS NULL OR v.model <> ?) AND d.id > ? ORDER BY d.id LIMIT ?`).all(kind, model, afterId, limit) as Row[];
    return rows.map((r) => ({ id: Number(r.id), text: r.text, conversationId: r.conversation_id ?? null }));
  }

  async putRecallVectors(kind: RecallKind, model: string, rows: NewVector[]): Promise<void> {
    this.transaction(() => {
      const put = this.sql(`INSERT INTO recall_vectors(kind, model, cluster, id, conversation_id, vector) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT(kind, id) DO UPDATE SET model = excluded.model, cluster = excluded.cluster, conversation_id = excluded.conversation_id, vector = excluded.vector`);
      for (const row of rows) put.run(kind, model, row.cluster ?? -1, row.id, row.conversationId, row.vector);
    });
  }

  async setRecallContext(rows: Array<{ id: number; context: string; session: number }>, contextThrough: number): Promise<void> {
    this.transaction(() => {
      const remove = this.sql('DELETE FROM message_recall_fts WHERE rowid = ?');
      const add = this.sql('INSERT INTO message_recall_fts(rowid, body, context) SELECT id, content, ? FROM messages WHERE id = ?');
      const inSession = this.sql('INSERT INTO recall_sessions(message_id, session_id) VALUES (?, ?) ON CONFLICT(message_id) DO UPDATE SET session_id = excluded.session_id');
      for (const row of rows) { remove.run(row.id); add.run(row.context, row.id); inSession.run(row.id, row.session); }
      const removeSession = this.sql('DELETE FROM session_recall_fts WHERE rowid = ?');
      const addSession = this.sql(`INSERT INTO session_recall_fts(rowid, body) SELECT ?, group_concat(content, char(10)) FROM
        (SELECT m.content FROM recall_sessions s JOIN messages m ON m.id = s.message_id WHERE s.session_id = ? ORDER BY m.id)`);
      for (const session of new Set(rows.map((r) => r.session))) { removeSession.run(session); addSession.run(session, session); }
      this.sql(`INSERT INTO meta(key, value) VALUES ('recall_context_through', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(String(contextThrough));
    });
  }

  async recallStats(model: string | undefined): Promise<RecallStats> {
    const one = (sql: string, ...params: string[]) => Number((this.sql(sql).get(...params) as Row).n);
    return {
      messages: one('SELECT COUNT(*) AS n FROM messages'),
      summaries: one('SELECT COUNT(*) AS n FROM summaries'),
      passages: one('SELECT COUNT(*) AS n FROM archival_passages'),
      embedded: model ? one('SELECT COUNT(*) AS n FROM recall_vectors WHERE model = ?', model) : 0,
      stale: model ? one('SELECT COUNT(*) AS n FROM recall_vectors WHERE model <> ?', model) : one('SELECT COUNT(*) AS n FROM recall_vectors'),
      contextThrough: Number((await this.getMeta('recall_context_through')) ?? 0),
      lastMessageId: one('SELECT COALESCE(MAX(id), 0) AS n FROM messages'),
    };
  }

  async resetRecallIndex(scope: 'keywords' | 'all'): Promise<void> {
    this.transaction(() => {
      // contentless tables: 'delete-all' (a row DELETE would stay in bm25()'s totals); the others: DELETE
      this.db.exec(`DELETE FROM message_recall_fts;
        INSERT INTO message_recall_fts(rowid, body, context) SELECT id, content, '' FROM messages;
        INSERT INTO summary_recall_fts(summary_recall_fts) VALUES ('delete-all');
        INSERT INTO summary_recall_fts(rowid, body) SELECT id, summary FROM summaries;
        INSERT INTO passage_recall_fts(passage_recall_fts) VALUES ('delete-all');
        INSERT INTO passage_recall_fts(rowid, body) SELECT id, text || ' ' || tags FROM archival_passages;
        DELETE FROM session_recall_fts; DELETE FROM recall_sessions;
        DELETE FROM meta WHERE key = 'recall_context_through';`);
      if (scope === 'all') this.db.exec('DELETE FROM recall_vectors; DELETE FROM recall_centroids;');
    });
  }

  async recallCentroids(kind: RecallKind, model: string): Promise<Uint8Array[]> {
    return (this.sql('SELECT vector FROM recall_centroids WHERE kind = ? AND model = ? ORDER BY cluster').all(kind, model) as Row[]).map((r) => r.vector as Uint8Array);
  }

  async setRecallCentroids(kind: RecallKind, model: string, centroids: Uint8Array[], assignments: Array<{ id: number; cluster: number }>): Promise<void> {
    this.transaction(() => {
      this.sql('DELETE FROM recall_centroids WHERE kind = ? AND model = ?').run(kind, model);
      const add = this.sql('INSERT INTO recall_centroids(kind, model, cluster, vector) VALUES (?, ?, ?, ?)');
      centroids.forEach((vector, cluster) => add.run(kind, model, cluster, vector));
      const assign = this.sql('UPDATE recall_vectors SET cluster = ? WHERE kind = ? AND id = ? AND model = ?');
      for (const a of assignments) assign.run(a.cluster, kind, a.id, model);
    });
  }

  // ---- usage

  async recordUsage(u: UsageRecord): Promise<void> {
    this.sql(`INSERT INTO llm_usage(conversation_id, model, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, request_tokens, last_message_id, created_at, kind, provider, source)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      u.conversationId ?? DEFAULT_CONVERSATION, u.model, u.inputTokens, u.cacheReadTokens, u.cacheWriteTokens, u.outputTokens,
      u.requestTokens ?? u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens, u.lastMessageId ?? null, u.createdAt ?? nowIso(), u.kind ?? 'turn',
      u.provider ?? null, u.source ?? null,
    );
  }

  async lastUsage(conversationId = DEFAULT_CONVERSATION): Promise<StoredUsage | undefined> {
    const r = this.sql("SELECT * FROM llm_usage WHERE conversation_id = ? AND kind = 'turn' ORDER BY id DESC LIMIT 1").get(conversationId) as Row | undefined;
    if (!r) return undefined;
    return {
      id: Number(r.id), conversationId: r.conversation_id, model: r.model, inputTokens: Number(r.input_tokens), cacheReadTokens: Number(r.cache_read_tokens),
      cacheWriteTokens: Number(r.cache_write_tokens), outputTokens: Number(r.output_tokens), requestTokens: Number(r.request_tokens),
      lastMessageId: r.last_message_id === null ? null : Number(r.last_message_id), createdAt: r.created_at, kind: r.kind,
      provider: r.provider ?? null, source: r.source ?? null,
    };
  }

  async usageTotals(conversationId = DEFAULT_CONVERSATION) {
    const r = this.sql(`SELECT COUNT(*) AS calls, COALESCE(SUM(input_tokens),0) AS i, COALESCE(SUM(cache_read_tokens),0) AS cr,
      COALESCE(SUM(cache_write_tokens),0) AS cw, COALESCE(SUM(output_tokens),0) AS o FROM llm_usage WHERE conversation_id = ?`).get(conversationId) as Row;
    return { calls: Number(r.calls), inputTokens: Number(r.i), cacheReadTokens: Number(r.cr), cacheWriteTokens: Number(r.cw), outputTokens: Number(r.o) };
  }

  async usageSummary(options: UsageRange): Promise<UsageGroup[]> {
    const { where, params } = usageSummaryRange(options, () => '?');
    return toUsageGroups(this.sql(usageSummarySql(where)).all(...params) as Row[]);
  }

  // ---- meta

  async getMeta(key: string): Promise<string | undefined> {
    const row = this.sql('SELECT value FROM meta WHERE key = ?').get(key) as Row | undefined;
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.sql('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  async deleteMeta(key: string): Promise<void> {
    this.sql('DELETE FROM meta WHERE key = ?').run(key);
  }

  async claimMeta(key: string, value: string): Promise<boolean> {
    return Number(this.sql('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING').run(key, value).changes) === 1;
  }

  // ---- import

  async importBatch(batch: ImportBatch): Promise<ImportResult> {
    return this.transaction(() => {
      const result: ImportResult = { messagesAdded: 0, summariesAdded: 0, passagesAdded: 0, skippedExisting: 0 };
      const exists = (table: string, ref: string | null | undefined) =>
        ref != null && this.sql(`SELECT 1 FROM ${table} WHERE source_ref = ?`).get(ref) !== undefined;
      for (const s of batch.summaries ?? []) {
        if (exists('summaries', s.sourceRef)) { result.skippedExisting++; continue; }
        this.insertSummary(s); result.summariesAdded++;
      }
      for (const m of batch.messages ?? []) {
        if (exists('messages', m.sourceRef)) { result.skippedExisting++; continue; }
        this.insertMessage(m); result.messagesAdded++;
      }
      for (const p of batch.passages ?? []) {
        if (exists('archival_passages', p.sourceRef)) { result.skippedExisting++; continue; }
        this.insertPassageSync(p); result.passagesAdded++;
      }
      return result;
    });
  }

  async counts(): Promise<StoreCounts> {
    const one = (sql: string) => Number((this.sql(sql).get() as Row).n);
    return {
      blocks: one('SELECT COUNT(*) AS n FROM memory_blocks'),
      messages: one('SELECT COUNT(*) AS n FROM messages'),
      compactedMessages: one('SELECT COUNT(*) AS n FROM messages WHERE compacted_by IS NOT NULL'),
      summaries: one('SELECT COUNT(*) AS n FROM summaries'),
      passages: one('SELECT COUNT(*) AS n FROM archival_passages'),
    };
  }

  async close(): Promise<void> {
    this.toolState.close();
    if (this.db.isOpen) this.db.close();
  }
}

