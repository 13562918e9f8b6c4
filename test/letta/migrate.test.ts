import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { Letta } from '@letta-ai/letta-client';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import { ensureDefaultBlocks } from '../../src/memory/default-blocks.ts';
import type { ContentBlock } from '../../src/llm/content.ts';
import type { StoredMessage } from '../../src/memory/store.ts';
import { toApiMessages } from '../../src/agent/context.ts';
import { LaresError } from '../../src/errors.ts';
import { ApiSource } from '../../src/letta/source.ts';
import { runMigration, type MigrationReport } from '../../src/letta/migrate.ts';
import { verifyMigration } from '../../src/letta/verify.ts';
import { assertToolCallsKept } from './tool-calls.ts';
import { checkToolPairing } from '../../src/letta/history-check.ts';
import type { LettaConnection } from '../../src/letta/client.ts';
import { FakeLettaServer } from '../fakes/letta.ts';
import { makeLettaDataset, type LettaDataset } from '../fakes/letta-dataset.ts';
import { startFakeAnthropic } from '../fakes/anthropic.ts';

const PASSWORD = 'hunter2-letta';
const dir = mkdtempSync(join(tmpdir(), 'lares-letta-migrate-'));
const dataset: LettaDataset = makeLettaDataset({ messages: 3000, seed: 11 });
const fake = new FakeLettaServer({ password: PASSWORD, agents: [dataset] });
let url = '';

before(async () => { url = await fake.start(); });
after(async () => { await fake.close(); rmSync(dir, { recursive: true, force: true }); });

function connection(extra: Partial<LettaConnection> = {}): LettaConnection {
  return { baseUrl: url, agentId: dataset.agent.id, apiKey: PASSWORD, ...extra };
}

async function migrate(dbPath: string, extra: Partial<LettaConnection> = {}, pageSize = 37): Promise<MigrationReport> {
  return runMigration({ source: new ApiSource(connection(extra)), openStore: () => openSqliteStore(dbPath), messages: true, pageSize });
}

async function allMessages(dbPath: string): Promise<StoredMessage[]> {
  const store = await openSqliteStore(dbPath);
  try {
    const { messages } = await store.counts();
    return await store.messagesInRange(1, messages + 1000);
  } finally { await store.close(); }
}

function texts(messages: StoredMessage[], role: string): string[] {
  return messages.filter((m) => m.role === role).flatMap((m) => m.blocks.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text));
}

function countOf(list: string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const x of list) map.set(x, (map.get(x) ?? 0) + 1);
  return map;
}

