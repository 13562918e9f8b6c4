// The export, import and db copy commands as a user runs them: stdout carries only the answer,
// progress goes to stderr, refusals exit 1 with a clear message, bad usage exits 2.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import { openPostgresStore } from '../../src/memory/postgres/postgres-store.ts';
import { startTestPostgres, type TestPostgres } from '../support/postgres.ts';
import { spawnCollect } from '../support/cli.ts';
import { runLares } from '../support/run-lares.ts';
import { fillStore } from './fill-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'lares-ops-cli-'));
let server: TestPostgres;
const source = join(dir, 'source.db');

before(async () => {
  server = await startTestPostgres();
  const store = await openSqliteStore(source);
  await fillStore(store);
  await store.close();
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('lares export writes pure JSON lines on stdout; --out with --format json writes a file', async () => {
  const run = await runLares(['export'], { SQLITE_DB_PATH: source });
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines[0].type, 'header');
  assert.equal(lines.filter((l) => l.type === 'message').length, 6);
  assert.match(run.stderr, /exported 6 messages/);
  const out = join(dir, 'export.json');
  const toFile = await runLares(['export', '--format', 'json', '--out', out], { SQLITE_DB_PATH: source });
  assert.equal(toFile.code, 0, toFile.stderr);
  assert.equal(toFile.stdout, '');
  const document = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(document.format, 'lares-export');
  assert.equal(document.messages.length, 6);
  const bad = await runLares(['export', '--format', 'xml'], { SQLITE_DB_PATH: source });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /json, jsonl/);
});

test('lares import fills an empty store and refuses a non-empty one with exit 1', async () => {
  const file = join(dir, 'for-import.jsonl');
  assert.equal((await runLares(['export', '--out', file], { SQLITE_DB_PATH: source })).code, 0);
  const target = join(dir, 'imported.db');
  const first = await runLares(['import', file, '--json'], { SQLITE_DB_PATH: target });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).message, 6);
  const second = await runLares(['import', file], { SQLITE_DB_PATH: target });
  assert.equal(second.code, 1);
  assert.match(second.stderr, /is not empty \(3 memory_blocks.*6 messages/);
  assert.match(second.stderr, /new, empty store/);
  const missing = await runLares(['import', join(dir, 'nope.jsonl')], { SQLITE_DB_PATH: join(dir, 'other.db') });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /there is no file/);
});

test('lares export | lares import - round-trips through a pipe, in both formats', async () => {
  for (const format of ['jsonl', 'json']) {
    const target = join(dir, `piped-${format}.db`);
    const bin = fileURLToPath(new URL('../../bin/lares.js', import.meta.url));
    const piped = await spawnCollect('sh', ['-c', `"$NODE" "$BIN" export --format ${format} | SQLITE_DB_PATH="$TARGET" "$NODE" "$BIN" import - --json`], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LARES_ENV_FILE: '/nonexistent/lares.env', LOG_LEVEL: 'warn', LOG_FORMAT: 'json', NODE: process.execPath, BIN: bin, TARGET: target, SQLITE_DB_PATH: source },
    });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(JSON.parse(piped.stdout).message, 6, format);
    const again = await runLares(['export'], { SQLITE_DB_PATH: target });
    const original = await runLares(['export'], { SQLITE_DB_PATH: source });
    const body = (text: string) => text.trim().split('\n').filter((l) => JSON.parse(l).type !== 'header');
    assert.deepEqual(body(again.stdout), body(original.stdout), `${format}: nothing lost through the pipe`);
  }
  const empty = await runLares(['import', '-'], { SQLITE_DB_PATH: join(dir, 'from-nothing.db') });
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /standard input is empty/);
});

test('lares db copy moves SQLite to PostgreSQL with progress on stderr, and refuses to copy twice', async () => {
  const url = await server.createDatabase('cli_copy');
  const run = await runLares(['db', 'copy', '--to', url, '--batch-size', '2'], { SQLITE_DB_PATH: source });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /copied \d+ rows \(6 messages\)/);
  assert.match(run.stderr, /messages: 6\/6/);
  const store = await openPostgresStore(url);
  assert.equal((await store.counts()).messages, 6);
  assert.deepEqual((await store.listBlocks()).map((b) => b.label), ['persona', 'human', 'rules']);
  await store.close();
  const again = await runLares(['db', 'copy', '--to', url], { SQLITE_DB_PATH: source });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /target postgres database is not empty/);
  const noSource = await runLares(['db', 'copy', '--to', url], { SQLITE_DB_PATH: join(dir, 'missing.db') });
  assert.equal(noSource.code, 2);
  assert.match(noSource.stderr, /no SQLite database at/);
  const noTarget = await runLares(['db', 'copy'], { SQLITE_DB_PATH: source });
  assert.equal(noTarget.code, 2);
});
