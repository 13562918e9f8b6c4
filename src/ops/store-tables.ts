// Row-level access to every table of a memory store, for export, import and `lares db copy`.
// The MemoryStore interface is per conversation and for the agent; moving a whole database
// needs every row of every table with its id, page by page (a million messages never sit in
// memory), inside one consistent snapshot, and writes with the ids kept.
import type { PoolClient } from 'pg';
import { LaresError } from '../errors.ts';
import { PostgresStore } from '../memory/postgres/postgres-store.ts';
import { POSTGRES_ID_TABLES, advanceIdSequenceSql } from '../memory/postgres/schema.ts';
import { SqliteStore } from '../memory/sqlite/sqlite-store.ts';
import type { MemoryStore } from '../memory/store.ts';

export type ColumnType = 'int' | 'text' | 'bool';
export type TableRow = Record<string, string | number | boolean | null>;

export interface TableSpec {
  name: TableName;
  /** 'id' tables are paged by id; the others are small and read whole in their natural order */
  key: 'id' | 'none';
  /** the order of a 'none' table's rows (default: as inserted) */
  order?: string;
  columns: Array<[string, ColumnType]>;
}

export type TableName = 'memory_blocks' | 'memory_block_history' | 'summaries' | 'messages' | 'archival_passages' | 'llm_usage' | 'meta'
  | 'approval_requests' | 'mcp_events' | 'mcp_jobs' | 'mcp_shell_allowlist';

/** In dependency order: messages reference summaries (compacted_by), so summaries come first. */
export const STORE_TABLES: TableSpec[] = [
  { name: 'memory_blocks', key: 'none', columns: [['label', 'text'], ['content', 'text'], ['description', 'text'], ['char_limit', 'int'], ['read_only', 'bool'], ['updated_at', 'text']] },
  { name: 'memory_block_history', key: 'id', columns: [['id', 'int'], ['label', 'text'], ['content', 'text'], ['actor', 'text'], ['created_at', 'text']] },
  { name: 'summaries', key: 'id', columns: [['id', 'int'], ['conversation_id', 'text'], ['summary', 'text'], ['start_message_id', 'int'], ['end_message_id', 'int'], ['token_count', 'int'], ['created_at', 'text'], ['source_ref', 'text']] },
  { name: 'messages', key: 'id', columns: [['id', 'int'], ['conversation_id', 'text'], ['role', 'text'], ['content', 'text'], ['blocks_json', 'text'], ['created_at', 'text'], ['token_count', 'int'], ['compacted_by', 'int'], ['source_ref', 'text'], ['metadata_json', 'text']] },
  { name: 'archival_passages', key: 'id', columns: [['id', 'int'], ['text', 'text'], ['tags', 'text'], ['created_at', 'text'], ['source_ref', 'text']] },
  { name: 'llm_usage', key: 'id', columns: [['id', 'int'], ['conversation_id', 'text'], ['model', 'text'], ['input_tokens', 'int'], ['cache_read_tokens', 'int'], ['cache_write_tokens', 'int'], ['output_tokens', 'int'], ['request_tokens', 'int'], ['last_message_id', 'int'], ['created_at', 'text'], ['kind', 'text'], ['provider', 'text'], ['source', 'text']] },
  { name: 'meta', key: 'none', columns: [['key', 'text'], ['value', 'text']] },
  // the tools' state (memory/tool-state.ts); workers and leases are live state and stay behind
  { name: 'approval_requests', key: 'none', order: 'created_at, id', columns: [['id', 'text'], ['tool', 'text'], ['args_json', 'text'], ['reason', 'text'], ['status', 'text'], ['created_at', 'text'], ['expires_at', 'text'], ['decided_at', 'text'], ['finished_at', 'text'], ['result_json', 'text'], ['error', 'text'], ['deny_reason', 'text'], ['always_allowed', 'bool']] },
  { name: 'mcp_events', key: 'id', columns: [['id', 'int'], ['type', 'text'], ['data_json', 'text'], ['created_at', 'text']] },
  { name: 'mcp_jobs', key: 'none', order: 'created_at, id', columns: [['id', 'text'], ['kind', 'text'], ['spec', 'text'], ['message', 'text'], ['next_run_at', 'text'], ['last_run_at', 'text'], ['active', 'bool'], ['created_at', 'text']] },
  { name: 'mcp_shell_allowlist', key: 'none', order: 'created_at, argv_json', columns: [['argv_json', 'text'], ['approval_id', 'text'], ['created_at', 'text']] },
];

export function tableSpec(name: TableName): TableSpec {
  return STORE_TABLES.find((t) => t.name === name)!;
}

/** A consistent read-only view of a store (one snapshot), paged by id. */
export interface TableReader {
  count(table: TableName): Promise<number>;
  /** rows with id > afterId, by id, at most limit (for 'none' tables: all rows; afterId and limit are ignored) */
  page(table: TableName, afterId: number, limit: number): Promise<TableRow[]>;
  close(): Promise<void>;
}