describe('lares migrate from a Letta server', () => {
  const db = join(dir, 'full.db');
  let report: MigrationReport;

  before(async () => {
    fake.requests.length = 0;
    report = await migrate(db);
  });

  it('copies every memory block byte for byte, with description, limit and read-only flag', async () => {
    const store = await openSqliteStore(db);
    try {
      for (const b of dataset.blocks) {
        const copied = await store.getBlock(b.label);
        assert.ok(copied, `block ${b.label} copied`);
        assert.equal(copied.content, b.value);
        assert.equal(Buffer.compare(Buffer.from(copied.content), Buffer.from(b.value)), 0);
        assert.equal(copied.description, b.description ?? '');
        assert.equal(copied.charLimit, b.limit);
        assert.equal(copied.readOnly, b.read_only);
      }
      assert.equal(await store.getMeta('base_instructions'), 'You are Lares, a helpful companion.\nFollow your persona.');
    } finally { await store.close(); }
  });

  it('reads every stored row and copies each message exactly once', async () => {
    assert.equal(report.messages.lettaRows, dataset.rows.length);
    const messages = await allMessages(db);
    assert.equal(messages.length, report.messages.added);
    assert.equal(new Set(messages.map((m) => m.sourceRef)).size, messages.length, 'source_ref is unique');

    const users = countOf(texts(messages, 'user'));
    for (const [text, n] of countOf(dataset.expected.userTexts)) assert.equal(users.get(text), n, `user text ${JSON.stringify(text.slice(0, 40))}`);
    const assistants = countOf(texts(messages, 'assistant'));
    for (const [text, n] of countOf(dataset.expected.assistantTexts)) assert.equal(assistants.get(text), n, `assistant text ${JSON.stringify(text.slice(0, 40))}`);
    const events = countOf(texts(messages, 'system'));
    for (const [text, n] of countOf(dataset.expected.events)) assert.equal(events.get(text), n, `event ${JSON.stringify(text.slice(0, 40))}`);
    assert.ok(texts(messages, 'user').some((t) => t.length >= 49_000), 'a 50k-character message survived');
    // legacy {"type":"user_message"} wrappers are unwrapped; heartbeats never become the person speaking
    assert.ok(!texts(messages, 'user').some((t) => t.includes('"type": "user_message"') || t.includes('"type": "heartbeat"')));
  });

  it('pairs every tool call with its result (error status kept), and answers calls Letta never answered', async () => {
    assertToolCallsKept(await allMessages(db), dataset.expected.toolCalls);
    assert.ok(report.messages.syntheticResults > 0);
  });

  it('keeps a history the Anthropic API accepts: the strict pairing check finds nothing', async () => {
    assert.deepEqual(checkToolPairing(await allMessages(db)), []);
  });

  it('imports Letta summary alerts as summaries that compact what they cover', async () => {
    const store = await openSqliteStore(db);
    try {
      const summaries = await store.listSummaries();
      assert.equal(summaries.length, dataset.expected.summaries);
      assert.ok(summaries.every((s) => s.summary.startsWith('Summary ') && !s.summary.includes('hidden from view')));
      const counts = await store.counts();
      assert.ok(counts.compactedMessages > 0);
      // the part Lares replays (after the last summary) is valid on its own
      assert.deepEqual(checkToolPairing(await store.uncompactedMessages()), []);
    } finally { await store.close(); }
  });

  it('copies archival passages with tags and dates, without embeddings', async () => {
    const store = await openSqliteStore(db);
    try {
      const passages = await store.listPassages();
      assert.equal(passages.length, dataset.passages.length);
      const byText = new Map(passages.map((p) => [p.text, p]));
      for (const p of dataset.passages) {
        const copied = byText.get(p.text);
        assert.ok(copied);
        assert.deepEqual(copied.tags, p.tags);
        assert.equal(copied.createdAt, p.created_at);
      }
    } finally { await store.close(); }
  });

  it('only reads from Letta, paging with order=asc and after=<last id> until an empty page', () => {
    assert.deepEqual(fake.writes(), []);
    const pages = fake.requests.filter((r) => r.path.endsWith('/messages'));
    assert.ok(pages.length > dataset.rows.length / 37);
    assert.ok(pages.every((r) => r.query.order === 'asc' && r.query.limit === '37'));
    assert.equal(pages[0].query.after, undefined);
    assert.ok(pages.slice(1).every((r) => typeof r.query.after === 'string'));
  });

  it('running it again adds nothing', async () => {
    const store = await openSqliteStore(db);
    const before = await store.counts();
    const history = await store.blockHistory('persona');
    await store.close();
    const again = await migrate(db, {}, 100);
    assert.equal(again.messages.added, 0);
    assert.equal(again.passages.added, 0);
    assert.equal(again.messages.summariesAdded, 0);
    assert.equal(again.messages.alreadyPresent, report.messages.added);
    assert.ok(again.blocks.every((b) => b.action === 'unchanged'));
    const reopened = await openSqliteStore(db);
    try {
      assert.deepEqual(await reopened.counts(), before);
      assert.equal((await reopened.blockHistory('persona')).length, history.length);
    } finally { await reopened.close(); }
  });

  it('the converted history is accepted by the strict fake Anthropic API (real SDK)', async (t) => {
    const anthropic = await startFakeAnthropic({ contextWindow: 50_000_000 });
    t.after(() => anthropic.close());
    const client = new Anthropic({ apiKey: anthropic.apiKey, baseURL: anthropic.url, maxRetries: 0 });
    const messages = await allMessages(db);
    // 1. the stored history as it is, only events left out (no repair)
    const raw = messages.filter((m) => m.role !== 'system').map((m) => ({ role: m.role as 'user' | 'assistant', content: m.blocks as ContentBlock[] }));
    if (raw[0]?.role !== 'user') raw.unshift({ role: 'user', content: [{ type: 'text', text: '(start of the imported history)' }] });
    const reply = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: raw as never });
    assert.equal(reply.type, 'message');
    // 2. what Lares replays after migration: the uncompacted tail through the context builder
    const store = await openSqliteStore(db);
    const tail = await store.uncompactedMessages();
    await store.close();
    const replay = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: toApiMessages(tail).messages as never });
    assert.equal(replay.type, 'message');
  });
});

