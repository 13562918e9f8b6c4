// The store contract against a real PostgreSQL server started by the test itself, plus what
// only PostgreSQL does: migrations, advisory conversation locks, concurrent idempotent import.
// If PostgreSQL cannot be started this file FAILS with the reason; it never skips.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { text } from '../../src/llm/content.ts';
import { openSqliteStore, openStore } from '../../src/memory/open-store.ts';
import { openPostgresStore, postgresSchemaVersion, redactDatabaseUrl, type PostgresStore } from '../../src/memory/postgres/postgres-store.ts';
import { accentFoldingMigration, accentFolds } from '../../src/memory/postgres/recall-schema.ts';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from '../../src/memory/postgres/schema.ts';
import { queryTerms } from '../../src/recall/query-terms.ts';
import { startTestPostgres, type TestPostgres } from '../support/postgres.ts';
import { runStoreContract } from './store-contract.ts';
import { runToolStateContract } from './tool-state-contract.ts';

let server: TestPostgres;
let n = 0;
const ids = (ranked: Array<{ id: number }>): number[] => ranked.map((r) => r.id);

before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  await server?.stop();
});

runStoreContract('postgres', async () => openPostgresStore(await server.createDatabase(`contract_${++n}`)));
runToolStateContract('postgres', async () => openPostgresStore(await server.createDatabase(`contract_${++n}`)),
  async (store) => openPostgresStore((store as PostgresStore).pool.options.connectionString!));

