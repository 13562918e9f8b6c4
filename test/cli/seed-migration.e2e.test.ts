// The seed design note, end to end through the real CLI: migrate a Letta agent (read-only),
// verify, switch to direct mode (Lares remembers what Letta knew), then roll back
// (USE_DIRECT_LLM=false: Lares talks to the Letta agent again, approvals included).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createChannelRuntime } from '../../src/app/channel-runtime.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { TurnResult } from '../../src/agent/types.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic.ts';
import { FakeLettaServer } from '../fakes/letta.ts';
import { makeLettaDataset } from '../fakes/letta-dataset.ts';
import { runLares } from '../support/cli.ts';
import '../support/direct.ts';

const PASSWORD = 'seed-letta-password';
const dataset = makeLettaDataset({ messages: 400, seed: 11 });
const letta = new FakeLettaServer({ password: PASSWORD, agents: [dataset] });
let anthropic: FakeAnthropic;
let dir: string;
let env: Record<string, string>;

before(async () => {
  const lettaUrl = await letta.start();
  anthropic = await startFakeAnthropic();
  dir = mkdtempSync(join(tmpdir(), 'lares-seed-'));
  env = {
    LETTA_BASE_URL: lettaUrl, LETTA_AGENT_ID: dataset.agent.id, LETTA_SERVER_PASSWORD: PASSWORD,
    SQLITE_DB_PATH: join(dir, 'data', 'lares.db'),
    ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6',
  };
});
after(async () => {
  await letta.close();
  await anthropic.close();
  rmSync(dir, { recursive: true, force: true });
});

test('step 1-2: MIGRATE_MESSAGES=true lares migrate copies everything read-only; --verify agrees', async () => {
  const migrated = await runLares(['migrate', '--json'], { env: { ...env, MIGRATE_MESSAGES: 'true' }, cwd: dir });
  assert.equal(migrated.code, 0, migrated.stderr);
  const report = JSON.parse(migrated.stdout);
  assert.equal(report.messages.lettaRows, dataset.rows.length, 'every Letta row was read, past any page limit');
  assert.ok(report.messages.added > 300);
  assert.equal(report.passages.added, dataset.passages.length);
  assert.ok(letta.requests.every((r) => r.method === 'GET'), 'nothing but GET reached Letta');
  const again = await runLares(['migrate', '--json'], { env: { ...env, MIGRATE_MESSAGES: 'true' }, cwd: dir });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).messages.added, 0, 'a second run adds nothing');
  const db = new DatabaseSync(env.SQLITE_DB_PATH, { readOnly: true });
  const count = Number((db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n);
  const blocks = db.prepare('SELECT label, LENGTH(content) as chars FROM memory_blocks').all() as Array<{ label: string }>;
  db.close();
  assert.equal(count, report.messages.added);
  assert.deepEqual(blocks.map((b) => b.label).sort(), dataset.blocks.map((b) => b.label).sort());
  const verify = await runLares(['migrate', '--verify'], { env: { ...env, MIGRATE_MESSAGES: 'true' }, cwd: dir });
  assert.equal(verify.code, 0, verify.stderr + verify.stdout);
});

test('step 3-5: USE_DIRECT_LLM=true — Lares answers from Claude with the migrated memory and history', async () => {
  anthropic.enqueue({ text: 'Ciao Daniele, I remember you.' });
  const chat = await runLares(['chat'], { env: { ...env, USE_DIRECT_LLM: 'true' }, input: 'Do you remember me?\n', cwd: dir });
  assert.equal(chat.code, 0, chat.stderr);
  assert.equal(chat.stdout, 'Ciao Daniele, I remember you.\n');
  const body = anthropic.requests.at(-1)!.body;
  assert.match(body.system[1].text, /Name: Daniele/, 'the migrated human block is in the prompt');
  assert.ok(body.messages.length > 2, 'the migrated history is in the context');
  assert.match(chat.stderr, /direct mode/);
});

test('rollback: USE_DIRECT_LLM=false — channels talk to the Letta agent again, and its approvals reach the owner', async () => {
  const chat = await runLares(['chat'], { env: { ...env, USE_DIRECT_LLM: 'false' }, input: 'back to Letta\n', cwd: dir });
  assert.equal(chat.code, 0, chat.stderr);
  assert.equal(chat.stdout, 'You said: back to Letta\n');
  assert.match(chat.stderr, /letta mode/i);

  const runtime = await createChannelRuntime(loadConfig({ ...env, USE_DIRECT_LLM: 'false' }), { channel: 'terminal' });
  try {
    const replies: TurnResult[] = [];
    const feed = runtime.feedApprovalOutcomes((reply) => replies.push(reply));
    const asked = await runtime.agent.send({ content: 'write the notes [approve]', source: 'terminal' });
    assert.equal(asked.stopReason, 'requires_approval');
    const [pending] = await runtime.approvals.listPending();
    assert.equal(pending.tool, 'write_file');
    const answer = await runtime.terminalCommands.run('approve', [pending.id]);
    assert.match(answer!, /Approved/);
    assert.equal(replies.at(-1)?.reply, 'Done: ran write_file');
    await assert.rejects(runtime.approvals.approve(pending.id), /already/);
    feed.close();

    // a request left waiting (Lares restarted, or decided from another terminal): lares approvals finds it in Letta
    const waiting = await runtime.agent.send({ content: 'another note [approve]', source: 'terminal' });
    const listed = await runLares(['approvals', '--json'], { env: { ...env, USE_DIRECT_LLM: 'false' }, cwd: dir });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).map((a: { id: string }) => a.id), waiting.pendingApprovals);
    const approved = await runLares(['approvals', 'approve', waiting.pendingApprovals[0]], { env: { ...env, USE_DIRECT_LLM: 'false' }, cwd: dir });
    assert.equal(approved.code, 0, approved.stderr);
    const last = letta.requests.at(-1)!;
    assert.equal(last.method, 'POST');
    assert.deepEqual((last.body as { messages: unknown[] }).messages, [{ type: 'approval', approvals: [{ type: 'approval', tool_call_id: waiting.pendingApprovals[0], approve: true }] }]);
  } finally {
    await runtime.close();
  }
});
