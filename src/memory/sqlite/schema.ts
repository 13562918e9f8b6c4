// SQLite schema, versioned with PRAGMA user_version. Each entry migrates from version i to i+1;
// a database is brought up to date on open, inside one transaction per step.
export const SQLITE_MIGRATIONS: string[] = [
  // 1: the tables the seed's queries use, plus history, usage and full-text indexes
  `
  CREATE TABLE memory_blocks (
    label TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    char_limit INTEGER NOT NULL,
    read_only INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE memory_block_history (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    content TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX memory_block_history_label ON memory_block_history(label, id);

  CREATE TABLE summaries (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL DEFAULT 'default',
    summary TEXT NOT NULL,
    start_message_id INTEGER,
    end_message_id INTEGER,
    token_count INTEGER,
    created_at TEXT NOT NULL,
    source_ref TEXT UNIQUE
  );
  CREATE INDEX summaries_conversation ON summaries(conversation_id, id);

  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL DEFAULT 'default',
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content TEXT NOT NULL,
    blocks_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    token_count INTEGER,
    compacted_by INTEGER REFERENCES summaries(id),
    source_ref TEXT UNIQUE,
    metadata_json TEXT
  );
  CREATE INDEX messages_uncompacted ON messages(conversation_id, id) WHERE compacted_by IS NULL;
  CREATE INDEX messages_conversation ON messages(conversation_id, id);
  CREATE INDEX messages_created_at ON messages(created_at);

  CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
  CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
  END;
  CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
  END;

  CREATE TABLE archival_passages (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    source_ref TEXT UNIQUE
  );
  CREATE VIRTUAL TABLE archival_passages_fts USING fts5(text, tags, content='archival_passages', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
  CREATE TRIGGER archival_passages_fts_insert AFTER INSERT ON archival_passages BEGIN
    INSERT INTO archival_passages_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags);
  END;

  CREATE TABLE llm_usage (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL DEFAULT 'default',
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    request_tokens INTEGER NOT NULL,
    last_message_id INTEGER,
    created_at TEXT NOT NULL
  );
  CREATE INDEX llm_usage_conversation ON llm_usage(conversation_id, id);

  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
  // 2: which kind of call a usage row is: a turn's request, or a compaction summary
  `ALTER TABLE llm_usage ADD COLUMN kind TEXT NOT NULL DEFAULT 'turn' CHECK (kind IN ('turn', 'compaction'));`,
  // 3: the recall index (src/recall/): stemmed keyword indexes (summaries and passages contentless, so no second
  // copy of their text), a message's neighbours in a second column, sessions, and vectors with their model
  `
  -- messages and sessions are rewritten (context, growing sessions): regular tables, because FTS5's
  -- contentless_delete leaves deleted rows in bm25()'s document count and average length
  CREATE VIRTUAL TABLE message_recall_fts USING fts5(body, context, tokenize='porter unicode61 remove_diacritics 2');
  CREATE VIRTUAL TABLE summary_recall_fts USING fts5(body, tokenize='porter unicode61 remove_diacritics 2', content='', contentless_delete=1);
  CREATE VIRTUAL TABLE passage_recall_fts USING fts5(body, tokenize='porter unicode61 remove_diacritics 2', content='', contentless_delete=1);
  INSERT INTO message_recall_fts(rowid, body, context) SELECT id, content, '' FROM messages;
  INSERT INTO summary_recall_fts(rowid, body) SELECT id, summary FROM summaries;
  INSERT INTO passage_recall_fts(rowid, body) SELECT id, text || ' ' || tags FROM archival_passages;
  CREATE TRIGGER message_recall_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_recall_fts(rowid, body, context) VALUES (new.id, new.content, '');
  END;
  CREATE TRIGGER summary_recall_fts_insert AFTER INSERT ON summaries BEGIN
    INSERT INTO summary_recall_fts(rowid, body) VALUES (new.id, new.summary);
  END;
  CREATE TRIGGER passage_recall_fts_insert AFTER INSERT ON archival_passages BEGIN
    INSERT INTO passage_recall_fts(rowid, body) VALUES (new.id, new.text || ' ' || new.tags);
  END;
  CREATE VIRTUAL TABLE session_recall_fts USING fts5(body, tokenize='porter unicode61 remove_diacritics 2');
  CREATE TABLE recall_sessions (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id),
    session_id INTEGER NOT NULL
  );
  CREATE INDEX recall_sessions_session ON recall_sessions(session_id, message_id);
  -- stored in cluster order, so a query reads its clusters' vectors as runs of pages; -1 = no cluster yet
  CREATE TABLE recall_vectors (
    kind TEXT NOT NULL CHECK (kind IN ('message', 'summary', 'passage')),
    model TEXT NOT NULL,
    cluster INTEGER NOT NULL DEFAULT -1,
    id INTEGER NOT NULL,
    conversation_id TEXT,
    vector BLOB NOT NULL,
    PRIMARY KEY (kind, model, cluster, id)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX recall_vectors_document ON recall_vectors(kind, id);
  CREATE TABLE recall_centroids (
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    cluster INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (kind, model, cluster)
  );
  `,
  // 4: who served each model call and what it was for (the cost report, the daily budget), and reading usage by time
  `
  ALTER TABLE llm_usage ADD COLUMN provider TEXT;
  ALTER TABLE llm_usage ADD COLUMN source TEXT;
  CREATE INDEX llm_usage_created_at ON llm_usage(created_at);
  `,
  // 5: the tools' and channels' state (src/memory/tool-state.ts). Older Lares versions created the first
  // four tables in this same file (the old src/mcp-server/db.ts, versioned in mcp_schema): IF NOT EXISTS with the
  // very same names and columns adopts their rows as they are.
  `
  CREATE TABLE IF NOT EXISTS approval_requests (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    args_json TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','approved','executed','failed','denied','expired')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decided_at TEXT,
    finished_at TEXT,
    result_json TEXT,
    error TEXT,
    deny_reason TEXT,
    always_allowed INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS approval_requests_status ON approval_requests(status, created_at);
  CREATE TABLE IF NOT EXISTS mcp_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    data_json TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS mcp_events_created_at ON mcp_events(created_at);
  CREATE TABLE IF NOT EXISTS mcp_shell_allowlist (
    argv_json TEXT PRIMARY KEY,
    approval_id TEXT,
    created_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS mcp_jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('once','interval','cron')),
    spec TEXT NOT NULL,
    message TEXT NOT NULL,
    next_run_at TEXT,
    last_run_at TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS mcp_jobs_due ON mcp_jobs(active, next_run_at);
  CREATE TABLE IF NOT EXISTS lares_workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    role TEXT NOT NULL,
    started_at TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    -- host|boot|pid namespace|pid: whether its process is gone can be told on its own machine
    identity TEXT
  );
  -- a lease is free once expires_at has passed (its holder renews it while alive)
  CREATE TABLE IF NOT EXISTS lares_leases (
    name TEXT PRIMARY KEY,
    worker_id TEXT NOT NULL,
    since TEXT NOT NULL,
    expires_at TEXT
  );
  `,
];

export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS.length;