describe('migrating again after using Lares and rolling back', () => {
  it('a new Letta summary compacts only Letta\'s messages, never the ones written in direct mode', async () => {
    const small = makeLettaDataset({ messages: 60, seed: 21 });
    // no summary alerts in the first part, so the second run's alert is the only one
    small.rows = small.rows.filter((r) => !JSON.stringify(r.content ?? '').includes('hidden from view'));
    fake.addAgent(small);
    const db = join(dir, 'again.db');
    const run = () => runMigration({ source: new ApiSource(connection({ agentId: small.agent.id })), openStore: () => openSqliteStore(db), messages: true, pageSize: 25 });
    await run();

    // direct mode: Lares writes its own messages
    let store = await openSqliteStore(db);
    const direct = await store.appendMessages([
      { role: 'user', blocks: [{ type: 'text', text: 'written in direct mode' }] },
      { role: 'assistant', blocks: [{ type: 'text', text: 'answered in direct mode' }] },
    ]);
    await store.close();

    // rollback: Letta talks again, then compacts its context
    const agent = fake.agents.get(small.agent.id)!;
    const t = '2025-06-01T00:00:00.000Z';
    agent.rows.push(
      { id: 'message-aaaaaaaa-0000-4000-8000-000000000001', role: 'user', created_at: t, content: [{ type: 'text', text: 'back in Letta mode' }] },
      { id: 'message-aaaaaaaa-0000-4000-8000-000000000002', role: 'user', created_at: t, content: [{ type: 'text', text: JSON.stringify({ type: 'system_alert', message: 'Note: prior messages have been hidden from view due to conversation memory constraints.\nThe following is a summary of the previous messages:\n Letta summary after the rollback.' }) }] },
    );
    const again = await run();
    assert.equal(again.messages.summariesAdded, 1);

    store = await openSqliteStore(db);
    try {
      const summary = (await store.listSummaries()).find((s) => s.summary === 'Letta summary after the rollback.');
      assert.ok(summary);
      for (const m of direct) assert.equal((await store.getMessage(m.id))!.compactedBy, null, 'direct-mode messages stay in the context');
      const back = await store.findMessageBySourceRef('letta:message-aaaaaaaa-0000-4000-8000-000000000001:user_message:0');
      assert.equal(back!.compactedBy, summary.id, 'Letta\'s own messages before the alert are covered by it');
    } finally { await store.close(); }
  });
});

