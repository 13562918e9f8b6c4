// The store contract against SQLite, plus the seed's own inspection queries run as written.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { text } from '../../src/llm/content.ts';
import { DEFAULT_BLOCKS, ensureDefaultBlocks } from '../../src/memory/default-blocks.ts';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import type { SqliteStore } from '../../src/memory/sqlite/sqlite-store.ts';
import { runStoreContract } from './store-contract.ts';
import { runToolStateContract } from './tool-state-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'lares-sqlite-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

runStoreContract('sqlite', async () => openSqliteStore(join(dir, `store-${++n}.db`)));
runToolStateContract('sqlite', async () => openSqliteStore(join(dir, `store-${++n}.db`)), async (store) => openSqliteStore((store as SqliteStore).path));

test('the seed\'s three inspection queries run as written against the database file', async (t) => {
  const path = join(dir, 'seed-queries.db');
  const store = await openSqliteStore(path);
  t.after(() => store.close());
  await ensureDefaultBlocks(store);
  for (let i = 0; i < 7; i++) {
    await store.appendMessages([{ role: i % 2 ? 'assistant' : 'user', blocks: [text(`message ${i} ${'x'.repeat(60)}`)], createdAt: `2026-01-0${i + 1}T00:00:00.000Z` }]);
  }
  const db = new DatabaseSync(path, { readOnly: true });
  t.after(() => db.close());
  const blocks = db.prepare('SELECT label, LENGTH(content) as chars FROM memory_blocks').all() as Array<{ label: string; chars: number }>;
  assert.deepEqual(blocks.map((b) => [b.label, Number(b.chars)]), DEFAULT_BLOCKS.map((b) => [b.label, b.content.length]));
  const count = db.prepare('SELECT COUNT(*) FROM messages').get() as Record<string, number>;
  assert.equal(Number(Object.values(count)[0]), 7);
  const recent = db.prepare('SELECT role, substr(content, 1, 50) FROM messages ORDER BY created_at DESC LIMIT 5').all() as Array<Record<string, string>>;
  assert.equal(recent.length, 5);
  assert.deepEqual(recent.map((r) => r.role), ['user', 'assistant', 'user', 'assistant', 'user']);
  assert.equal(recent[0]['substr(content, 1, 50)'], `message 6 ${'x'.repeat(40)}`);
});
