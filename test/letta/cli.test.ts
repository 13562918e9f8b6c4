import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import { ensureDefaultBlocks } from '../../src/memory/default-blocks.ts';
import { FakeLettaServer } from '../fakes/letta.ts';
import { makeLettaDataset } from '../fakes/letta-dataset.ts';
import { startFakeOllama } from '../fakes/embeddings.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PASSWORD = 'cli-letta-password';
const dir = mkdtempSync(join(tmpdir(), 'lares-letta-cli-'));
const dataset = makeLettaDataset({ messages: 800, seed: 5 });
const fake = new FakeLettaServer({ password: PASSWORD, agents: [dataset] });
let url = '';

before(async () => { url = await fake.start(); });
after(async () => { await fake.close(); rmSync(dir, { recursive: true, force: true }); });

interface Run { code: number; stdout: string; stderr: string }

function lares(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/lares.js'), ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, LARES_ENV_FILE: join(dir, 'no.env'), LOG_LEVEL: 'warn', LARES_EMBEDDER: 'none', ...env },
      maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

function env(db: string, extra: Record<string, string> = {}): Record<string, string> {
  return { LETTA_BASE_URL: url, LARES_AGENT_ID: dataset.agent.id, LETTA_SERVER_PASSWORD: PASSWORD, SQLITE_DB_PATH: db, MIGRATE_MESSAGES: 'true', ...extra };
}

describe('lares migrate (CLI)', () => {
  const db = join(dir, 'lares.db');

  it('migrates, prints a summary on stdout, and --verify finds everything', async () => {
    const run = await lares(['migrate'], env(db));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Memory blocks \(5\):/);
    assert.match(run.stdout, /persona +\d+ chars/);
    assert.ok(run.stdout.includes(`Messages: ${dataset.rows.length} Letta rows`), run.stdout);
    assert.match(run.stdout, /tool calls: \d+/);
    assert.match(run.stdout, /Archival passages: 40 \(40 added/);
    assert.match(run.stdout, /send_message return/);
    assert.match(run.stderr, /messages: [\d,]+ read/);
    assert.deepEqual(fake.writes(), []);
    // the self-hosted server's own header was sent, since the key came from LETTA_SERVER_PASSWORD
    assert.ok(fake.requests.every((r) => r.headers['x-bare-password'] === `password ${PASSWORD}`));

    const verify = await lares(['migrate', '--verify', '--json'], env(db));
    assert.equal(verify.code, 0, verify.stderr);
    const report = JSON.parse(verify.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.messages.missing, 0);
    assert.equal(report.newest.length, 5);
    assert.ok(report.blocks.every((b: { identical: boolean }) => b.identical));

    // character counts agree with the seed's step 2 (sqlite3 … LENGTH(content)), emoji included
    const sqlite = new DatabaseSync(db, { readOnly: true });
    const lengths = sqlite.prepare('SELECT label, LENGTH(content) AS chars FROM memory_blocks').all() as Array<{ label: string; chars: number }>;
    sqlite.close();
    assert.ok(dataset.blocks[0].value.includes('🏠'));
    for (const { label, chars } of lengths) {
      assert.equal(report.blocks.find((b: { label: string }) => b.label === label).chars, chars, label);
      assert.match(run.stdout, new RegExp(`\\n  ${label} +${chars.toLocaleString('en-US')} chars`), label);
    }
  });

  it('--json prints only JSON; a second run adds nothing', async () => {
    const run = await lares(['migrate', '--json'], env(db));
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.messages.added, 0);
    assert.equal(report.passages.added, 0);
  });

  it('leaves the migrated history fully indexed for search (keyword context and every vector) when it exits 0', async () => {
    const ollama = await startFakeOllama();
    try {
      const indexed = join(dir, 'indexed.db');
      const run = await lares(['migrate', '--json'], env(indexed, { LARES_EMBEDDER: 'ollama', OLLAMA_BASE_URL: ollama.url }));
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout);
      assert.equal(report.index.embedder, 'ollama:nomic-embed-text');
      const store = await openSqliteStore(indexed);
      const stats = await store.recallStats('ollama:nomic-embed-text');
      await store.close();
      assert.ok(stats.messages > 0);
      assert.equal(stats.contextThrough, stats.lastMessageId, 'every message has its keyword context');
      assert.equal(stats.embedded, stats.messages + stats.summaries + stats.passages, 'every message, summary and passage has its vector');
      const search = await lares(['search', 'garden', '--json'], { SQLITE_DB_PATH: indexed, LARES_EMBEDDER: 'ollama', OLLAMA_BASE_URL: ollama.url });
      assert.equal(search.code, 0, search.stderr);
      assert.ok(JSON.parse(search.stdout).length > 0);
    } finally {
      await ollama.close();
    }
  });

  it('--no-messages copies blocks and passages only; --dry-run writes nothing', async () => {
    const light = join(dir, 'light.db');
    const run = await lares(['migrate', '--no-messages', '--json'], env(light));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).messages.added, 0);
    const store = await openSqliteStore(light);
    assert.equal((await store.counts()).messages, 0);
    assert.equal((await store.counts()).blocks, 5);
    await store.close();
    const dry = join(dir, 'dry.db');
    const dryRun = await lares(['migrate', '--dry-run'], env(dry));
    assert.equal(dryRun.code, 0, dryRun.stderr);
    assert.match(dryRun.stdout, /Dry run: nothing was written/);
    assert.equal(existsSync(dry), false);
    // without MIGRATE_MESSAGES (as in the seed) the history is left out unless --messages says so
    const seedDefault = await lares(['migrate', '--dry-run', '--json'], env(dry, { MIGRATE_MESSAGES: '' }));
    assert.equal(JSON.parse(seedDefault.stdout).messages.included, false);
    const flagged = await lares(['migrate', '--dry-run', '--json', '--messages'], env(dry, { MIGRATE_MESSAGES: '' }));
    assert.equal(JSON.parse(flagged.stdout).messages.included, true);
    assert.equal(existsSync(dry), false);
  });

  it('Ctrl-C mid-run exits 130 saying what is saved; the next run resumes without duplicates', async () => {
    const target = join(dir, 'interrupted.db');
    let pages = 0;
    // from the third page on, connections drop: the client keeps retrying, so the run is mid-way
    fake.fault = (r) => (r.path.endsWith('/messages') && ++pages > 2 ? 'drop' : undefined);
    const child = spawn(process.execPath, [join(ROOT, 'bin/lares.js'), 'migrate', '--page-size', '50'], {
      cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, LARES_ENV_FILE: join(dir, 'no.env'), LOG_LEVEL: 'warn', ...env(target) },
    });
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    await new Promise<void>((ready) => child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/messages: [\d,]+ read/.test(stderr)) ready();
    }));
    await new Promise<void>((waiting) => { const poll = () => (pages > 3 ? waiting() : setImmediate(poll)); poll(); });
    child.kill('SIGINT');
    const code = await exited;
    fake.fault = () => undefined;
    assert.equal(code, 130, stderr);
    assert.match(stderr, /lares migrate: interrupted \(SIGINT\)\. What was read so far is saved \([\d,]+ messages added in this run\); run lares migrate again to resume without duplicates\./);
    const store = await openSqliteStore(target);
    const partial = (await store.counts()).messages;
    await store.close();
    assert.ok(partial > 0, 'the pages read before Ctrl-C are kept');

    const resumed = await lares(['migrate', '--json'], env(target));
    assert.equal(resumed.code, 0, resumed.stderr);
    const report = JSON.parse(resumed.stdout);
    assert.equal(report.messages.alreadyPresent, partial);
    assert.equal(report.messages.added + partial, report.messages.converted);
  });

  it('a wrong key exits 2 (a configuration problem) with a clear message and creates no database', async () => {
    const bad = join(dir, 'bad.db');
    const run = await lares(['migrate'], env(bad, { LETTA_SERVER_PASSWORD: 'nope' }));
    assert.equal(run.code, 2);
    assert.match(run.stderr, /the Letta API key is wrong \(LETTA_API_KEY\)/);
    assert.doesNotMatch(run.stderr, /nope/);
    assert.equal(existsSync(bad), false);
  });

  it('an unknown agent exits 2 naming the id; missing settings exit 2', async () => {
    const bad = join(dir, 'bad-agent.db');
    const missing = 'agent-11111111-2222-4333-8444-555555555555';
    const run = await lares(['migrate'], env(bad, { LARES_AGENT_ID: missing }));
    assert.equal(run.code, 2);
    assert.ok(run.stderr.includes(missing), run.stderr);
    assert.equal(existsSync(bad), false);
    const none = await lares(['migrate'], { SQLITE_DB_PATH: bad });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /LETTA_BASE_URL/);
  });

  it('--from-file imports a Letta agent file and says what it lacks', async () => {
    const file = join(dir, 'agent.af');
    const rows = dataset.rows.slice(0, 120).map((r, i) => ({ ...r, id: `message-${i}` }));
    writeFileSync(file, JSON.stringify({
      agents: [{ ...dataset.agent, id: 'agent-0', messages: rows, block_ids: ['block-0', 'block-1'], in_context_message_ids: rows.map((r) => r.id) }],
      blocks: dataset.blocks.slice(0, 2).map((b, i) => ({ ...b, id: `block-${i}` })),
      groups: [], files: [], sources: [], tools: [], mcp_servers: [], metadata: {},
    }));
    const target = join(dir, 'from-file.db');
    const run = await lares(['migrate', '--from-file', file], { SQLITE_DB_PATH: target, MIGRATE_MESSAGES: 'true' });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Messages: 120 Letta rows/);
    assert.ok(run.stdout.startsWith(`Migrated agent file ${file} (lares) into ${target} in `), run.stdout.split('\n')[0]);
    assert.match(run.stdout, /Note: an \.af agent file holds only the messages that were in the agent's context window/);
    assert.match(run.stdout, /no archival memory passages/);
    const store = await openSqliteStore(target);
    assert.equal((await store.getBlock('human'))?.content, dataset.blocks[1].value);
    const converted = Number(/→ (\d+) Lares messages/.exec(run.stdout)?.[1]);
    assert.ok(converted > 50);
    assert.equal((await store.counts()).messages, converted);
    await store.close();
    const broken = join(dir, 'broken.af');
    writeFileSync(broken, '{"not": "an agent file"}');
    const bad = await lares(['migrate', '--from-file', broken], { SQLITE_DB_PATH: target });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a Letta agent file/);
  });
});