describe('lares migrate when things go wrong', () => {
  it('an interrupted run resumes and completes without duplicates', async () => {
    const clean = join(dir, 'clean.db');
    await migrate(clean, {}, 50);
    const expected = (await allMessages(clean)).map((m) => [m.sourceRef, m.role, m.content]);

    const db = join(dir, 'resume.db');
    let pages = 0;
    fake.fault = (r) => (r.path.endsWith('/messages') && ++pages > 20 ? 'http500' : undefined);
    await assert.rejects(migrate(db, { maxRetries: 0 }, 50), (error: unknown) => error instanceof LaresError && /500/.test(error.message) && /resumes without duplicates/.test(error.message) && /after message-/.test(error.message));
    fake.fault = () => undefined;
    const partial = (await allMessages(db)).length;
    assert.ok(partial > 0 && partial < expected.length, `partial import (${partial} of ${expected.length})`);

    // --verify counts messages and summaries apart: missing messages never exceed the expected ones
    const half = await openSqliteStore(db);
    const check = await verifyMigration(half, new ApiSource(connection()), { messages: true, pageSize: 50 });
    await half.close();
    assert.equal(check.ok, false);
    assert.equal(check.messages.expectedFromLetta, expected.length);
    assert.equal(check.messages.missing, expected.length - partial);
    assert.equal(check.messages.summariesFromLetta, dataset.expected.summaries);
    assert.ok(check.messages.summariesMissing! > 0 && check.messages.summariesMissing! < dataset.expected.summaries, String(check.messages.summariesMissing));
    assert.ok(check.problems.includes(`${expected.length - partial} of ${expected.length} messages from Letta are missing in Lares (run lares migrate again)`), check.problems.join('\n'));

    const resumed = await migrate(db, {}, 50);
    assert.equal(resumed.messages.alreadyPresent, partial);
    const got = (await allMessages(db)).map((m) => [m.sourceRef, m.role, m.content]);
    assert.deepEqual(got, expected);
    assert.deepEqual(checkToolPairing(await allMessages(db)), []);
  });

  it('retries server errors and dropped connections', async () => {
    const db = join(dir, 'retry.db');
    let n = 0;
    fake.fault = (r) => {
      if (!r.path.endsWith('/messages')) return undefined;
      n++;
      return n === 3 ? 'http500' : n === 6 ? 'drop' : undefined;
    };
    try {
      const report = await migrate(db, {}, 500);
      assert.equal(report.messages.lettaRows, dataset.rows.length);
      assert.equal(new Set((await allMessages(db)).map((m) => m.sourceRef)).size, report.messages.added);
    } finally { fake.fault = () => undefined; }
  });

  it('a wrong key says so and writes nothing', async () => {
    const db = join(dir, 'wrong-key.db');
    await assert.rejects(migrate(db, { apiKey: 'not-the-password' }), (error: unknown) =>
      error instanceof LaresError && error.message.includes('the Letta API key is wrong (LETTA_API_KEY)'));
    await assert.rejects(migrate(db, { apiKey: undefined }), (error: unknown) =>
      error instanceof LaresError && /wants a password .* and no key is set\. Set LETTA_API_KEY/.test(error.message) && error.exitCode === 2);
    assert.equal(existsSync(db), false);
  });

  it('an unknown agent names the agent id and writes nothing', async () => {
    const db = join(dir, 'wrong-agent.db');
    const missing = 'agent-00000000-0000-4000-8000-000000000000';
    await assert.rejects(migrate(db, { agentId: missing }), (error: unknown) => error instanceof LaresError && error.message.includes(missing) && /LETTA_AGENT_ID/.test(error.message));
    await assert.rejects(migrate(db, { agentId: 'lares' }), (error: unknown) =>
      error instanceof LaresError && error.message.startsWith('LETTA_AGENT_ID=lares is not a Letta agent id: ids look like agent-') && error.exitCode === 2);
    assert.equal(existsSync(db), false);
  });

  it('a base URL copied with /v1 works; one that is not a Letta API says to check LETTA_BASE_URL, not the agent id', async () => {
    const report = await runMigration({ source: new ApiSource(connection({ baseUrl: `${url}/v1/` })), messages: false, dryRun: true });
    assert.equal(report.blocks.length, dataset.blocks.length);
    const db = join(dir, 'wrong-url.db');
    await assert.rejects(migrate(db, { baseUrl: `${url}/letta` }), (error: unknown) =>
      error instanceof LaresError && error.message.startsWith(`${url}/letta has no Letta API (GET /v1/agents/${dataset.agent.id} answered 404 Not Found). Check LETTA_BASE_URL`) && error.exitCode === 2);
    assert.equal(existsSync(db), false);
  });

  it('a dry run reports what would be copied and writes nothing', async () => {
    const db = join(dir, 'dry.db');
    const before = fake.writes().length;
    const report = await runMigration({ source: new ApiSource(connection()), messages: true, dryRun: true, pageSize: 100 });
    assert.equal(report.messages.lettaRows, dataset.rows.length);
    assert.ok(report.messages.converted > 0);
    assert.equal(report.messages.added, 0);
    assert.equal(report.passages.letta, dataset.passages.length);
    assert.ok(report.blocks.every((b) => b.action === 'would copy'));
    assert.equal(existsSync(db), false);
    assert.equal(fake.writes().length, before);
  });
});

