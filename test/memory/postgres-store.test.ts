// The store contract against a real PostgreSQL server started by the test itself, plus what
// only PostgreSQL does: migrations, advisory conversation locks, concurrent idempotent import.
// If PostgreSQL cannot be started this file FAILS with the reason; it never skips.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { text } from '../../src/llm/content.ts';
import { openStore } from '../../src/memory/open-store.ts';
import { openPostgresStore, postgresSchemaVersion, redactDatabaseUrl, type PostgresStore } from '../../src/memory/postgres/postgres-store.ts';
import { POSTGRES_SCHEMA_VERSION } from '../../src/memory/postgres/schema.ts';
import { startTestPostgres, type TestPostgres } from '../support/postgres.ts';
import { runStoreContract } from './store-contract.ts';

let server: TestPostgres;
let n = 0;

before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  await server?.stop();
});

runStoreContract('postgres', async () => openPostgresStore(await server.createDatabase(`contract_${++n}`)));

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
