import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import type { StoredMessage } from '../../src/memory/store.ts';
import { AgentFileSource } from '../../src/letta/source.ts';
import { runMigration, type MigrationReport } from '../../src/letta/migrate.ts';
import { checkToolPairing } from '../../src/letta/history-check.ts';
import { makeLettaDataset } from '../fakes/letta-dataset.ts';
import { assertToolCallsKept } from './tool-calls.ts';
import { agentFileJson, makeAgentFileV1, makeAgentFileV2, type AgentFileFixture } from '../fakes/letta-agent-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'lares-letta-af-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// seed 5 has every kind of turn: summaries (one stored with role "summary"), approvals,
// calls never answered, error returns, login events and a 50k-character message
const dataset = makeLettaDataset({ messages: 150, seed: 5 });

function writeAgentFile(name: string, fixture: AgentFileFixture): string {
  const path = join(dir, name);
  writeFileSync(path, agentFileJson(fixture));
  return path;
}

function texts(messages: StoredMessage[], role: string): string[] {
  return messages.filter((m) => m.role === role).flatMap((m) => m.blocks.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text));
}

function countOf(list: string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const x of list) map.set(x, (map.get(x) ?? 0) + 1);
  return map;
}

/** What every agent file import must give: blocks, instructions, every message with its time, paired tool calls. */
async function assertImported(db: string, fixture: AgentFileFixture, report: MigrationReport): Promise<void> {
  assert.ok(report.limitations.some((l) => l.includes('context window')), 'says the file holds only the in-context messages');
  assert.ok(report.limitations.some((l) => l.includes('no archival memory passages')), 'says the file holds no passages');
  assert.equal(report.messages.lettaRows, fixture.rows.length);
  const store = await openSqliteStore(db);
  try {
    for (const b of fixture.blocks) {
      const copied = await store.getBlock(b.label);
      assert.ok(copied, `block ${b.label} copied`);
      assert.equal(Buffer.compare(Buffer.from(copied.content), Buffer.from(b.value)), 0, `block ${b.label} byte for byte`);
      assert.equal(copied.description, b.description ?? '');
      assert.equal(copied.charLimit, b.limit);
      assert.equal(copied.readOnly, b.read_only);
    }
    for (const b of fixture.foreignBlocks) assert.equal(await store.getBlock(b.label), undefined, `block ${b.label} of no agent left out`);
    assert.equal(await store.getMeta('base_instructions'), fixture.baseInstructions);

    const messages = await store.messagesInRange(1, 100_000);
    assert.equal(messages.length, report.messages.added);
    const users = countOf(texts(messages, 'user'));
    for (const [text, n] of countOf(fixture.expected.userTexts)) assert.equal(users.get(text), n, `user text ${JSON.stringify(text.slice(0, 40))}`);
    const assistants = countOf(texts(messages, 'assistant'));
    for (const [text, n] of countOf(fixture.expected.assistantTexts)) assert.equal(assistants.get(text), n, `assistant text ${JSON.stringify(text.slice(0, 40))}`);
    const events = countOf(texts(messages, 'system'));
    for (const [text, n] of countOf(fixture.expected.events)) assert.equal(events.get(text), n, `event ${JSON.stringify(text.slice(0, 40))}`);
    assert.ok(messages.some((m) => m.role === 'system' && m.metadata?.event === 'login'));

    // times: Letta's microseconds (with or without an offset) become UTC ISO with milliseconds
    assert.equal(messages[0].role, 'system');
    assert.equal(messages[0].createdAt, fixture.rows[0].created_at);
    const rowTimes = new Set(fixture.rows.map((r) => r.created_at));
    for (const m of messages) assert.ok(rowTimes.has(m.createdAt), `message ${m.id} keeps its row's time (${m.createdAt})`);

    // every call kept under its name, with its result (error status kept) or a synthetic one
    assertToolCallsKept(messages, fixture.expected.toolCalls);
    assert.deepEqual(checkToolPairing(messages), []);
    assert.equal((await store.listSummaries()).length, fixture.expected.summaries);
  } finally { await store.close(); }
}

async function assertRerunAddsNothing(db: string, path: string, first: MigrationReport): Promise<void> {
  const again = await runMigration({ source: new AgentFileSource(path), openStore: () => openSqliteStore(db), messages: true });
  assert.equal(again.messages.added, 0);
  assert.equal(again.messages.alreadyPresent, first.messages.added);
  assert.equal(again.messages.summariesAdded, 0);
  assert.ok(again.blocks.every((b) => b.action === 'unchanged'));
}

describe('importing Letta agent files (--from-file)', () => {
  it('the generated data covers the awkward cases', () => {
    assert.ok(dataset.expected.summaries >= 2);
    assert.ok(dataset.rows.some((r) => r.role === 'summary'));
    assert.ok(dataset.rows.some((r) => r.role === 'approval'));
    assert.ok(dataset.expected.toolCalls.some((c) => !c.result));
    assert.ok(dataset.expected.toolCalls.some((c) => c.result?.isError));
    assert.ok(dataset.expected.userTexts.some((t) => t.length > 10_000));
  });

  it('reads the current format: blocks byte for byte, system prompt without the memory section, every in-context message with its time; a re-run adds nothing', async () => {
    const fixture = makeAgentFileV2(dataset);
    const path = writeAgentFile('current.af', fixture);
    const db = join(dir, 'v2.db');
    const report = await runMigration({ source: new AgentFileSource(path), openStore: () => openSqliteStore(db), messages: true });
    assert.equal(report.passages.letta, 0);
    await assertImported(db, fixture, report);
    await assertRerunAddsNothing(db, path, report);
  });

  it('reads the older single-agent format (core_memory, rows without ids, times without offset, results only in the row text)', async () => {
    const fixture = makeAgentFileV1(dataset);
    assert.ok(fixture.expected.toolCalls.length > 0 && fixture.expected.summaries > 0);
    const path = writeAgentFile('legacy.af', fixture);
    const db = join(dir, 'v1.db');
    const report = await runMigration({ source: new AgentFileSource(path), openStore: () => openSqliteStore(db), messages: true });
    assert.ok(report.blocks.some((b) => b.label === 'persona'));
    await assertImported(db, fixture, report);
    await assertRerunAddsNothing(db, path, report);
  });

});
