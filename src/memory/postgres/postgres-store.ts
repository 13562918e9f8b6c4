// The PostgreSQL memory store, for several agents or workers on one managed database.
// Same interface and behaviour as the SQLite store: messages are never deleted, every
// multi-row write is one transaction, full-text search uses PostgreSQL's own text search
// (a generated tsvector column with a GIN index). Several workers coordinate per conversation
// with advisory locks (withConversationLock) and sourceRef uniqueness (never a row twice).
import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
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
import { withConversationLock } from './conversation-lock.ts';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from './schema.ts';
import { tsQuery } from './search-query.ts';

type Row = Record<string, any>;
type Queryable = Pick<PoolClient, 'query'>;

/** Lock id that serialises schema migrations of concurrent starters. */
const MIGRATION_LOCK = 0x4c415246;
/** Rows per INSERT when appending many messages at once (8 parameters each, far below the 65535 limit). */
const APPEND_CHUNK = 1000;

const MESSAGE_COLUMNS = 'id, conversation_id, role, content, blocks_json, created_at, token_count, compacted_by, source_ref, metadata_json';

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
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
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

export class PostgresStore implements MemoryStore {
  readonly kind = 'postgres' as const;
  readonly pool: Pool;
  /**
   * Connections that hold (or wait for) conversation locks, apart from the query pool: a turn
   * holds its lock while it queries, and must never wait for a connection its own lock occupies.
   */
  private lockPool: Pool | undefined;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  private async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    } finally {
      client.release();
    }
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

  async recentMessages(limit: number, conversationId = DEFAULT_CONVERSATION): Promise<StoredMessage[]> {
    const result = await this.pool.query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2`, [conversationId, limit]);
    return result.rows.map(toMessage);
  }

  async searchMessages(query: string, options: MessageSearchOptions = {}): Promise<SearchHit[]> {
    const hits = await this.searchMessagesWith(tsQuery(query, 'all'), options);
    return hits.length > 0 ? hits : this.searchMessagesWith(tsQuery(query, 'any'), options);
  }

  private async searchMessagesWith(q: { sql: string; param: string } | undefined, options: MessageSearchOptions): Promise<SearchHit[]> {
    if (!q) return [];
    const params: unknown[] = [q.param, options.conversationId ?? DEFAULT_CONVERSATION];
    const where = ['m.content_tsv @@ q.query', 'm.conversation_id = $2'];
    if (options.roles && options.roles.length > 0) { params.push(options.roles); where.push(`m.role = ANY($${params.length}::text[])`); }
    if (options.startDate) { params.push(options.startDate); where.push(`m.created_at >= $${params.length}`); }
    if (options.endDate) { params.push(options.endDate); where.push(`m.created_at <= $${params.length}`); }
    params.push(options.limit ?? 10);
    const result = await this.pool.query(`SELECT m.id, m.role, m.content, m.created_at, m.compacted_by, ts_rank(m.content_tsv, q.query) AS rank
      FROM messages m, ${q.sql.replace('$QUERY', '$1')} AS q(query)
      WHERE ${where.join(' AND ')} ORDER BY rank DESC, m.id DESC LIMIT $${params.length}`, params);
    return result.rows.map((r) => ({ id: Number(r.id), role: r.role, content: r.content, createdAt: r.created_at, score: Number(r.rank), compacted: r.compacted_by !== null }));
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
    const run = async (q: { sql: string; param: string } | undefined): Promise<PassageHit[]> => {
      if (!q) return [];
      const result = await this.pool.query(`SELECT p.id, p.text, p.tags, p.created_at, p.source_ref, ts_rank(p.search_tsv, q.query) AS rank
        FROM archival_passages p, ${q.sql.replace('$QUERY', '$1')} AS q(query)
        WHERE p.search_tsv @@ q.query AND p.tags::jsonb @> $2::jsonb ORDER BY rank DESC, p.id DESC LIMIT $3`,
      [q.param, JSON.stringify(options.tags ?? []), options.limit ?? 10]);
      return result.rows.map((r) => ({ ...toPassage(r), score: Number(r.rank) }));
    };
    const hits = await run(tsQuery(query, 'all'));
    return hits.length > 0 ? hits : run(tsQuery(query, 'any'));
  }

  async listPassages(): Promise<Passage[]> {
    return (await this.pool.query('SELECT id, text, tags, created_at, source_ref FROM archival_passages ORDER BY id')).rows.map(toPassage);
  }

  // ---- usage

  async recordUsage(u: UsageRecord): Promise<void> {
    await this.pool.query(`INSERT INTO llm_usage(conversation_id, model, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, request_tokens, last_message_id, created_at, kind)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
      u.conversationId ?? DEFAULT_CONVERSATION, u.model, u.inputTokens, u.cacheReadTokens, u.cacheWriteTokens, u.outputTokens,
      u.requestTokens ?? u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens, u.lastMessageId ?? null, u.createdAt ?? nowIso(), u.kind ?? 'turn',
    ]);
  }

  async lastUsage(conversationId = DEFAULT_CONVERSATION): Promise<StoredUsage | undefined> {
    const r = (await this.pool.query("SELECT * FROM llm_usage WHERE conversation_id = $1 AND kind = 'turn' ORDER BY id DESC LIMIT 1", [conversationId])).rows[0];
    if (!r) return undefined;
    return {
      id: Number(r.id), conversationId: r.conversation_id, model: r.model, inputTokens: Number(r.input_tokens), cacheReadTokens: Number(r.cache_read_tokens),
      cacheWriteTokens: Number(r.cache_write_tokens), outputTokens: Number(r.output_tokens), requestTokens: Number(r.request_tokens),
      lastMessageId: r.last_message_id === null ? null : Number(r.last_message_id), createdAt: r.created_at, kind: r.kind,
    };
  }

  async usageTotals(conversationId = DEFAULT_CONVERSATION) {
    const r = (await this.pool.query(`SELECT COUNT(*) AS calls, COALESCE(SUM(input_tokens),0) AS i, COALESCE(SUM(cache_read_tokens),0) AS cr,
      COALESCE(SUM(cache_write_tokens),0) AS cw, COALESCE(SUM(output_tokens),0) AS o FROM llm_usage WHERE conversation_id = $1`, [conversationId])).rows[0];
    return { calls: Number(r.calls), inputTokens: Number(r.i), cacheReadTokens: Number(r.cr), cacheWriteTokens: Number(r.cw), outputTokens: Number(r.o) };
  }

  // ---- meta

  async getMeta(key: string): Promise<string | undefined> {
    const row = (await this.pool.query('SELECT value FROM meta WHERE key = $1', [key])).rows[0];
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.pool.query('INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
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
    ${skipExisting ? 'ON CONFLICT (source_ref) DO NOTHING' : ''} RETURNING id, text, tags, created_at, source_ref`,
  [p.text, JSON.stringify(p.tags ?? []), p.createdAt ?? nowIso(), p.sourceRef ?? null]);
  return result.rows[0];
}

