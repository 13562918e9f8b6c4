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
  type BlockVersion, type ImportBatch, type ImportResult, type MemoryBlock, type MemoryStore, type MessageSearchOptions,
  type NewMessage, type NewPassage, type NewSummary, type Passage, type PassageHit, type SearchHit, type StoreCounts,
  type StoredMessage, type StoredUsage, type Summary, type UsageRecord,
} from '../store.ts';
import { toBlock, toMessage, toPassage, toSummary } from '../row-mappers.ts';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './schema.ts';
import { ftsQuery } from './fts-query.ts';

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
  private readonly statements = new Map<string, StatementSync>();

  constructor(path: string) {
    this.path = path;
    this.db = openSqliteDatabase(path);
    migrateSqlite(this.db);
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

  async recentMessages(limit: number, conversationId = DEFAULT_CONVERSATION): Promise<StoredMessage[]> {
    return (this.sql('SELECT * FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?').all(conversationId, limit) as Row[]).map(toMessage);
  }

  async searchMessages(query: string, options: MessageSearchOptions = {}): Promise<SearchHit[]> {
    const hits = this.searchMessagesWith(ftsQuery(query, 'all'), options);
    return hits.length > 0 ? hits : this.searchMessagesWith(ftsQuery(query, 'any'), options);
  }

  private searchMessagesWith(match: string | undefined, options: MessageSearchOptions): SearchHit[] {
    if (!match) return [];
    const where = ['messages_fts MATCH ?', 'm.conversation_id = ?'];
    const params: Array<string | number> = [match, options.conversationId ?? DEFAULT_CONVERSATION];
    if (options.roles && options.roles.length > 0) {
      where.push(`m.role IN (${options.roles.map(() => '?').join(', ')})`);
      params.push(...options.roles);
    }
    if (options.startDate) { where.push('m.created_at >= ?'); params.push(options.startDate); }
    if (options.endDate) { where.push('m.created_at <= ?'); params.push(options.endDate); }
    params.push(options.limit ?? 10);
    const rows = this.db.prepare(`SELECT m.id, m.role, m.content, m.created_at, m.compacted_by, bm25(messages_fts) AS rank
      FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
      WHERE ${where.join(' AND ')} ORDER BY rank LIMIT ?`).all(...params) as Row[];
    return rows.map((r) => ({ id: Number(r.id), role: r.role, content: r.content, createdAt: r.created_at, score: -Number(r.rank), compacted: r.compacted_by !== null }));
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
    const run = (match: string | undefined): PassageHit[] => {
      if (!match) return [];
      const rows = this.db.prepare(`SELECT p.*, bm25(archival_passages_fts) AS rank FROM archival_passages_fts
        JOIN archival_passages p ON p.id = archival_passages_fts.rowid WHERE archival_passages_fts MATCH ? ORDER BY rank`).all(match) as Row[];
      const wanted = options.tags ?? [];
      return rows.map((r) => ({ ...toPassage(r), score: -Number(r.rank) }))
        .filter((p) => wanted.every((tag) => p.tags.includes(tag)))
        .slice(0, options.limit ?? 10);
    };
    const hits = run(ftsQuery(query, 'all'));
    return hits.length > 0 ? hits : run(ftsQuery(query, 'any'));
  }

  async listPassages(): Promise<Passage[]> {
    return (this.sql('SELECT * FROM archival_passages ORDER BY id').all() as Row[]).map(toPassage);
  }

  // ---- usage

  async recordUsage(u: UsageRecord): Promise<void> {
    this.sql(`INSERT INTO llm_usage(conversation_id, model, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, request_tokens, last_message_id, created_at, kind)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      u.conversationId ?? DEFAULT_CONVERSATION, u.model, u.inputTokens, u.cacheReadTokens, u.cacheWriteTokens, u.outputTokens,
      u.requestTokens ?? u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens, u.lastMessageId ?? null, u.createdAt ?? nowIso(), u.kind ?? 'turn',
    );
  }

  async lastUsage(conversationId = DEFAULT_CONVERSATION): Promise<StoredUsage | undefined> {
    const r = this.sql("SELECT * FROM llm_usage WHERE conversation_id = ? AND kind = 'turn' ORDER BY id DESC LIMIT 1").get(conversationId) as Row | undefined;
    if (!r) return undefined;
    return {
      id: Number(r.id), conversationId: r.conversation_id, model: r.model, inputTokens: Number(r.input_tokens), cacheReadTokens: Number(r.cache_read_tokens),
      cacheWriteTokens: Number(r.cache_write_tokens), outputTokens: Number(r.output_tokens), requestTokens: Number(r.request_tokens),
      lastMessageId: r.last_message_id === null ? null : Number(r.last_message_id), createdAt: r.created_at, kind: r.kind,
    };
  }

  async usageTotals(conversationId = DEFAULT_CONVERSATION) {
    const r = this.sql(`SELECT COUNT(*) AS calls, COALESCE(SUM(input_tokens),0) AS i, COALESCE(SUM(cache_read_tokens),0) AS cr,
      COALESCE(SUM(cache_write_tokens),0) AS cw, COALESCE(SUM(output_tokens),0) AS o FROM llm_usage WHERE conversation_id = ?`).get(conversationId) as Row;
    return { calls: Number(r.calls), inputTokens: Number(r.i), cacheReadTokens: Number(r.cr), cacheWriteTokens: Number(r.cw), outputTokens: Number(r.o) };
  }

  // ---- meta

  async getMeta(key: string): Promise<string | undefined> {
    const row = this.sql('SELECT value FROM meta WHERE key = ?').get(key) as Row | undefined;
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.sql('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
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
    if (this.db.isOpen) this.db.close();
  }
}