describe('lares rollback', () => {
  it('explains the switch; --sync-blocks pushes changed blocks to Letta (and nothing else)', async () => {
    const db = join(dir, 'lares.db');
    const info = await lares(['rollback'], {});
    assert.equal(info.code, 0);
    assert.match(info.stdout, /USE_DIRECT_LLM=false/);
    assert.match(info.stdout, /messages exchanged in direct mode stay in Lares only/);

    const store = await openSqliteStore(db);
    await store.setBlockContent('human', 'Name: Daniele\nNew in direct mode: likes tea now 🍵', 'agent:memory_replace');
    await store.close();
    const first = fake.requests.length;
    const dry = await lares(['rollback', '--sync-blocks', '--dry-run', '--json'], env(db));
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(JSON.parse(dry.stdout).blocks.filter((b: { action: string }) => b.action !== 'unchanged').map((b: { label: string; action: string }) => [b.label, b.action]), [['human', 'would update']]);
    assert.deepEqual(fake.writes(), []);

    const run = await lares(['rollback', '--sync-blocks'], env(db));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /human: \d+ chars, updated/);
    const writes = fake.requests.slice(first).filter((r) => r.method !== 'GET');
    assert.deepEqual(writes.map((r) => [r.method, r.path]), [['PATCH', `/v1/agents/${dataset.agent.id}/core-memory/blocks/human`]]);
    assert.equal(fake.agents.get(dataset.agent.id)!.blocks.find((b) => b.label === 'human')!.value, 'Name: Daniele\nNew in direct mode: likes tea now 🍵');
  });

  it('--sync-blocks never overwrites Letta with values nobody changed in Lares (unless --force)', async () => {
    const db = join(dir, 'lares.db'); // migrated by the first test
    // the Letta agent's persona changed after the migration (e.g. in the ADE); Lares's copy is untouched
    const persona = fake.agents.get(dataset.agent.id)!.blocks.find((b) => b.label === 'persona')!;
    persona.value = 'Edited in Letta after the migration.';
    const first = fake.requests.length;
    const run = await lares(['rollback', '--sync-blocks', '--json'], env(db));
    assert.equal(run.code, 0, run.stderr);
    const entry = JSON.parse(run.stdout).blocks.find((b: { label: string }) => b.label === 'persona');
    assert.equal(entry.action, 'kept Letta\'s value');
    assert.match(entry.detail, /not changed in Lares since lares migrate copied it/);
    assert.deepEqual(fake.requests.slice(first).filter((r) => r.method !== 'GET'), []);
    assert.equal(persona.value, 'Edited in Letta after the migration.');

    // a fresh Lares database holds only Lares's default blocks: those never go to Letta either
    const fresh = join(dir, 'fresh.db');
    const store = await openSqliteStore(fresh);
    await ensureDefaultBlocks(store);
    await store.close();
    const defaults = await lares(['rollback', '--sync-blocks', '--json'], env(fresh));
    assert.equal(defaults.code, 0, defaults.stderr);
    const actions = JSON.parse(defaults.stdout).blocks.filter((b: { action: string }) => b.action !== 'not in Letta' && b.action !== 'unchanged');
    assert.ok(actions.length > 0 && actions.every((b: { action: string; detail: string }) => b.action === 'kept Letta\'s value' && /Lares's default/.test(b.detail)), defaults.stdout);
    assert.deepEqual(fake.requests.slice(first).filter((r) => r.method !== 'GET'), []);

    const forced = await lares(['rollback', '--sync-blocks', '--force'], env(db));
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /persona: \d+ chars, updated/);
    assert.equal(persona.value, dataset.blocks[0].value);
  });

  it('--verify and --sync-blocks refuse to run on a database that does not exist (and do not create it)', async () => {
    const missing = join(dir, 'typo', 'lares.db');
    for (const args of [['migrate', '--verify'], ['rollback', '--sync-blocks', '--dry-run']]) {
      const run = await lares(args, env(missing));
      assert.equal(run.code, 2, run.stderr);
      assert.ok(run.stderr.includes(`there is no Lares database at ${missing}. Run lares migrate first`), run.stderr);
      assert.equal(existsSync(missing), false);
    }
  });
});
