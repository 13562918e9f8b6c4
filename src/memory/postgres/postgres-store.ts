// The PostgreSQL memory store, for several agents or workers on one managed database.
// Same interface and behaviour as the SQLite store: messages are never deleted, every
// multi-row write is one transaction; keyword recall is PostgreSQL text search made to rank like
// SQLite's FTS5 (see recallKeyword). Several workers coordinate per conversation
// with advisory locks (withConversationLock) and sourceRef uniqueness (never a row twice).
import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import { LaresError } from '../../errors.ts';
import { blocksToText } from '../../llm/content.ts';
import { nowIso } from '../../time.ts';
import {
  DEFAULT_CONVERSATION,
  type BlockVersion, type ImportBatch, type ImportResult, type MemoryBlock, type MemoryStore, type MessageSearchOptions,
  type NewMessage, type NewPassage, type NewSummary, type NewVector, type Passage, type PassageHit, type PendingDoc, type RankedId,
  type RecallFilters, type RecallKind, type RecallStats, type SearchHit, type StoreCounts, type StoredMessage, type StoredUsage,
  type Summary, type UsageGroup, type UsageRange, type UsageRecord, type VectorRow,
} from '../store.ts';
import { toBlock, toMessage, toPassage, toSummary, toUsageGroups, usageSummaryRange, usageSummarySql } from '../row-mappers.ts';
import { withConversationLock } from './conversation-lock.ts';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from './schema.ts';
import { withTransaction } from './transaction.ts';
import { PostgresToolState } from './tool-state.ts';
import { RECALL_KINDS, RECALL_SIDE_TABLES, RECALL_TOTALS_FROM_INDEX, recallBackfill } from './recall-schema.ts';
import { queryTerms } from '../../recall/query-terms.ts';
import { CONTEXT_WEIGHT } from '../../recall/settings.ts';

type Row = Record<string, any>;
type Queryable = Pick<PoolClient, 'query'>;

/** Lock id that serialises schema migrations of concurrent starters. */
const MIGRATION_LOCK = 0x4c415246;
/** Rows per INSERT when appending many messages at once (8 parameters each, far below the 65535 limit). */
const APPEND_CHUNK = 1000;

const MESSAGE_COLUMNS = 'id, conversation_id, role, content, blocks_json, created_at, token_count, compacted_by, source_ref, metadata_json';
const PASSAGE_COLUMNS = 'id, text, tags, created_at, source_ref';

/** Each kind's document table, its keyword side table (recall-schema.ts), and when a row `r` of it matches a tsquery. */
const RECALL_TABLES: Record<RecallKind | 'session', { docs: string; fts: string; matches: (query: string) => string }> = {
  // either column, each in the GIN index (cheaper to test than their concatenation)
  message: { docs: 'messages', fts: 'message_recall_fts', matches: (query) => `(r.body @@ ${query} OR r.context @@ ${query})` },
  summary: { docs: 'summaries', fts: 'summary_recall_fts', matches: (query) => `r.body @@ ${query}` },
  passage: { docs: 'archival_passages', fts: 'passage_recall_fts', matches: (query) => `r.body @@ ${query}` },
  // a whole session, named by its first message
  session: { docs: 'messages', fts: 'session_recall_fts', matches: (query) => `r.body @@ ${query}` },
};

/** FTS5's bm25() constants (fixed in SQLite's fts5_aux.c). */
const BM25_K1 = 1.2;
const BM25_B = 0.75;

/** A bytea as a plain Uint8Array of its own (as node:sqlite returns BLOBs), not a Buffer over a shared pool. */
const bytes = (value: Buffer): Uint8Array => new Uint8Array(value);

/** Hides the password of a postgres:// URL for messages. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/(postgres(?:ql)?:\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

export async function migratePostgres(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS lares_schema_migrations (
        version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`);
      const current = await postgresSchemaVersion(client);
      if (current > POSTGRES_SCHEMA_VERSION) {
        throw new LaresError('STORE_ERROR', `the database has schema version ${current}, newer than this Lares understands (${POSTGRES_SCHEMA_VERSION}). Update Lares.`);
      }
      for (let version = current; version < POSTGRES_SCHEMA_VERSION; version++) {
        await client.query('BEGIN');
        try {
          await client.query(POSTGRES_MIGRATIONS[version]);
          await client.query('INSERT INTO lares_schema_migrations(version, applied_at) VALUES ($1, $2)', [version + 1, nowIso()]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** The schema version recorded in the database (0 when Lares never migrated it). */
export async function postgresSchemaVersion(db: Queryable): Promise<number> {
  const exists = await db.query("SELECT to_regclass('lares_schema_migrations') IS NOT NULL AS present");
  if (!exists.rows[0].present) return 0;
  const result = await db.query('SELECT COALESCE(MAX(version), 0) AS version FROM lares_schema_migrations');
  return Number(result.rows[0].version);
}

