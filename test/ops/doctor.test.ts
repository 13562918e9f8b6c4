// lares doctor against real local services: the Lares MCP server, the Letta fake and the
// Anthropic fake (driven by the real SDKs), temp data directories and damaged databases.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger, setLogger } from '../../src/log.ts';
import { startMcpHttpServer, type McpHttpServer } from '../../src/mcp-server/http.ts';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import { openPostgresStore } from '../../src/memory/postgres/postgres-store.ts';
import { formatDoctorReport, runDoctor, type DoctorReport } from '../../src/ops/doctor.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic.ts';
import { FakeLettaServer } from '../fakes/letta.ts';
import { makeLettaDataset } from '../fakes/letta-dataset.ts';
import { startTestPostgres, type TestPostgres } from '../support/postgres.ts';
import { runLares } from '../support/run-lares.ts';

setLogger(createLogger({ level: 'silent', pretty: false }));

const MCP_TOKEN = 'doctor-test-token-0123456789';
const DISCORD_TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB';
const dir = mkdtempSync(join(tmpdir(), 'lares-doctor-'));
const dataDir = join(dir, 'data');
const dbPath = join(dataDir, 'lares.db');
let mcp: McpHttpServer;
let letta: FakeLettaServer;
let anthropic: FakeAnthropic;
const dataset = makeLettaDataset({ messages: 5 });

before(async () => {
  mkdirSync(dataDir, { recursive: true });
  const store = await openSqliteStore(dbPath);
  await store.setMeta('k', 'v');
  await store.close();
  const mcpDir = join(dir, 'mcp');
  mkdirSync(join(mcpDir, 'allowed'), { recursive: true });
  mcp = await startMcpHttpServer(loadConfig({
    SQLITE_DB_PATH: join(mcpDir, 'mcp.db'), LARES_ALLOWED_PATHS: join(mcpDir, 'allowed'), LARES_MCP_TOKEN: MCP_TOKEN, MCP_HOST: '127.0.0.1', MCP_PORT: '0',
  }), { host: '127.0.0.1', port: 0 });
  letta = new FakeLettaServer({ password: 'letta-pw', agents: [dataset] });
  await letta.start();
  anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-doctor' });
});
after(async () => {
  await mcp?.close();
  await letta?.close();
  await anthropic?.close();
  rmSync(dir, { recursive: true, force: true });
});

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    USE_DIRECT_LLM: 'true', SQLITE_DB_PATH: dbPath, ANTHROPIC_API_KEY: 'sk-ant-doctor', ANTHROPIC_BASE_URL: anthropic.url,
    MCP_URL: mcp.url, LARES_MCP_TOKEN: MCP_TOKEN,
    LETTA_BASE_URL: letta.url, LETTA_AGENT_ID: dataset.agent.id, LETTA_API_KEY: 'letta-pw',
    DISCORD_BOT_TOKEN: DISCORD_TOKEN, DISCORD_CHANNEL_ID: '123456789012345678', DISCORD_OWNER_ID: '223456789012345678',
    ...extra,
  };
}

async function doctor(extra: Record<string, string | undefined> = {}, live = false): Promise<DoctorReport> {
  return runDoctor(loadConfig(env(extra)), { live, timeoutMs: 5000 });
}

function check(report: DoctorReport, id: string) {
  const found = report.checks.find((c) => c.id === id);
  assert.ok(found, `no check ${id} in ${JSON.stringify(report.checks.map((c) => c.id))}`);
  return found;
}