describe('memory blocks already in Lares', () => {
  it('replaces the default blocks, keeps blocks changed in Lares unless --overwrite-blocks', async () => {
    const db = join(dir, 'blocks.db');
    const store = await openSqliteStore(db);
    await ensureDefaultBlocks(store);
    await store.close();
    const source = () => new ApiSource(connection());
    const first = await runMigration({ source: source(), openStore: () => openSqliteStore(db), messages: false });
    assert.equal(first.blocks.find((b) => b.label === 'persona')?.action, 'updated');
    assert.equal(first.blocks.find((b) => b.label === 'guidelines')?.action, 'created');

    const edit = await openSqliteStore(db);
    await edit.setBlockContent('persona', 'changed by the agent in direct mode', 'agent:memory_replace');
    await edit.close();
    const second = await runMigration({ source: source(), openStore: () => openSqliteStore(db), messages: false });
    assert.match(second.blocks.find((b) => b.label === 'persona')!.action, /^kept/);
    const check = await openSqliteStore(db);
    assert.equal((await check.getBlock('persona'))?.content, 'changed by the agent in direct mode');
    await check.close();
    const third = await runMigration({ source: source(), openStore: () => openSqliteStore(db), messages: false, overwriteBlocks: true });
    assert.equal(third.blocks.find((b) => b.label === 'persona')?.action, 'updated');
    const final = await openSqliteStore(db);
    assert.equal((await final.getBlock('persona'))?.content, dataset.blocks[0].value);
    await final.close();
  });
});

describe('the fake Letta server behaves like the open-source server', () => {
  it('accepts X-BARE-PASSWORD and Bearer, and rejects anything else with 401 {"detail":"Unauthorized"}', async () => {
    const path = `${url}/v1/agents/${dataset.agent.id}`;
    assert.equal((await fetch(path, { headers: { 'X-BARE-PASSWORD': `password ${PASSWORD}` } })).status, 200);
    assert.equal((await fetch(path, { headers: { Authorization: `Bearer ${PASSWORD}` } })).status, 200);
    const denied = await fetch(path, { headers: { Authorization: 'Bearer nope' } });
    assert.equal(denied.status, 401);
    assert.deepEqual(await denied.json(), { detail: 'Unauthorized' });
  });

  it('returns pages oldest→newest even with order=desc, so the official auto-pager stops after one page', async () => {
    const client = new Letta({ baseURL: url, apiKey: PASSWORD, maxRetries: 0 });
    const seen: string[] = [];
    const first = fake.requests.length;
    for await (const m of client.agents.messages.list(dataset.agent.id, { limit: 10 })) seen.push(m.id);
    const newest = dataset.rows.slice(-10).map((r) => r.id);
    // the newest 10 rows (send_message returns folded into assistant messages by default)…
    assert.ok(seen.length > 0 && seen.every((id) => newest.includes(id)));
    assert.deepEqual([...new Set(seen)], newest.filter((id) => seen.includes(id)), 'oldest first');
    // …then it follows after=<last id> with order=desc, which only ever yields newer rows (here: the
    // send_message return the first page folded away), so it never reaches the older history
    const calls = fake.requests.slice(first);
    assert.ok(calls.length <= 3, JSON.stringify(calls.map((c) => c.query)));
    assert.ok(calls.slice(1).every((c) => typeof c.query.after === 'string'));
  });

  it('limit counts stored rows; a row expands into several items sharing its id', async () => {
    const res = await fetch(`${url}/v1/agents/${dataset.agent.id}/messages?order=asc&limit=50&use_assistant_message=false`, { headers: { Authorization: `Bearer ${PASSWORD}` } });
    const items = await res.json() as Array<{ id: string }>;
    assert.equal(new Set(items.map((i) => i.id)).size, 50);
    assert.ok(items.length > 50);
  });

  it('answers unknown cursors with 404 and bad parameters with 422', async () => {
    const headers = { Authorization: `Bearer ${PASSWORD}` };
    const base = `${url}/v1/agents/${dataset.agent.id}/messages`;
    const unknown = await fetch(`${base}?after=message-nope`, { headers });
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { detail: string }).detail, /No message found with id 'message-nope'/);
    assert.equal((await fetch(`${base}?limit=ten`, { headers })).status, 422);
    assert.equal((await fetch(`${base}?order=sideways`, { headers })).status, 422);
    assert.equal((await fetch(`${url}/v1/agents/not-an-agent/messages`, { headers })).status, 422);
  });
});
