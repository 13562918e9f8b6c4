// Review findings on `lares context`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { makeConfig, makeWorkspace, startServer, TOKEN } from '../mcp/helpers.ts';
import { runLares } from '../support/cli.ts';

// the guard turns a hang (the command never exits) into a failure instead of a stuck suite
test('lares context exits with the store error when the database cannot be opened while MCP_URL is set', { timeout: 60_000 }, async (t) => {
  const ws = makeWorkspace();
  t.after(() => ws.cleanup());
  const server = await startServer(makeConfig(ws));
  t.after(() => server.close());
  // a database from a newer Lares: opening the store fails after the MCP connection is made
  const newer = join(ws.dir, 'newer.db');
  const db = new DatabaseSync(newer);
  db.exec('PRAGMA user_version = 99');
  db.close();
  const result = await runLares(['context', '--json'], {
    env: { HOME: ws.dir, LARES_ENV_FILE: join(ws.dir, 'none.env'), USE_DIRECT_LLM: 'true', MCP_URL: server.url, LARES_MCP_TOKEN: TOKEN, SQLITE_DB_PATH: newer },
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /schema version 99/);
  assert.equal(result.stdout, '');
});