describe('lares doctor', () => {
  test('everything configured and healthy: every check passes', async () => {
    const report = await doctor({}, true);
    const failed = report.checks.filter((c) => c.status === 'fail');
    assert.deepEqual(failed, []);
    assert.equal(report.ok, true);
    for (const id of ['node', 'data_dir', 'database', 'schema', 'integrity', 'anthropic', 'anthropic_live', 'letta', 'letta_agent', 'mcp', 'mcp_tools', 'approvals', 'discord_token', 'discord_channel']) {
      assert.equal(check(report, id).status, 'ok', id);
    }
    assert.match(check(report, 'mcp_tools').message, /\d+ tools listed/);
    assert.match(check(report, 'approvals').message, /0 pending approvals/);
    assert.match(check(report, 'anthropic_live').message, /count_tokens/);
    assert.equal(anthropic.countRequests.length, 1);
    const text = formatDoctorReport(report);
    assert.match(text, /✓ PRAGMA integrity_check: ok/);
    assert.match(text, /All required checks passed/);
  });

  test('pending approvals are counted', async () => {
    const response = await fetch(`${mcp.baseUrl}/approvals`, {
      method: 'POST', headers: { authorization: `Bearer ${MCP_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'run_shell_command', args: { command: 'touch doctor-was-here' } }),
    });
    assert.ok(response.status === 202 || response.status === 200, `POST /approvals answered ${response.status}`);
    const report = await doctor();
    assert.match(check(report, 'approvals').message, /1 pending approval\b/);
  });

  test('a wrong MCP token fails the MCP checks with the fix', async () => {
    const report = await doctor({ LARES_MCP_TOKEN: 'wrong-token-xxxxxxxxxxxxxxxx' });
    assert.equal(report.ok, false);
    assert.equal(check(report, 'mcp').status, 'ok');
    assert.equal(check(report, 'mcp_tools').status, 'fail');
    assert.match(check(report, 'mcp_tools').fix!, /LARES_MCP_TOKEN/);
    assert.equal(check(report, 'approvals').status, 'fail');
  });

  test('an MCP server that is down is reported unreachable', async () => {
    const report = await doctor({ MCP_URL: 'http://127.0.0.1:9/mcp' });
    assert.equal(check(report, 'mcp').status, 'fail');
    assert.match(check(report, 'mcp').fix!, /systemctl start lares-mcp/);
    assert.equal(report.ok, false);
  });

  test('Letta: wrong password, unknown agent, unreachable; optional in direct mode, required in Letta mode', async () => {
    const wrongKey = await doctor({ LETTA_API_KEY: 'nope' });
    assert.equal(check(wrongKey, 'letta').status, 'ok');
    assert.equal(check(wrongKey, 'letta_agent').status, 'fail');
    assert.match(check(wrongKey, 'letta_agent').message, /refused the credentials/);
    assert.equal(check(wrongKey, 'letta_agent').required, false);
    assert.equal(wrongKey.ok, true);
    const unknown = await doctor({ USE_DIRECT_LLM: 'false', LETTA_AGENT_ID: 'agent-00000000-0000-4000-8000-000000000000' });
    assert.match(check(unknown, 'letta_agent').message, /no agent agent-0000/);
    assert.equal(unknown.ok, false);
    const down = await doctor({ USE_DIRECT_LLM: 'false', LETTA_BASE_URL: 'http://127.0.0.1:9' });
    assert.match(check(down, 'letta').message, /unreachable/);
    assert.equal(down.ok, false);
  });

  test('Anthropic: a missing key fails in direct mode; --live reports a refused key', async () => {
    const missing = await doctor({ ANTHROPIC_API_KEY: undefined });
    assert.equal(check(missing, 'anthropic').status, 'fail');
    assert.equal(missing.ok, false);
    const refused = await doctor({ ANTHROPIC_API_KEY: 'sk-ant-wrong' }, true);
    assert.equal(check(refused, 'anthropic').status, 'ok');
    assert.equal(check(refused, 'anthropic_live').status, 'fail');
    assert.match(check(refused, 'anthropic_live').fix!, /refused/);
    const notLive = await doctor({ ANTHROPIC_API_KEY: 'sk-ant-wrong' });
    assert.equal(check(notLive, 'anthropic_live').status, 'skip');
  });

  test('Discord: malformed token, "Bot " prefix, missing channel', async () => {
    assert.match(check(await doctor({ DISCORD_BOT_TOKEN: 'not-a-token' }), 'discord_token').message, /not shaped like a bot token/);
    assert.match(check(await doctor({ DISCORD_BOT_TOKEN: `Bot ${DISCORD_TOKEN}` }), 'discord_token').fix!, /remove the "Bot " prefix/);
    const noChannel = await doctor({ DISCORD_CHANNEL_ID: undefined });
    assert.equal(check(noChannel, 'discord_channel').status, 'fail');
    assert.equal(noChannel.ok, false);
    assert.equal(check(await doctor({ DISCORD_BOT_TOKEN: undefined, DISCORD_CHANNEL_ID: undefined }), 'discord').status, 'skip');
  });

  test('Discord: a missing DISCORD_OWNER_ID fails (lares run refuses to start without it)', async () => {
    const noOwner = await doctor({ DISCORD_OWNER_ID: undefined });
    assert.equal(check(noOwner, 'discord_owner').status, 'fail');
    assert.match(check(noOwner, 'discord_owner').fix!, /Copy User ID/);
    assert.equal(noOwner.ok, false);
    assert.equal(check(await doctor(), 'discord_owner').status, 'ok');
  });

  test('data directory missing or a file; database damaged or from a newer Lares', async () => {
    // Lares creates a missing data directory on first start: fine when it can be created
    const creatable = await doctor({ SQLITE_DB_PATH: join(dir, 'nowhere', 'deeper', 'lares.db') });
    assert.equal(check(creatable, 'data_dir').status, 'ok');
    assert.match(check(creatable, 'data_dir').message, /does not exist yet; Lares creates it on first start/);
    assert.equal(existsSync(join(dir, 'nowhere')), false, 'doctor only reads');
    const missing = await doctor({ SQLITE_DB_PATH: '/proc/lares-nowhere/data/lares.db' });
    assert.equal(check(missing, 'data_dir').status, 'fail');
    assert.match(check(missing, 'data_dir').message, /does not exist and cannot be created/);
    assert.match(check(missing, 'data_dir').fix!, /mkdir -p/);
    writeFileSync(join(dir, 'plainfile'), 'x');
    assert.match(check(await doctor({ SQLITE_DB_PATH: join(dir, 'plainfile', 'lares.db') }), 'data_dir').message, /not a directory/);

    const garbage = join(dataDir, 'garbage.db');
    writeFileSync(garbage, 'this is not a database at all, just some text that is long enough'.repeat(100));
    const notDb = await doctor({ SQLITE_DB_PATH: garbage });
    assert.equal(check(notDb, 'database').status, 'fail');
    assert.equal(notDb.ok, false);

    const newer = join(dataDir, 'newer.db');
    const store = await openSqliteStore(newer);
    store.db.exec('PRAGMA user_version = 99');
    await store.close();
    assert.match(check(await doctor({ SQLITE_DB_PATH: newer }), 'schema').message, /newer than this Lares/);

    const corrupt = join(dataDir, 'corrupt.db');
    const big = await openSqliteStore(corrupt);
    await big.appendMessages(Array.from({ length: 400 }, (_, i) => ({ role: 'user' as const, blocks: [{ type: 'text' as const, text: `message ${i} ${'padding '.repeat(40)}` }] })));
    big.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    await big.close();
    // overwrite some pages in the middle of the file: the B-trees no longer add up
    const { openSync, writeSync, closeSync, statSync } = await import('node:fs');
    const fd = openSync(corrupt, 'r+');
    const size = statSync(corrupt).size;
    writeSync(fd, Buffer.alloc(4096 * 3, 0xab), 0, 4096 * 3, Math.floor(size / 2 / 4096) * 4096);
    closeSync(fd);
    const damaged = await doctor({ SQLITE_DB_PATH: corrupt });
    const integrity = damaged.checks.find((c) => c.id === 'integrity') ?? check(damaged, 'database');
    assert.equal(integrity.status, 'fail');
    assert.equal(damaged.ok, false);
  });

  test('a database that does not exist yet is fine (created on first start)', async () => {
    const report = await doctor({ SQLITE_DB_PATH: join(dataDir, 'fresh.db') });
    assert.match(check(report, 'database').message, /no database yet/);
    assert.equal(check(report, 'database').status, 'ok');
  });
});

describe('lares doctor with PostgreSQL', () => {
  let server: TestPostgres;
  before(async () => { server = await startTestPostgres(); });
  after(async () => { await server?.stop(); });

  test('connects and reads the schema version; an unreachable server fails with the fix', async () => {
    const url = await server.createDatabase('doctor_pg');
    const fresh = await doctor({ MEMORY_PROVIDER: 'postgres', DATABASE_URL: url });
    assert.equal(check(fresh, 'database').status, 'ok');
    assert.match(check(fresh, 'schema').message, /schema version 0 of \d+: Lares migrates it/);
    await (await openPostgresStore(url)).close();
    const migrated = await doctor({ MEMORY_PROVIDER: 'postgres', DATABASE_URL: url });
    assert.match(check(migrated, 'schema').message, /is current/);
    assert.equal(migrated.ok, true);
    const down = await doctor({ MEMORY_PROVIDER: 'postgres', DATABASE_URL: 'postgres://lares:hunter2@127.0.0.1:9/x' });
    assert.equal(check(down, 'database').status, 'fail');
    assert.match(check(down, 'database').fix!, /pg_isready/);
    assert.doesNotMatch(JSON.stringify(down), /hunter2/);
  });
});

describe('lares doctor command', () => {
  test('--json prints pure JSON and exits 0 when healthy, 1 when a required check fails', async () => {
    const good = await runLares(['doctor', '--json'], env());
    assert.equal(good.code, 0, good.stdout + good.stderr);
    const report = JSON.parse(good.stdout);
    assert.equal(report.ok, true);
    assert.ok(report.checks.every((c: any) => ['ok', 'skip', 'fail'].includes(c.status)));
    const bad = await runLares(['doctor'], env({ ANTHROPIC_API_KEY: undefined }));
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /✗ ANTHROPIC_API_KEY is not set\n {4}fix: /);
  });

  test('an invalid configuration is reported as a failed check, not a crash', async () => {
    const run = await runLares(['doctor', '--json'], env({ CONTEXT_LIMIT: 'lots', DISCORD_CHANNEL_ID: 'general' }));
    assert.equal(run.code, 1);
    const report = JSON.parse(run.stdout);
    assert.equal(report.checks[0].id, 'config');
    assert.match(report.checks[0].message, /CONTEXT_LIMIT/);
    assert.match(report.checks[0].message, /DISCORD_CHANNEL_ID/);
  });
});
