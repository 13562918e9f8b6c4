// lares search and lares reindex as a user and a script run them: pure JSON with --json (the
// contract: id, role, content, created_at, score, plus context), filters, exit codes, a
// resumable reindex, the embedder chosen by LARES_EMBEDDER (a fake Ollama), and the offline
// default model that ships in node_modules.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import { startFakeOllama, type FakeOllama } from '../fakes/embeddings.ts';
import { runLares } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'lares-recall-cli-'));
const db = join(dir, 'lares.db');
let ollama: FakeOllama;
const day = (d: number, minute = 0) => new Date(Date.UTC(2026, 2, d, 18, minute)).toISOString();

before(async () => {
  ollama = await startFakeOllama();
  const store = await openSqliteStore(db);
  const say = (role: 'user' | 'assistant', text: string, createdAt: string) => ({ role, blocks: [{ type: 'text' as const, text }], createdAt });
  await store.appendMessages([
    say('assistant', 'How did the vet visit go?', day(1, 0)),
    say('user', 'Biscuit needs a new diet, the vet said less kibble.', day(1, 1)),
    say('assistant', 'Poor Biscuit! Less kibble it is.', day(1, 2)),
    say('user', 'My sister Ana moves to Lisbon in June.', day(9, 0)),
    say('user', 'The automobile needs new tyres before the trip.', day(12, 0)),
  ]);
  await store.close();
});
after(async () => { await ollama?.close(); rmSync(dir, { recursive: true, force: true }); });

test('lares search --json prints only a JSON array, best first, with the contract fields and the turns around each hit', async () => {
  const run = await runLares(['search', 'what did the vet say about Biscuit', '--json', '--limit', '3'], { env: { SQLITE_DB_PATH: db } });
  assert.equal(run.code, 0, run.stderr);
  const hits = JSON.parse(run.stdout);
  assert.ok(Array.isArray(hits) && hits.length > 0 && hits.length <= 3);
  assert.equal(hits[0].content, 'Biscuit needs a new diet, the vet said less kibble.');
  for (const key of ['id', 'role', 'content', 'created_at', 'score']) assert.ok(key in hits[0], key);
  assert.match(hits[0].created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.deepEqual(hits[0].context.before.map((t: { content: string }) => t.content), ['How did the vet visit go?']);
  assert.deepEqual(hits[0].context.after.map((t: { content: string }) => t.content), ['Poor Biscuit! Less kibble it is.']);
  assert.ok(hits.every((h: { score: number }, i: number) => i === 0 || hits[i - 1].score >= h.score));
});

test('lares search filters by role and date; readable output by default; bad usage exits 2', async () => {
  const roles = JSON.parse((await runLares(['search', 'Biscuit', '--role', 'assistant', '--json'], { env: { SQLITE_DB_PATH: db } })).stdout);
  assert.ok(roles.length > 0 && roles.every((h: { role: string }) => h.role === 'assistant'));
  const since = JSON.parse((await runLares(['search', 'Lisbon Biscuit tyres', '--since', '2026-03-05', '--json'], { env: { SQLITE_DB_PATH: db } })).stdout);
  assert.ok(since.every((h: { created_at: string }) => h.created_at >= '2026-03-05'));
  const plain = await runLares(['search', 'Lisbon'], { env: { SQLITE_DB_PATH: db } });
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /user[\s\S]*My sister Ana moves to Lisbon in June\./);
  const none = await runLares(['search', 'zeppelin'], { env: { SQLITE_DB_PATH: db } });
  assert.equal(none.code, 0);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /no messages match "zeppelin"/);
  assert.equal((await runLares(['search', 'x', '--role', 'robot'], { env: { SQLITE_DB_PATH: db } })).code, 2);
  assert.equal((await runLares(['search', 'x', '--since', 'yesterday-ish'], { env: { SQLITE_DB_PATH: db } })).code, 2);
  assert.equal((await runLares(['search', 'x'], { env: { SQLITE_DB_PATH: db, LARES_EMBEDDER: 'word2vec' } })).code, 2);
});

test('lares reindex with LARES_EMBEDDER=ollama embeds everything once; search then asks Ollama for the query vector', async () => {
  const env = { SQLITE_DB_PATH: db, LARES_EMBEDDER: 'ollama', OLLAMA_BASE_URL: ollama.url };
  const first = await runLares(['reindex', '--json'], { env });
  assert.equal(first.code, 0, first.stderr);
  const report = JSON.parse(first.stdout);
  assert.equal(report.embedder, 'ollama:nomic-embed-text');
  assert.equal(report.embedded.message, 5);
  assert.equal(report.vectors, 5);
  const again = JSON.parse((await runLares(['reindex', '--json'], { env })).stdout);
  assert.equal(again.embedded.message, 0, 'resumable: nothing twice');
  const before = ollama.requests.length;
  const run = await runLares(['search', 'Ana Lisbon', '--json'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout)[0].content, 'My sister Ana moves to Lisbon in June.');
  assert.equal(ollama.requests.length, before + 1);
  assert.match(JSON.stringify(ollama.requests.at(-1)!.body), /search_query: Ana Lisbon/);
  // Ollama down: search still answers from keywords and says why on stderr
  const down = await runLares(['search', 'Ana Lisbon', '--json'], { env: { ...env, OLLAMA_BASE_URL: 'http://127.0.0.1:9' } });
  assert.equal(down.code, 0);
  assert.equal(JSON.parse(down.stdout)[0].content, 'My sister Ana moves to Lisbon in June.');
  assert.match(down.stderr, /cannot reach Ollama/);
});

test('the default embedder is the model that ships in node_modules: reindex, then a search by meaning', async () => {
  const own = join(dir, 'default.db');
  const store = await openSqliteStore(own);
  await store.appendMessages([
    { role: 'user', blocks: [{ type: 'text', text: 'My automobile broke down on the motorway.' }], createdAt: day(1) },
    { role: 'user', blocks: [{ type: 'text', text: 'I baked sourdough bread this morning.' }], createdAt: day(3) },
  ]);
  await store.close();
  const env = { SQLITE_DB_PATH: own, LARES_EMBEDDER: undefined };
  const reindex = await runLares(['reindex', '--json'], { env });
  assert.equal(reindex.code, 0, reindex.stderr);
  assert.equal(JSON.parse(reindex.stdout).embedder, 'local:all-minilm-l6-v2');
  const run = await runLares(['search', 'car trouble', '--json'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout)[0].content, 'My automobile broke down on the motorway.');
});