/** Writes rows with their ids into a store, all in one transaction. */
export interface TableWriter {
  insert(table: TableName, rows: TableRow[]): Promise<void>;
  /** commits (and, in PostgreSQL, moves id sequences past the copied ids) */
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

function normalise(spec: TableSpec, raw: Record<string, unknown>): TableRow {
  const row: TableRow = {};
  for (const [column, type] of spec.columns) {
    const value = raw[column];
    if (value === null || value === undefined) row[column] = null;
    else if (type === 'int') row[column] = Number(value);
    else if (type === 'bool') row[column] = value === true || Number(value) === 1;
    else row[column] = String(value);
  }
  return row;
}

function orderOf(store: MemoryStore, spec: TableSpec): string {
  if (spec.key === 'id') return 'id';
  if (spec.order) return spec.order;
  if (spec.name === 'meta') return 'key';
  return store.kind === 'postgres' ? 'position' : 'rowid';
}

function asKnownStore(store: MemoryStore): SqliteStore | PostgresStore {
  if (store instanceof SqliteStore || store instanceof PostgresStore) return store;
  throw new LaresError('STORE_ERROR', `this operation needs the SQLite or PostgreSQL store, not ${store.kind}`);
}

export async function openTableReader(store: MemoryStore): Promise<TableReader> {
  const known = asKnownStore(store);
  if (known instanceof SqliteStore) {
    const db = known.db;
    // a read transaction in WAL mode is a snapshot: Lares may keep writing meanwhile
    db.exec('BEGIN');
    db.prepare('SELECT 1 FROM meta LIMIT 1').get();
    return {
      async count(table) {
        return Number((db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n);
      },
      async page(table, afterId, limit) {
        const spec = tableSpec(table);
        const columns = spec.columns.map(([c]) => c).join(', ');
        const rows = spec.key === 'id'
          ? db.prepare(`SELECT ${columns} FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`).all(afterId, limit)
          : db.prepare(`SELECT ${columns} FROM ${table} ORDER BY ${orderOf(known, spec)}`).all();
        return rows.map((r) => normalise(spec, r as Record<string, unknown>));
      },
      async close() {
        if (db.isTransaction) db.exec('COMMIT');
      },
    };
  }
  const client = await known.pool.connect();
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  return {
    async count(table) {
      return Number((await client.query(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0].n);
    },
    async page(table, afterId, limit) {
      const spec = tableSpec(table);
      const columns = spec.columns.map(([c]) => c).join(', ');
      const result = spec.key === 'id'
        ? await client.query(`SELECT ${columns} FROM ${table} WHERE id > $1 ORDER BY id LIMIT $2`, [afterId, limit])
        : await client.query(`SELECT ${columns} FROM ${table} ORDER BY ${orderOf(known, spec)}`);
      return result.rows.map((r) => normalise(spec, r));
    },
    async close() {
      try { await client.query('COMMIT'); } finally { client.release(); }
    },
  };
}

/** Row counts of every table; an import or copy target must be all zeros. */
export async function tableCounts(store: MemoryStore): Promise<Record<TableName, number>> {
  const reader = await openTableReader(store);
  try {
    const counts = {} as Record<TableName, number>;
    for (const spec of STORE_TABLES) counts[spec.name] = await reader.count(spec.name);
    return counts;
  } finally {
    await reader.close();
  }
}

/** Refuses a target that holds anything: importing into it could clash with its ids or mix two histories. */
export async function assertEmptyStore(store: MemoryStore, where: string): Promise<void> {
  const counts = await tableCounts(store);
  const filled = Object.entries(counts).filter(([, n]) => n > 0).map(([table, n]) => `${n} ${table}`);
  if (filled.length > 0) {
    throw new LaresError('STORE_ERROR', `${where} is not empty (${filled.join(', ')}). It must be a new, empty store: point it at a new database file or an empty PostgreSQL database.`);
  }
}

export async function openTableWriter(store: MemoryStore): Promise<TableWriter> {
  const known = asKnownStore(store);
  if (known instanceof SqliteStore) {
    const db = known.db;
    db.exec('BEGIN IMMEDIATE');
    return {
      async insert(table, rows) {
        if (rows.length === 0) return;
        const spec = tableSpec(table);
        const statement = db.prepare(`INSERT INTO ${table} (${spec.columns.map(([c]) => c).join(', ')}) VALUES (${spec.columns.map(() => '?').join(', ')})`);
        for (const row of rows) {
          statement.run(...spec.columns.map(([column, type]) => {
            const value = row[column];
            return type === 'bool' ? (value ? 1 : 0) : (value as string | number | null);
          }));
        }
      },
      async commit() { db.exec('COMMIT'); },
      async rollback() { if (db.isTransaction) db.exec('ROLLBACK'); },
    };
  }
  const client: PoolClient = await known.pool.connect();
  await client.query('BEGIN');
  const pgType = { int: 'bigint', text: 'text', bool: 'boolean' } as const;
  let released = false;
  const release = () => { if (!released) { released = true; client.release(); } };
  return {
    async insert(table, rows) {
      if (rows.length === 0) return;
      const spec = tableSpec(table);
      // one statement per batch: each column travels as one array parameter
      const arrays = spec.columns.map(([column]) => rows.map((row) => row[column]));
      const casts = spec.columns.map(([, type], i) => `$${i + 1}::${pgType[type]}[]`).join(', ');
      await client.query(`INSERT INTO ${table} (${spec.columns.map(([c]) => c).join(', ')}) SELECT * FROM unnest(${casts})`, arrays);
    },
    async commit() {
      try {
        for (const table of POSTGRES_ID_TABLES) {
          await client.query(advanceIdSequenceSql(table));
        }
        await client.query('COMMIT');
      } finally {
        release();
      }
    },
    async rollback() {
      try { await client.query('ROLLBACK'); } finally { release(); }
    },
  };
}