export async function openPostgresStore(url: string, options: { max?: number } = {}): Promise<PostgresStore> {
  // a server that does not answer (a black-holed address) fails in seconds, not at the OS's connect timeout
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, connectionTimeoutMillis: 10_000 });
  // an idle connection that the server drops must not crash the process
  pool.on('error', () => {});
  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end().catch(() => {});
    if (error instanceof LaresError) throw error;
    throw new LaresError('STORE_ERROR', `cannot open the PostgreSQL database at ${redactDatabaseUrl(url)}: ${(error as Error).message}. Check DATABASE_URL and that the server is running.`, { cause: error });
  }
  return new PostgresStore(pool);
}

/** Ids read per query when a whole range of them is asked for. */
const ID_PAGE = 5000;

export class PostgresStore implements MemoryStore {
  readonly kind = 'postgres' as const;
  readonly pool: Pool;
  /**
   * Connections that hold (or wait for) conversation locks, apart from the query pool: a turn
   * holds its lock while it queries, and must never wait for a connection its own lock occupies.
   */
  private lockPool: Pool | undefined;
  readonly toolState: PostgresToolState;

  constructor(pool: Pool) {
    this.pool = pool;
    this.toolState = new PostgresToolState(pool);
  }

  private transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, fn);
  }


  /**
   * Runs fn while holding this conversation's advisory lock: several workers on one database
   * never run two turns of one conversation at once. Waits for a worker that holds it.
   */
  withConversationLock<T>(conversationId: string, fn: () => Promise<T>): Promise<T> {
    if (!this.lockPool) {
      this.lockPool = new pg.Pool({ ...this.pool.options, max: 100 });
      this.lockPool.on('error', () => {});
    }
    return withConversationLock(this.lockPool, conversationId, fn);
  }

  // ---- memory blocks

  async listBlocks(): Promise<MemoryBlock[]> {
    return (await this.pool.query('SELECT * FROM memory_blocks ORDER BY position')).rows.map(toBlock);
  }

  async getBlock(label: string): Promise<MemoryBlock | undefined> {
    const row = (await this.pool.query('SELECT * FROM memory_blocks WHERE label = $1', [label])).rows[0];
    return row ? toBlock(row) : undefined;
  }

  async putBlock(block: Omit<MemoryBlock, 'updatedAt'> & { updatedAt?: string }, actor: string): Promise<MemoryBlock> {
    const updatedAt = block.updatedAt ?? nowIso();
    const row = await this.transaction(async (client) => {
      const result = await client.query(`INSERT INTO memory_blocks(label, content, description, char_limit, read_only, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (label) DO UPDATE SET content = excluded.content, description = excluded.description,
          char_limit = excluded.char_limit, read_only = excluded.read_only, updated_at = excluded.updated_at
        RETURNING *`, [block.label, block.content, block.description, block.charLimit, block.readOnly, updatedAt]);
      await client.query('INSERT INTO memory_block_history(label, content, actor, created_at) VALUES ($1, $2, $3, $4)', [block.label, block.content, actor, updatedAt]);
      return result.rows[0];
    });
    return toBlock(row);
  }

  async setBlockContent(label: string, content: string, actor: string): Promise<MemoryBlock> {
    const updatedAt = nowIso();
    const row = await this.transaction(async (client) => {
      const result = await client.query('UPDATE memory_blocks SET content = $1, updated_at = $2 WHERE label = $3 RETURNING *', [content, updatedAt, label]);
      if (result.rowCount === 0) throw new LaresError('MEMORY_TOOL_ERROR', `there is no memory block labelled "${label}"`);
      await client.query('INSERT INTO memory_block_history(label, content, actor, created_at) VALUES ($1, $2, $3, $4)', [label, content, actor, updatedAt]);
      return result.rows[0];
    });
    return toBlock(row);
  }

  async blockHistory(label: string): Promise<BlockVersion[]> {
    const rows = (await this.pool.query('SELECT * FROM memory_block_history WHERE label = $1 ORDER BY id', [label])).rows;
    return rows.map((r) => ({ id: Number(r.id), label: r.label, content: r.content, actor: r.actor, createdAt: r.created_at }));
  }

  // ---- messages

  async appendMessages(messages: NewMessage[]): Promise<StoredMessage[]> {
    if (messages.length === 0) return [];
    const rows = await this.transaction(async (client) => {
      const stored: Row[] = [];
      for (let start = 0; start < messages.length; start += APPEND_CHUNK) {
        stored.push(...await insertMessages(client, messages.slice(start, start + APPEND_CHUNK), false));
      }
      return stored;
    });
    // one INSERT assigns ids in the order of its VALUES rows
    return rows.map(toMessage).sort((a, b) => a.id - b.id);
  }

  async getMessage(id: number): Promise<StoredMessage | undefined> {
    const row = (await this.pool.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = $1`, [id])).rows[0];
    return row ? toMessage(row) : undefined;
  }

  async uncompactedMessages(conversationId = DEFAULT_CONVERSATION): Promise<StoredMessage[]> {
    const result = await this.pool.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND compacted_by IS NULL ORDER BY id`, [conversationId]);
    return result.rows.map(toMessage);
  }

  async messagesInRange(startId: number, endId: number, conversationId = DEFAULT_CONVERSATION): Promise<StoredMessage[]> {
    const result = await this.pool.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND id BETWEEN $2 AND $3 ORDER BY id`, [conversationId, startId, endId]);
    return result.rows.map(toMessage);
  }

  async uncompactedIdsInRange(startId: number, endId: number, conversationId = DEFAULT_CONVERSATION, sourceRefPrefix?: string): Promise<number[]> {
    // a page at a time: a range can hold most of a long history, and a row object weighs far more than its id
    const ids: number[] = [];
    for (let after = startId - 1; ;) {
      const result = sourceRefPrefix === undefined
        ? await this.pool.query('SELECT id FROM messages WHERE conversation_id = $1 AND id > $2 AND id <= $3 AND compacted_by IS NULL ORDER BY id LIMIT $4', [conversationId, after, endId, ID_PAGE])
        : await this.pool.query('SELECT id FROM messages WHERE conversation_id = $1 AND id > $2 AND id <= $3 AND compacted_by IS NULL AND left(source_ref, $4) = $5 ORDER BY id LIMIT $6',
          [conversationId, after, endId, sourceRefPrefix.length, sourceRefPrefix, ID_PAGE]);
      for (const row of result.rows as Array<{ id: string | number }>) ids.push(Number(row.id));
      if (result.rows.length < ID_PAGE) return ids;
      after = ids[ids.length - 1];
    }
  }

  async recentMessages(limit: number, conversationId = DEFAULT_CONVERSATION): Promise<StoredMessage[]> {
    const result = await this.pool.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2`, [conversationId, limit]);
    return result.rows.map(toMessage);
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
    const row = (await this.pool.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE source_ref = $1`, [sourceRef])).rows[0];
    return row ? toMessage(row) : undefined;
  }

  async setMessageTokenCount(id: number, tokenCount: number): Promise<void> {
    await this.pool.query('UPDATE messages SET token_count = $1 WHERE id = $2', [tokenCount, id]);
  }

  // ---- summaries

  async compact(summary: NewSummary, messageIds: number[]): Promise<Summary> {
    const row = await this.transaction(async (client) => {
      const inserted = await insertSummary(client, summary, false);
      await client.query('UPDATE messages SET compacted_by = $1 WHERE id = ANY($2::bigint[]) AND compacted_by IS NULL', [inserted!.id, messageIds]);
      return inserted!;
    });
    return toSummary(row);
  }

  async latestSummary(conversationId = DEFAULT_CONVERSATION): Promise<Summary | undefined> {
    const row = (await this.pool.query('SELECT * FROM summaries WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1', [conversationId])).rows[0];
    return row ? toSummary(row) : undefined;
  }

  async listSummaries(conversationId = DEFAULT_CONVERSATION): Promise<Summary[]> {
    return (await this.pool.query('SELECT * FROM summaries WHERE conversation_id = $1 ORDER BY id', [conversationId])).rows.map(toSummary);
  }

  // ---- archival memory

  async insertPassage(passage: NewPassage): Promise<Passage> {
    return toPassage((await insertPassage(this.pool, passage, false))!);
  }

  async searchPassages(query: string, options: { tags?: string[]; limit?: number } = {}): Promise<PassageHit[]> {
    const ranked = await this.recallKeyword('passage', queryTerms(query), { tags: options.tags }, options.limit ?? 10);
    const byId = new Map((await this.passagesByIds(ranked.map((r) => r.id))).map((p) => [p.id, p]));
    return ranked.filter((r) => byId.has(r.id)).map((r) => ({ ...byId.get(r.id)!, score: r.score }));
  }

  async listPassages(): Promise<Passage[]> {
    return (await this.pool.query(`SELECT ${PASSAGE_COLUMNS} FROM archival_passages ORDER BY id`)).rows.map(toPassage);
  }

  async deletePassage(id: number): Promise<boolean> {
    return this.transaction(async (client) => {
      // the keyword side table follows by ON DELETE CASCADE; vectors have no foreign key
      await client.query(`DELETE FROM recall_vectors WHERE kind = 'passage' AND id = $1`, [id]);
      return (await client.query('DELETE FROM archival_passages WHERE id = $1', [id])).rowCount === 1;
    });
  }

  // ---- by id

  async messagesByIds(ids: number[]): Promise<StoredMessage[]> {
    return this.byIds(ids, `SELECT ${MESSAGE_COLUMNS} FROM messages`, toMessage);
  }

  async summariesByIds(ids: number[]): Promise<Summary[]> {
    return this.byIds(ids, 'SELECT * FROM summaries', toSummary);
  }

  async passagesByIds(ids: number[]): Promise<Passage[]> {
    return this.byIds(ids, `SELECT ${PASSAGE_COLUMNS} FROM archival_passages`, toPassage);
  }

  private async byIds<T extends { id: number }>(ids: number[], select: string, map: (row: Row) => T): Promise<T[]> {
    if (ids.length === 0) return [];
    const rows = (await this.pool.query(`${select} WHERE id = ANY($1::bigint[])`, [ids])).rows.map(map);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id)).filter((r): r is T => r !== undefined);
  }

  // ---- recall index

  /** SQL that keeps only the documents the filters allow; `d` is the document table (or a side table). Appends its parameters. */
  private recallWhere(kind: RecallKind | 'session', filters: RecallFilters, params: unknown[], d = 'd'): string[] {
    const param = (value: unknown) => { params.push(value); return `$${params.length}`; };
    const where: string[] = [];
    if (kind !== 'passage' && filters.conversationId !== '*') where.push(`${d}.conversation_id = ${param(filters.conversationId ?? DEFAULT_CONVERSATION)}`);
    if (kind === 'message' && filters.roles && filters.roles.length > 0) where.push(`${d}.role = ANY(${param(filters.roles)}::text[])`);
    // a session is found by its conversation only (as in SQLite)
    if (filters.startDate && kind !== 'session') where.push(`${d}.created_at >= ${param(filters.startDate)}`);
    if (filters.endDate && kind !== 'session') where.push(`${d}.created_at <= ${param(filters.endDate)}`);
    if (kind === 'passage' && filters.tags && filters.tags.length > 0) where.push(`${d}.tags::jsonb @> ${param(JSON.stringify(filters.tags))}::jsonb`);
    return where;
  }

  /**
   * FTS5's bm25() (fts5_aux.c) computed in SQL over the same statistics, so that both stores rank
   * alike: N and the average length over every document of the kind (recall_totals), a term's
   * IDF = ln((N - n + 0.5) / (n + 0.5)) (1e-6 when not positive) with n = the documents holding
   * it, its frequency = 1 per occurrence in the text then CONTEXT_WEIGHT per occurrence in the
   * context, k1 = 1.2, b = 0.75, a document's length = all its words, context included; the
   * terms' scores are added in their order, the same floating-point operations as FTS5's; equal
   * scores rank the older document first, as FTS5 returns them.
   * One pass over the GIN index finds every document holding a term (each term's n; the rows
   * the filters keep are the candidates); each candidate's frequencies come from its tsvectors.
   * What differs from SQLite is the text analysis (recall-schema.ts), not the arithmetic; a term
   * that PostgreSQL splits in several words (rare: "5e3x") is a phrase, as in FTS5, but counts
   * as often as its rarest word.
   */
  async recallKeyword(kind: RecallKind, terms: string[], filters: RecallFilters, limit: number): Promise<RankedId[]> {
    return this.keywordRanking(kind, terms, filters, limit);
  }

  async recallTermCounts(kind: RecallKind, terms: string[], cap: number): Promise<number[]> {
    if (terms.length === 0) return [];
    const { fts, matches } = RECALL_TABLES[kind];
    const params: unknown[] = [Math.max(0, Math.floor(cap))];
    // a term without a letter or digit holds no word: none hold it
    const counts = terms.map((term) => {
      if (!/[\p{L}\p{N}]/u.test(term)) return '0';
      params.push(term);
      return `(SELECT COUNT(*) FROM (SELECT 1 FROM ${fts} r WHERE ${matches(`lares_recall_query($${params.length})`)} LIMIT $1) x)`;
    });
    const row = (await this.pool.query(`SELECT ARRAY[${counts.join(', ')}]::bigint[] AS n`, params)).rows[0];
    return (row.n as string[]).map(Number);
  }

  /** The same BM25 over whole sessions (one column, the text of all their messages). */
  async recallSessionKeyword(terms: string[], filters: RecallFilters, limit: number): Promise<RankedId[]> {
    return this.keywordRanking('session', terms, filters, limit);
  }

  async recallSessionsOf(messageIds: number[]): Promise<Map<number, number>> {
    if (messageIds.length === 0) return new Map();
    const result = await this.pool.query('SELECT message_id, session_id FROM recall_sessions WHERE message_id = ANY($1::bigint[])', [messageIds]);
    return new Map(result.rows.map((r) => [Number(r.message_id), Number(r.session_id)]));
  }

  private async keywordRanking(kind: RecallKind | 'session', terms: string[], filters: RecallFilters, limit: number): Promise<RankedId[]> {
    // a term without a letter or digit holds no word (FTS5 matches nothing for it either)
    const words = terms.filter((term) => /[\p{L}\p{N}]/u.test(term));
    if (words.length === 0) return [];
    const { fts, matches } = RECALL_TABLES[kind];
    const params: unknown[] = [kind, limit];
    const param = (value: unknown) => { params.push(value); return `$${params.length}`; };
    // one parameter per term, so that its query is a constant the planner sees
    const queries = words.map((word) => `lares_recall_query(${param(word)})`);
    const where = this.recallWhere(kind, filters, params, 'r');
    const kept = where.length > 0 ? where.join(' AND ') : 'TRUE';
    const message = kind === 'message';
    // a column of a candidate cut down to the query's words (their positions give their frequencies)
    const allLexemes = `(${words.map((_, i) => `lares_recall_lexemes($${i + 3})`).join(' || ')})`;
    const queryWords = (column: string) => `CASE WHEN ${kept} THEN ts_filter(setweight(r.${column}, 'A', ${allLexemes}), '{a}') END AS ${column}`;
    const occurrences = (column: string, col: number) => `SELECT h.id, h.len, ${col}, x.lexeme, array_length(x.positions, 1) FROM hits h, unnest(h.${column}) x`;
    const [k1, b, contextWeight] = [BM25_K1, BM25_B, CONTEXT_WEIGHT].map((n) => `${Number(n)}::float8`);
    const rows = (await this.pool.query(`WITH
      terms(i, lexemes) AS MATERIALIZED (VALUES ${words.map((_, i) => `(${i + 1}, lares_recall_lexemes($${i + 3}))`).join(', ')}),
      matched AS MATERIALIZED (
        SELECT r.id, r.tokens::float8 AS len, ARRAY[${queries.map(matches).join(', ')}] AS has, (${kept}) AS kept,
          ${queryWords('body')}${message ? `, ${queryWords('context')}` : ''}
        FROM ${fts} r WHERE ${matches(`(${queries.join(' || ')})`)}),
      totals AS (SELECT docs::float8 AS docs, tokens::float8 / GREATEST(docs, 1)::float8 AS avgdl FROM recall_totals WHERE kind = $1),
      holding(n) AS MATERIALIZED (SELECT ARRAY[${words.map((_, i) => `COUNT(*) FILTER (WHERE has[${i + 1}])`).join(', ')}] FROM matched),
      weights AS MATERIALIZED (
        SELECT t.i, t.lexemes, CASE WHEN x.idf > 0 THEN x.idf ELSE 1e-6::float8 END AS idf
        FROM terms t, holding h, totals s, LATERAL (SELECT ln((s.docs - h.n[t.i] + 0.5::float8) / (h.n[t.i] + 0.5::float8)) AS idf) x
        WHERE cardinality(t.lexemes) > 0 AND h.n[t.i] > 0),
      hits AS (SELECT id, len, body${message ? ', context' : ''} FROM matched WHERE kept),
      found(id, len, col, lexeme, tf) AS (${occurrences('body', 1)}${message ? ` UNION ALL ${occurrences('context', 2)}` : ''}),
      term_lexemes AS (SELECT w.i, w.idf, l.lexeme, cardinality(w.lexemes) AS k FROM weights w, unnest(w.lexemes) AS l(lexeme)),
      per_column AS (
        SELECT f.id, f.len, t.i, t.idf, f.col, CASE WHEN COUNT(*) = t.k THEN MIN(f.tf) ELSE 0 END AS tf
        FROM found f JOIN term_lexemes t ON t.lexeme = f.lexeme
        GROUP BY f.id, f.len, t.i, t.idf, f.col, t.k),
      per_term AS (
        SELECT id, len, i, idf, COALESCE(SUM(tf) FILTER (WHERE col = 1), 0) AS in_body, COALESCE(SUM(tf) FILTER (WHERE col = 2), 0) AS in_context
        FROM per_column GROUP BY id, len, i, idf),
      scored AS MATERIALIZED (
        -- a term's frequency as FTS5 adds it up: 1.0 per occurrence in the text, then the context's weight per occurrence there
        SELECT p.id, p.len, p.i, p.idf, CASE WHEN p.in_context = 0 THEN p.in_body::float8 ELSE (SELECT SUM(v ORDER BY k)
          FROM (SELECT 0 AS k, p.in_body::float8 AS v UNION ALL SELECT k, ${contextWeight} FROM generate_series(1, p.in_context::int) k) o) END AS freq
        FROM per_term p)
      SELECT p.id, SUM(p.idf * ((p.freq * (${k1} + 1.0::float8)) / (p.freq + ${k1} * (1::float8 - ${b} + ${b} * p.len / s.avgdl))) ORDER BY p.i) AS score
      FROM scored p, totals s WHERE p.freq > 0
      GROUP BY p.id ORDER BY score DESC, p.id LIMIT $2`, params)).rows;
    return rows.map((r) => ({ id: Number(r.id), score: Number(r.score) }));
  }

  async recallVectors(kind: RecallKind, model: string, filters: RecallFilters, clusters?: number[], page?: { afterId: number; limit: number }): Promise<VectorRow[]> {
    const params: unknown[] = [kind, model];
    const where = ['v.kind = $1', 'v.model = $2'];
    // the clusters asked for, and -1: vectors not in a cluster yet
    if (clusters) { params.push([-1, ...clusters.map((c) => Math.trunc(c))]); where.push(`v.cluster = ANY($${params.length}::int[])`); }
    // the vector's own conversation; the document table is read only for filters the vector table cannot answer
    if (kind !== 'passage' && filters.conversationId !== '*') { params.push(filters.conversationId ?? DEFAULT_CONVERSATION); where.push(`v.conversation_id = $${params.length}`); }
    if (page) { params.push(page.afterId); where.push(`v.id > $${params.length}`); }
    const more = filters.roles?.length || filters.startDate || filters.endDate || (kind === 'passage' && filters.tags?.length);
    if (more) where.push(...this.recallWhere(kind, { ...filters, conversationId: '*' }, params));
    if (page) params.push(Math.floor(page.limit));
    const result = await this.pool.query(`SELECT v.id, v.vector FROM recall_vectors v${more ? ` JOIN ${RECALL_TABLES[kind].docs} d ON d.id = v.id` : ''}
      WHERE ${where.join(' AND ')}${page ? ` ORDER BY v.id LIMIT $${params.length}` : ''}`, params);
    return result.rows.map((r) => ({ id: Number(r.id), vector: bytes(r.vector) }));
  }

  async recallPending(kind: RecallKind, model: string, limit: number, afterId = 0): Promise<PendingDoc[]> {
    const source = {
      message: 'SELECT id, content AS text, conversation_id FROM messages',
      summary: 'SELECT id, summary AS text, conversation_id FROM summaries',
      passage: 'SELECT id, text, NULL::text AS conversation_id FROM archival_passages',
    }[kind];
    const result = await this.pool.query(`SELECT d.* FROM (${source}) d LEFT JOIN recall_vectors v ON v.kind = $1 AND v.id = d.id
      WHERE (v.id IS NULL OR v.model <> $2) AND d.id > $3 ORDER BY d.id LIMIT $4`, [kind, model, afterId, limit]);
    return result.rows.map((r) => ({ id: Number(r.id), text: r.text, conversationId: r.conversation_id ?? null }));
  }

  async putRecallVectors(kind: RecallKind, model: string, rows: NewVector[]): Promise<void> {
    // one row per id, the last given winning (as when written one by one)
    const unique = [...new Map(rows.map((row) => [row.id, row])).values()];
    if (unique.length === 0) return;
    await this.pool.query(`INSERT INTO recall_vectors(kind, id, model, cluster, conversation_id, vector)
      SELECT $1, u.id, $2, u.cluster, u.conversation_id, u.vector FROM unnest($3::bigint[], $4::int[], $5::text[], $6::bytea[]) AS u(id, cluster, conversation_id, vector)
      ON CONFLICT (kind, id) DO UPDATE SET model = excluded.model, cluster = excluded.cluster, conversation_id = excluded.conversation_id, vector = excluded.vector`,
    [kind, model, unique.map((r) => r.id), unique.map((r) => r.cluster ?? -1), unique.map((r) => r.conversationId),
      unique.map((r) => Buffer.from(r.vector.buffer, r.vector.byteOffset, r.vector.byteLength))]);
  }

  async setRecallContext(rows: Array<{ id: number; context: string; session: number }>, contextThrough: number): Promise<void> {
    // one row per message, the last given winning (as when written one by one)
    const unique = [...new Map(rows.map((row) => [row.id, row])).values()];
    await this.transaction(async (client) => {
      if (unique.length > 0) {
        const ids = unique.map((r) => r.id);
        await client.query(`UPDATE message_recall_fts r SET context = d.vector, context_tokens = d.tokens
          FROM unnest($1::bigint[], $2::text[]) AS c(id, context), lares_recall_doc(c.context) d WHERE r.id = c.id`,
        [ids, unique.map((r) => r.context)]);
        await client.query(`INSERT INTO recall_sessions(message_id, session_id) SELECT u.id, u.session FROM unnest($1::bigint[], $2::bigint[]) AS u(id, session)
          ON CONFLICT (message_id) DO UPDATE SET session_id = excluded.session_id`, [ids, unique.map((r) => r.session)]);
        // the named sessions' documents again, from all their messages (in id order, as SQLite joins them)
        const sessions = [...new Set(unique.map((r) => r.session))];
        await client.query('DELETE FROM session_recall_fts WHERE id = ANY($1::bigint[])', [sessions]);
        await client.query(`INSERT INTO session_recall_fts(id, conversation_id, body, body_tokens)
          SELECT t.session_id, COALESCE(f.conversation_id, ''), d.vector, d.tokens
          FROM (SELECT s.session_id, string_agg(m.content, E'\n' ORDER BY m.id) AS text FROM recall_sessions s JOIN messages m ON m.id = s.message_id
            WHERE s.session_id = ANY($1::bigint[]) GROUP BY s.session_id) t
          LEFT JOIN messages f ON f.id = t.session_id, lares_recall_doc(t.text) d`, [sessions]);
      }
      await client.query(`INSERT INTO meta(key, value) VALUES ('recall_context_through', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [String(contextThrough)]);
    });
  }

  async recallStats(model: string | undefined): Promise<RecallStats> {
    // embedded counts nothing without a model; stale then counts every vector
    const r = (await this.pool.query(`SELECT
      (SELECT COUNT(*) FROM messages) AS messages,
      (SELECT COUNT(*) FROM summaries) AS summaries,
      (SELECT COUNT(*) FROM archival_passages) AS passages,
      (SELECT COUNT(*) FROM recall_vectors WHERE model = $1) AS embedded,
      (SELECT COUNT(*) FROM recall_vectors WHERE $1::text IS NULL OR model <> $1) AS stale,
      (SELECT value FROM meta WHERE key = 'recall_context_through') AS context_through,
      (SELECT COALESCE(MAX(id), 0) FROM messages) AS last_message_id`, [model ?? null])).rows[0];
    return {
      messages: Number(r.messages), summaries: Number(r.summaries), passages: Number(r.passages),
      embedded: Number(r.embedded), stale: Number(r.stale), contextThrough: Number(r.context_through ?? 0), lastMessageId: Number(r.last_message_id),
    };
  }

  async resetRecallIndex(scope: 'keywords' | 'all'): Promise<void> {
    const tables = RECALL_SIDE_TABLES.map((k) => k.fts);
    await this.transaction(async (client) => {
      // rebuilt whole: the totals are counted once at the end rather than by the triggers
      for (const table of tables) await client.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
      await client.query(`TRUNCATE ${tables.join(', ')}, recall_sessions`);
      for (const kind of RECALL_KINDS) await client.query(recallBackfill(kind));
      await client.query(RECALL_TOTALS_FROM_INDEX);
      for (const table of tables) await client.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
      await client.query("DELETE FROM meta WHERE key = 'recall_context_through'");
      if (scope === 'all') await client.query('DELETE FROM recall_vectors; DELETE FROM recall_centroids');
    });
  }

  async recallCentroids(kind: RecallKind, model: string): Promise<Uint8Array[]> {
    const result = await this.pool.query('SELECT vector FROM recall_centroids WHERE kind = $1 AND model = $2 ORDER BY cluster', [kind, model]);
    return result.rows.map((r) => bytes(r.vector));
  }

  async setRecallCentroids(kind: RecallKind, model: string, centroids: Uint8Array[], assignments: Array<{ id: number; cluster: number }>): Promise<void> {
    const assigned = [...new Map(assignments.map((a) => [a.id, a.cluster])).entries()];
    await this.transaction(async (client) => {
      await client.query('DELETE FROM recall_centroids WHERE kind = $1 AND model = $2', [kind, model]);
      if (centroids.length > 0) {
        await client.query(`INSERT INTO recall_centroids(kind, model, cluster, vector)
          SELECT $1, $2, u.ord - 1, u.vector FROM unnest($3::bytea[]) WITH ORDINALITY AS u(vector, ord)`,
        [kind, model, centroids.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))]);
      }
      if (assigned.length > 0) {
        await client.query(`UPDATE recall_vectors v SET cluster = a.cluster FROM unnest($3::bigint[], $4::int[]) AS a(id, cluster)
          WHERE v.kind = $1 AND v.model = $2 AND v.id = a.id`, [kind, model, assigned.map(([id]) => id), assigned.map(([, cluster]) => cluster)]);
      }
    });
  }

  // ---- usage

  async recordUsage(u: UsageRecord): Promise<void> {
    await this.pool.query(`INSERT INTO llm_usage(conversation_id, model, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, request_tokens, last_message_id, created_at, kind, provider, source)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, [
      u.conversationId ?? DEFAULT_CONVERSATION, u.model, u.inputTokens, u.cacheReadTokens, u.cacheWriteTokens, u.outputTokens,
      u.requestTokens ?? u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens, u.lastMessageId ?? null, u.createdAt ?? nowIso(), u.kind ?? 'turn',
      u.provider ?? null, u.source ?? null,
    ]);
  }

  async lastUsage(conversationId = DEFAULT_CONVERSATION): Promise<StoredUsage | undefined> {
    const r = (await this.pool.query("SELECT * FROM llm_usage WHERE conversation_id = $1 AND kind = 'turn' ORDER BY id DESC LIMIT 1", [conversationId])).rows[0];
    if (!r) return undefined;
    return {
      id: Number(r.id), conversationId: r.conversation_id, model: r.model, inputTokens: Number(r.input_tokens), cacheReadTokens: Number(r.cache_read_tokens),
      cacheWriteTokens: Number(r.cache_write_tokens), outputTokens: Number(r.output_tokens), requestTokens: Number(r.request_tokens),
      lastMessageId: r.last_message_id === null ? null : Number(r.last_message_id), createdAt: r.created_at, kind: r.kind,
      provider: r.provider ?? null, source: r.source ?? null,
    };
  }

  async usageTotals(conversationId = DEFAULT_CONVERSATION) {
    const r = (await this.pool.query(`SELECT COUNT(*) AS calls, COALESCE(SUM(input_tokens),0) AS i, COALESCE(SUM(cache_read_tokens),0) AS cr,
      COALESCE(SUM(cache_write_tokens),0) AS cw, COALESCE(SUM(output_tokens),0) AS o FROM llm_usage WHERE conversation_id = $1`, [conversationId])).rows[0];
    return { calls: Number(r.calls), inputTokens: Number(r.i), cacheReadTokens: Number(r.cr), cacheWriteTokens: Number(r.cw), outputTokens: Number(r.o) };
  }

  async usageSummary(options: UsageRange): Promise<UsageGroup[]> {
    const { where, params } = usageSummaryRange(options, (n) => `$${n}`);
    return toUsageGroups((await this.pool.query(usageSummarySql(where), params)).rows);
  }

  // ---- meta

  async getMeta(key: string): Promise<string | undefined> {
    const row = (await this.pool.query('SELECT value FROM meta WHERE key = $1', [key])).rows[0];
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.pool.query('INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  async deleteMeta(key: string): Promise<void> {
    await this.pool.query('DELETE FROM meta WHERE key = $1', [key]);
  }

  async claimMeta(key: string, value: string): Promise<boolean> {
    return ((await this.pool.query('INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value])).rowCount ?? 0) === 1;
  }

  // ---- import: ON CONFLICT (source_ref) DO NOTHING, so concurrent importers never double-insert

  async importBatch(batch: ImportBatch): Promise<ImportResult> {
    return this.transaction(async (client) => {
      const result: ImportResult = { messagesAdded: 0, summariesAdded: 0, passagesAdded: 0, skippedExisting: 0 };
      for (const s of batch.summaries ?? []) {
        if (await insertSummary(client, s, true)) result.summariesAdded++; else result.skippedExisting++;
      }
      for (const m of batch.messages ?? []) {
        if ((await insertMessages(client, [m], true)).length > 0) result.messagesAdded++; else result.skippedExisting++;
      }
      for (const p of batch.passages ?? []) {
        if (await insertPassage(client, p, true)) result.passagesAdded++; else result.skippedExisting++;
      }
      return result;
    });
  }

  async counts(): Promise<StoreCounts> {
    const r = (await this.pool.query(`SELECT
      (SELECT COUNT(*) FROM memory_blocks) AS blocks,
      (SELECT COUNT(*) FROM messages) AS messages,
      (SELECT COUNT(*) FROM messages WHERE compacted_by IS NOT NULL) AS compacted,
      (SELECT COUNT(*) FROM summaries) AS summaries,
      (SELECT COUNT(*) FROM archival_passages) AS passages`)).rows[0];
    return { blocks: Number(r.blocks), messages: Number(r.messages), compactedMessages: Number(r.compacted), summaries: Number(r.summaries), passages: Number(r.passages) };
  }

  async close(): Promise<void> {
    await this.toolState.close();
    if (this.lockPool && !this.lockPool.ended) await this.lockPool.end();
    if (!this.pool.ended) await this.pool.end();
  }
}

async function insertMessages(db: Queryable, messages: NewMessage[], skipExisting: boolean): Promise<Row[]> {
  const params: unknown[] = [];
  const values = messages.map((m) => {
    const base = params.length;
    params.push(
      m.conversationId ?? DEFAULT_CONVERSATION, m.role, m.content ?? blocksToText(m.blocks), JSON.stringify(m.blocks),
      m.createdAt ?? nowIso(), m.tokenCount ?? null, m.sourceRef ?? null, m.metadata ? JSON.stringify(m.metadata) : null,
    );
    return `(${Array.from({ length: 8 }, (_, i) => `$${base + i + 1}`).join(', ')})`;
  });
  const result = await db.query(`INSERT INTO messages(conversation_id, role, content, blocks_json, created_at, token_count, source_ref, metadata_json)
    VALUES ${values.join(', ')} ${skipExisting ? 'ON CONFLICT (source_ref) DO NOTHING' : ''} RETURNING ${MESSAGE_COLUMNS}`, params);
  return result.rows;
}

async function insertSummary(db: Queryable, s: NewSummary, skipExisting: boolean): Promise<Row | undefined> {
  const result = await db.query(`INSERT INTO summaries(conversation_id, summary, start_message_id, end_message_id, token_count, created_at, source_ref)
    VALUES ($1, $2, $3, $4, $5, $6, $7) ${skipExisting ? 'ON CONFLICT (source_ref) DO NOTHING' : ''} RETURNING *`,
  [s.conversationId ?? DEFAULT_CONVERSATION, s.summary, s.startMessageId, s.endMessageId, s.tokenCount ?? null, s.createdAt ?? nowIso(), s.sourceRef ?? null]);
  return result.rows[0];
}

async function insertPassage(db: Queryable, p: NewPassage, skipExisting: boolean): Promise<Row | undefined> {
  const result = await db.query(`INSERT INTO archival_passages(text, tags, created_at, source_ref) VALUES ($1, $2, $3, $4)
    ${skipExisting ? 'ON CONFLICT (source_ref) DO NOTHING' : ''} RETURNING ${PASSAGE_COLUMNS}`,
  [p.text, JSON.stringify(p.tags ?? []), p.createdAt ?? nowIso(), p.sourceRef ?? null]);
  return result.rows[0];
}