describe('postgres only', () => {
  test('openStore opens PostgreSQL for MEMORY_PROVIDER=postgres and the schema is versioned', async (t) => {
    const url = await server.createDatabase('open_store');
    const store = await openStore({ memoryProvider: 'postgres', sqlitePath: 'unused.db', databaseUrl: url });
    t.after(() => store.close());
    assert.equal(store.kind, 'postgres');
    const pool = (store as PostgresStore).pool;
    assert.equal(await postgresSchemaVersion(pool), POSTGRES_SCHEMA_VERSION);
    // opening again (a second worker) migrates nothing and keeps the data
    await store.setMeta('k', 'v');
    const again = await openPostgresStore(url);
    t.after(() => again.close());
    assert.equal(await again.getMeta('k'), 'v');
    const versions = await pool.query('SELECT version FROM lares_schema_migrations ORDER BY version');
    assert.deepEqual(versions.rows.map((r) => r.version), Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1));
  });

  test('workers starting at the same time migrate once', async (t) => {
    const url = await server.createDatabase('concurrent_start');
    const stores = await Promise.all([openPostgresStore(url), openPostgresStore(url), openPostgresStore(url)]);
    t.after(() => Promise.all(stores.map((s) => s.close())));
    assert.equal(await postgresSchemaVersion(stores[0].pool), POSTGRES_SCHEMA_VERSION);
  });

  test('a newer schema than this Lares knows is refused with a clear message', async () => {
    const url = await server.createDatabase('newer_schema');
    const store = await openPostgresStore(url);
    await store.pool.query('INSERT INTO lares_schema_migrations(version, applied_at) VALUES (999, $1)', [new Date().toISOString()]);
    await store.close();
    await assert.rejects(openPostgresStore(url), /schema version 999.*Update Lares/);
  });

  test('an unreachable server gives STORE_ERROR naming the address without the password', async () => {
    const url = 'postgres://lares:secretpw@127.0.0.1:1/none';
    await assert.rejects(openPostgresStore(url), (error: any) => error.code === 'STORE_ERROR' && error.message.includes('127.0.0.1:1') && !error.message.includes('secretpw'));
    assert.equal(redactDatabaseUrl(url), 'postgres://lares:***@127.0.0.1:1/none');
  });

  test('withConversationLock: a second worker waits for the first on one conversation, not on another', async (t) => {
    const url = await server.createDatabase('locks');
    const workerA = await openPostgresStore(url);
    const workerB = await openPostgresStore(url);
    t.after(() => Promise.all([workerA.close(), workerB.close()]));
    const events: string[] = [];
    let releaseA!: () => void;
    const aMayFinish = new Promise<void>((resolve) => { releaseA = resolve; });
    let aEntered!: () => void;
    const aIsIn = new Promise<void>((resolve) => { aEntered = resolve; });
    const turnA = workerA.withConversationLock('default', async () => {
      events.push('A start');
      aEntered();
      await aMayFinish;
      events.push('A end');
    });
    await aIsIn;
    const turnB = workerB.withConversationLock('default', async () => { events.push('B start'); });
    // another conversation is not blocked by A
    await workerB.withConversationLock('other', async () => { events.push('other conversation'); });
    // wait until B is really queued on the lock in PostgreSQL, then let A finish
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    t.after(() => admin.end());
    for (;;) {
      const waiting = await admin.query("SELECT COUNT(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
      if (waiting.rows[0].n > 0) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(events, ['A start', 'other conversation']);
    releaseA();
    await Promise.all([turnA, turnB]);
    assert.deepEqual(events, ['A start', 'other conversation', 'A end', 'B start']);
  });

  test('the lock is released when the turn throws; a turn under the lock can use the store', async (t) => {
    const url = await server.createDatabase('lock_errors');
    // one query connection: the lock must not take it, or the turn's own queries would wait forever
    const store = await openPostgresStore(url, { max: 1 });
    t.after(() => store.close());
    await assert.rejects(store.withConversationLock('c', async () => { throw new Error('turn failed'); }), /turn failed/);
    const answer = await store.withConversationLock('c', async () => {
      await store.appendMessages([{ role: 'user', blocks: [text('inside the turn')] }]);
      return (await store.recentMessages(1))[0].content;
    });
    assert.equal(answer, 'inside the turn');
    // several conversations at once, each turn querying while it holds its lock
    const turns = await Promise.all(['a', 'b', 'c', 'd'].map((id) => store.withConversationLock(id, async () => (await store.counts()).messages)));
    assert.deepEqual(turns, [1, 1, 1, 1]);
  });

  test('a database of schema version 2 gets the recall index on open, its rows indexed with empty contexts', async (t) => {
    const url = await server.createDatabase('recall_upgrade');
    const old = new pg.Client({ connectionString: url });
    await old.connect();
    try {
      await old.query('CREATE TABLE lares_schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
      for (let version = 0; version < 2; version++) {
        await old.query(POSTGRES_MIGRATIONS[version]);
        await old.query('INSERT INTO lares_schema_migrations(version, applied_at) VALUES ($1, $2)', [version + 1, new Date().toISOString()]);
      }
      await old.query(`INSERT INTO messages(role, content, blocks_json, created_at) VALUES
        ('user', 'We planted tomatoes in the garden', '[]', '2025-01-01T00:00:00.000Z'),
        ('assistant', 'Gardening suits you', '[]', '2025-01-01T00:00:01.000Z'),
        ('user', 'Café later?', '[]', '2025-01-01T00:00:02.000Z')`);
      await old.query("INSERT INTO summaries(summary, start_message_id, end_message_id, created_at) VALUES ('they talked about the garden', 1, 2, '2025-01-02T00:00:00.000Z')");
      await old.query(`INSERT INTO archival_passages(text, tags, created_at) VALUES ('bees like lavender', '["garden"]', '2025-01-03T00:00:00.000Z')`);
    } finally {
      await old.end();
    }
    const store = await openPostgresStore(url);
    t.after(() => store.close());
    assert.equal(await postgresSchemaVersion(store.pool), POSTGRES_SCHEMA_VERSION);
    const ids = async (kind: 'message' | 'summary' | 'passage', query: string) => (await store.recallKeyword(kind, queryTerms(query), {}, 10)).map((r) => r.id).sort();
    assert.deepEqual(await ids('message', 'gardens'), [1, 2]);
    assert.deepEqual(await ids('message', 'cafe'), [3]);
    assert.deepEqual(await ids('summary', 'gardening'), [1]);
    assert.deepEqual(await ids('passage', 'garden'), [1]);
    const totals = (await store.pool.query('SELECT kind, docs::int, tokens::int FROM recall_totals ORDER BY kind')).rows;
    assert.deepEqual(totals, [{ kind: 'message', docs: 3, tokens: 11 }, { kind: 'passage', docs: 1, tokens: 4 }, { kind: 'session', docs: 0, tokens: 0 }, { kind: 'summary', docs: 1, tokens: 5 }]);
    assert.deepEqual((await store.pool.query('SELECT COUNT(*)::int AS n FROM message_recall_fts WHERE context_tokens = 0 AND context = \'\'::tsvector')).rows[0].n, 3);
    // the old 'simple' columns are gone; what is written after the upgrade is indexed too
    const columns = (await store.pool.query("SELECT column_name FROM information_schema.columns WHERE column_name IN ('content_tsv', 'search_tsv')")).rows;
    assert.deepEqual(columns, []);
    const [later] = await store.appendMessages([{ role: 'user', blocks: [{ type: 'text', text: 'the garden again' }] }]);
    assert.deepEqual(await ids('message', 'garden'), [1, 2, later.id]);
    assert.deepEqual((await store.pool.query("SELECT docs::int, tokens::int FROM recall_totals WHERE kind = 'message'")).rows[0], { docs: 4, tokens: 14 });
  });

  test('a database of schema version 3 gets provider and source on its usage rows (null for the old ones)', async (t) => {
    const url = await server.createDatabase('usage_upgrade');
    const old = new pg.Client({ connectionString: url });
    await old.connect();
    try {
      await old.query('CREATE TABLE lares_schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
      for (let version = 0; version < 3; version++) {
        await old.query(POSTGRES_MIGRATIONS[version]);
        await old.query('INSERT INTO lares_schema_migrations(version, applied_at) VALUES ($1, $2)', [version + 1, new Date().toISOString()]);
      }
      await old.query(`INSERT INTO llm_usage(conversation_id, model, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, request_tokens, created_at, kind)
        VALUES ('default', 'claude-sonnet-4-6', 10, 90, 0, 5, 100, '2026-01-01T10:00:00.000Z', 'turn')`);
    } finally {
      await old.end();
    }
    const store = await openPostgresStore(url);
    t.after(() => store.close());
    assert.equal(await postgresSchemaVersion(store.pool), POSTGRES_SCHEMA_VERSION);
    const last = await store.lastUsage();
    assert.deepEqual([last?.provider, last?.source, last?.inputTokens], [null, null, 10]);
    await store.recordUsage({ model: 'claude-sonnet-4-6', provider: 'anthropic', source: 'terminal', inputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 1, createdAt: '2026-01-01T11:00:00.000Z' });
    assert.deepEqual((await store.usageSummary({})).map((g) => [g.day, g.provider, g.source, g.calls]), [['2026-01-01', null, null, 1], ['2026-01-01', 'anthropic', 'terminal', 1]]);
    const index = await store.pool.query("SELECT indexname FROM pg_indexes WHERE tablename = 'llm_usage' AND indexname = 'llm_usage_created_at'");
    assert.equal(index.rowCount, 1);
  });

  test('recall_totals (BM25\'s N and word totals) follow every write: appends, imports, contexts, sessions, reset', async (t) => {
    const store = await openPostgresStore(await server.createDatabase('recall_totals'));
    t.after(() => store.close());
    const check = async (when: string) => {
      const kept = (await store.pool.query('SELECT kind, docs::int, tokens::int FROM recall_totals ORDER BY kind')).rows;
      const counted = (await store.pool.query(`SELECT kind, docs::int, tokens::int FROM (
        SELECT 'message' AS kind, COUNT(*) AS docs, COALESCE(SUM(body_tokens + context_tokens), 0) AS tokens FROM message_recall_fts
        UNION ALL SELECT 'passage', COUNT(*), COALESCE(SUM(body_tokens), 0) FROM passage_recall_fts
        UNION ALL SELECT 'session', COUNT(*), COALESCE(SUM(body_tokens), 0) FROM session_recall_fts
        UNION ALL SELECT 'summary', COUNT(*), COALESCE(SUM(body_tokens), 0) FROM summary_recall_fts) x ORDER BY kind`)).rows;
      assert.deepEqual(kept, counted, when);
    };
    const text = (value: string) => [{ type: 'text' as const, text: value }];
    const ms = await store.appendMessages(Array.from({ length: 30 }, (_, i) => ({ role: 'user' as const, blocks: text(`message ${i} about ${'word '.repeat(i % 5)}things`) })));
    await check('after an append');
    await store.importBatch({ messages: [{ role: 'user', blocks: text('imported one'), sourceRef: 'x:1' }], summaries: [{ summary: 'a summary of it', startMessageId: null, endMessageId: null }], passages: [{ text: 'a passage', tags: ['t'] }] });
    await check('after an import');
    await store.setRecallContext(ms.slice(0, 10).map((m, i) => ({ id: m.id, context: 'neighbour words '.repeat(i), session: ms[0].id })), ms[9].id);
    await check('after contexts and a session');
    await store.setRecallContext(ms.slice(5, 15).map((m) => ({ id: m.id, context: 'shorter', session: ms[5].id })), ms[14].id);
    await check('after contexts rewritten and sessions rebuilt');
    await store.resetRecallIndex('keywords');
    await check('after a reset');
    const after = (await store.pool.query("SELECT docs::int FROM recall_totals WHERE kind = 'message'")).rows[0].docs;
    assert.equal(after, 31);
  });

  test('without the unaccent extension accents are folded as SQLite folds them, and ranked alike', async (t) => {
    // a role that may create tables but not extensions (trusted ones need CREATE on the database)
    const url = await server.createDatabase('no_unaccent');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    t.after(() => admin.end());
    await admin.query("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lares_plain') THEN CREATE ROLE lares_plain LOGIN; END IF; END $$");
    await admin.query('REVOKE CREATE ON DATABASE no_unaccent FROM PUBLIC');
    await admin.query('GRANT CREATE ON SCHEMA public TO lares_plain');
    const plainUrl = url.replace('//lares@', '//lares_plain@');
    const role = new pg.Client({ connectionString: plainUrl });
    await role.connect();
    t.after(() => role.end());
    // the path this test is about: unaccent cannot be had here
    await assert.rejects(role.query('CREATE EXTENSION unaccent'), /permission denied/);
    const store = await openPostgresStore(plainUrl);
    t.after(() => store.close());
    assert.equal((await admin.query("SELECT COUNT(*)::int AS n FROM pg_extension WHERE extname = 'unaccent'")).rows[0].n, 0);
    const dir = mkdtempSync(join(tmpdir(), 'lares-accents-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const sqlite = await openSqliteStore(join(dir, 'lares.db'));
    t.after(() => sqlite.close());

    // every character SQLite folds becomes what SQLite makes of it (accent-folding.test.ts: accentFolds() is SQLite's)
    const folds = [...accentFolds()];
    const folded = (await store.pool.query('SELECT lares_fold_accents($1) AS f', [folds.map(([c]) => c).join('')])).rows[0].f;
    assert.equal(folded, folds.map(([, base]) => base).join(''));

    const texts = [
      'un café noir after the concert',
      'the cafe on the corner sells cafe noir and more cafe',
      'Zoë arrived late with the lemonade',
      'zoe and ZOË and Zoe again',
      'a naïve résumé for the interview',
      'NAIVE RESUME WRITING',
      'gardening all day',
      'Straße and Øresund keep their letters, Ærø too',
      'crème brûlée with Chloë in Zürich, São Paulo, Kraków, Hà Nội',
      'the concert of an e\u0301le\u0301ve, decomposed accents',
    ];
    const both = [store, sqlite] as const;
    const [pgIds, sqliteIds] = await Promise.all(both.map(async (s) => (await s.appendMessages(texts.map((value) => ({ role: 'user' as const, blocks: [text(value)] })))).map((m) => m.id)));
    assert.deepEqual(pgIds, sqliteIds);
    const [cafeNoir, cafe, zoeArrived, zoes, naive, naiveUpper, gardening, strasse, creme, eleve] = pgIds;
    const found = async (query: string) => (await store.searchMessages(query)).map((h) => h.id).sort((a, b) => a - b);
    assert.deepEqual(await found('cafe'), [cafeNoir, cafe]);
    assert.deepEqual(await found('café'), [cafeNoir, cafe]);
    assert.deepEqual(await found('Zoë'), [zoeArrived, zoes]);
    assert.deepEqual(await found('zoe'), [zoeArrived, zoes]);
    assert.deepEqual(await found('naïve résumé'), [naive, naiveUpper]);
    assert.deepEqual(await found('naive resume'), [naive, naiveUpper]);
    assert.deepEqual(await found('creme brulee chloe zurich sao paulo krakow ha noi'), [creme]);
    assert.deepEqual(await found('élève'), [eleve]);
    assert.deepEqual(await found('eleve'), [eleve]);
    // folded as SQLite folds: not ß → ss, ø → o, æ → ae (unaccent would)
    assert.deepEqual(await found('strasse oresund aero'), []);
    assert.deepEqual(await found('straße øresund ærø'), [strasse]);
    assert.deepEqual(await found('garden'), [gardening]);
    const passage = await store.insertPassage({ text: 'Crème brûlée recipe from the café', tags: ['desserts'] });
    assert.deepEqual((await store.searchPassages('creme brulee')).map((h) => h.id), [passage.id]);
    await sqlite.insertPassage({ text: 'Crème brûlée recipe from the café', tags: ['desserts'] });

    // the same documents, the same scores as SQLite's FTS5, through recallKeyword and searchMessages
    for (const query of ['cafe', 'café noir', 'Zoë', 'zoe lemonade', 'naïve résumé', 'NAÏVE', 'concert cafe', 'crème brûlée café', 'élève concert']) {
      const terms = queryTerms(query);
      const [ours, theirs] = await Promise.all(both.map((s) => s.recallKeyword('message', terms, {}, 20)));
      assert.deepEqual(ids(ours), ids(theirs), `order for ${query}`);
      assert.ok(ours.length > 0, `${query} finds something`);
      ours.forEach((r, i) => assert.ok(Math.abs(r.score - theirs[i].score) <= 1e-12 * theirs[i].score, `score for ${query}: ${r.score}, SQLite ${theirs[i].score}`));
      const [hits, sqliteHits] = await Promise.all(both.map((s) => s.searchMessages(query)));
      assert.deepEqual(hits.map((h) => [h.id, h.content]), sqliteHits.map((h) => [h.id, h.content]));
    }
    const [ours, theirs] = await Promise.all(both.map((s) => s.recallKeyword('passage', queryTerms('cafe creme'), {}, 10)));
    assert.deepEqual(ids(ours), ids(theirs));
    ours.forEach((r, i) => assert.ok(Math.abs(r.score - theirs[i].score) <= 1e-12 * theirs[i].score));
  });

  test('a database from before accent folding, which kept accents, folds them after the upgrade: the keyword index is rebuilt', async (t) => {
    const url = await server.createDatabase('accent_upgrade');
    const before = POSTGRES_MIGRATIONS.indexOf(accentFoldingMigration());
    assert.ok(before >= 4, 'the accent folding comes after the recall index');
    const old = new pg.Client({ connectionString: url });
    await old.connect();
    try {
      await old.query('CREATE TABLE lares_schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
      for (let version = 0; version < before; version++) {
        await old.query(POSTGRES_MIGRATIONS[version]);
        await old.query('INSERT INTO lares_schema_migrations(version, applied_at) VALUES ($1, $2)', [version + 1, new Date().toISOString()]);
      }
      await old.query(`INSERT INTO messages(role, content, blocks_json, created_at) VALUES
        ('user', 'un café noir', '[]', '2025-01-01T00:00:00.000Z'),
        ('assistant', 'Zoë likes the cafe', '[]', '2025-01-01T00:00:01.000Z')`);
      await old.query("INSERT INTO summaries(summary, start_message_id, end_message_id, created_at) VALUES ('a naïve résumé', 1, 2, '2025-01-02T00:00:00.000Z')");
      await old.query(`INSERT INTO archival_passages(text, tags, created_at) VALUES ('crème brûlée', '["desserts"]', '2025-01-03T00:00:00.000Z')`);
      // what the indexer had written: contexts and a session, with accents kept
      await old.query(`UPDATE message_recall_fts r SET context = d.vector, context_tokens = d.tokens FROM lares_recall_doc('Zoë likes the cafe') d WHERE r.id = 1`);
      await old.query('INSERT INTO recall_sessions(message_id, session_id) VALUES (1, 1), (2, 1)');
      await old.query(`INSERT INTO session_recall_fts(id, conversation_id, body, body_tokens) SELECT 1, 'default', d.vector, d.tokens FROM lares_recall_doc('un café noir Zoë likes the cafe') d`);
      await old.query("INSERT INTO meta(key, value) VALUES ('recall_context_through', '2')");
      // before: accents kept
      assert.equal((await old.query("SELECT COUNT(*)::int AS n FROM message_recall_fts WHERE body @@ lares_recall_query('zoe')")).rows[0].n, 0);
    } finally {
      await old.end();
    }
    const store = await openPostgresStore(url);
    t.after(() => store.close());
    assert.equal(await postgresSchemaVersion(store.pool), POSTGRES_SCHEMA_VERSION);
    const found = async (kind: 'message' | 'summary' | 'passage', query: string) => (await store.recallKeyword(kind, queryTerms(query), {}, 10)).map((r) => r.id).sort();
    assert.deepEqual(await found('message', 'cafe'), [1, 2]);
    assert.deepEqual(await found('message', 'zoe'), [2]);
    assert.deepEqual(await found('summary', 'naive resume'), [1]);
    assert.deepEqual(await found('passage', 'creme brulee'), [1]);
    // rebuilt from the documents as `lares reindex --full` does: the indexer writes contexts and sessions again
    assert.deepEqual((await store.pool.query('SELECT COUNT(*)::int AS n FROM message_recall_fts WHERE context_tokens > 0')).rows[0].n, 0);
    assert.deepEqual((await store.pool.query('SELECT (SELECT COUNT(*) FROM recall_sessions)::int AS s, (SELECT COUNT(*) FROM session_recall_fts)::int AS f')).rows[0], { s: 0, f: 0 });
    assert.equal(await store.getMeta('recall_context_through'), undefined);
    const totals = (await store.pool.query('SELECT kind, docs::int, tokens::int FROM recall_totals ORDER BY kind')).rows;
    assert.deepEqual(totals, [{ kind: 'message', docs: 2, tokens: 7 }, { kind: 'passage', docs: 1, tokens: 3 }, { kind: 'session', docs: 0, tokens: 0 }, { kind: 'summary', docs: 1, tokens: 3 }]);
    await store.setRecallContext([{ id: 1, context: 'Zoë likes the cafe', session: 1 }, { id: 2, context: 'un café noir', session: 1 }], 2);
    assert.deepEqual((await store.recallSessionKeyword(['zoe'], {}, 10)).map((r) => r.id), [1]);
  });

  test('concurrent imports of the same rows never double-insert', async (t) => {
    const url = await server.createDatabase('concurrent_import');
    const workers = await Promise.all([openPostgresStore(url), openPostgresStore(url), openPostgresStore(url)]);
    t.after(() => Promise.all(workers.map((w) => w.close())));
    const batch = { messages: Array.from({ length: 50 }, (_, i) => ({ role: 'user' as const, blocks: [text(`m${i}`)], sourceRef: `discord:${i}` })) };
    const results = await Promise.all(workers.map((w) => w.importBatch(batch)));
    assert.equal(results.reduce((sum, r) => sum + r.messagesAdded, 0), 50);
    assert.equal(results.reduce((sum, r) => sum + r.skippedExisting, 0), 100);
    assert.equal((await workers[0].counts()).messages, 50);
  });
});
