import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LaresError } from '../../src/errors.ts';
import { LettaBackend, type LettaApprovalRequest } from '../../src/letta/letta-backend.ts';
import { FakeLettaServer } from '../fakes/letta.ts';
import { makeLettaDataset } from '../fakes/letta-dataset.ts';

const PASSWORD = 'letta-mode-password';
const dataset = makeLettaDataset({ messages: 20, seed: 3 });
const fake = new FakeLettaServer({ password: PASSWORD, agents: [dataset] });
let url = '';

before(async () => { url = await fake.start(); });
after(() => fake.close());

describe('Letta mode (LettaBackend)', () => {
  it('sends a message to the Letta agent and returns its assistant text', async () => {
    const backend = new LettaBackend({ api: { baseUrl: url, agentId: dataset.agent.id, apiKey: PASSWORD } });
    const streamed: string[] = [];
    const result = await backend.send({ content: 'Ciao, Lares! 🏠', source: 'terminal' }, { onText: (t) => streamed.push(t) });
    assert.equal(result.reply, 'You said: Ciao, Lares! 🏠');
    assert.deepEqual(streamed, ['You said: Ciao, Lares! 🏠']);
    assert.equal(result.stopReason, 'end_turn');
    assert.equal(result.incomplete, false);
    const post = fake.requests.at(-1)!;
    assert.equal(post.method, 'POST');
    assert.equal(post.path, `/v1/agents/${dataset.agent.id}/messages`);
    assert.deepEqual(post.body, { messages: [{ role: 'user', content: 'Ciao, Lares! 🏠' }] });
    await backend.close();
  });

  it('runs turns one at a time, in arrival order', async () => {
    const backend = new LettaBackend({ api: { baseUrl: url, agentId: dataset.agent.id, apiKey: PASSWORD } });
    const first = fake.requests.length;
    const replies = await Promise.all(['one', 'two', 'three'].map((text) => backend.send({ content: text, source: 'discord' })));
    assert.deepEqual(replies.map((r) => r.reply), ['You said: one', 'You said: two', 'You said: three']);
    assert.deepEqual(fake.requests.slice(first).map((r) => (r.body as { messages: Array<{ content: string }> }).messages[0].content), ['one', 'two', 'three']);
  });

  it('surfaces Letta\'s approval requests and answers them through Letta\'s API', async () => {
    const seen: LettaApprovalRequest[] = [];
    const backend = new LettaBackend({ api: { baseUrl: url, agentId: dataset.agent.id, apiKey: PASSWORD }, onApprovalRequest: (r) => { seen.push(r); } });
    const shown: string[] = [];
    const asked = await backend.send({ content: 'write the notes [approve]', source: 'discord' }, {
      onToolCall: (c) => shown.push(`call ${c.name} ${c.id}`),
      onToolResult: (r) => shown.push(`result ${r.name} ${r.pendingApprovalId ?? 'none'}`),
    });
    assert.equal(asked.stopReason, 'requires_approval');
    // reported to the channel like a direct-mode call waiting for approval
    assert.deepEqual(shown, [`call write_file ${asked.pendingApprovals[0]}`, `result write_file ${asked.pendingApprovals[0]}`]);
    assert.equal(asked.pendingApprovals.length, 1);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].name, 'write_file');
    assert.deepEqual(seen[0].input, { path: '/tmp/x.txt', content: 'write the notes [approve]' });
    assert.equal(seen[0].id, asked.pendingApprovals[0]);
    assert.deepEqual(backend.pendingApprovals().map((p) => p.id), asked.pendingApprovals);

    // Letta refuses new messages while it waits: the error says what to do
    await assert.rejects(backend.send({ content: 'hello?', source: 'discord' }), (error: unknown) => error instanceof LaresError && error.message.includes(`waiting for the owner's approval of write_file (${seen[0].id})`));

    const done = await backend.answerApproval(seen[0].id, true);
    assert.equal(done.reply, 'Done: ran write_file');
    assert.deepEqual((fake.requests.at(-1)!.body as { messages: unknown[] }).messages, [{ type: 'approval', approvals: [{ type: 'approval', tool_call_id: seen[0].id, approve: true }] }]);
    assert.deepEqual(backend.pendingApprovals(), []);

    const again = await backend.send({ content: 'delete it [approve]', source: 'discord' });
    const denied = await backend.answerApproval(again.pendingApprovals[0], false, 'not today');
    assert.equal(denied.reply, 'Understood, I did not do it.');
    const stored = fake.agents.get(dataset.agent.id)!.rows;
    assert.ok(stored.some((r) => r.role === 'approval' && r.approvals?.some((a) => 'approve' in a && a.approve === false && a.reason === 'not today')));
  });

  it('after a restart, finds the approval Letta is still waiting on and lets the owner answer it', async () => {
    const before = new LettaBackend({ api: { baseUrl: url, agentId: dataset.agent.id, apiKey: PASSWORD } });
    const asked = await before.send({ content: 'rename the notes [approve]', source: 'discord' });
    assert.equal(asked.stopReason, 'requires_approval');
    await before.close();

    // a new process knows nothing of it; Letta answers 409 to any new message
    const seen: LettaApprovalRequest[] = [];
    const after = new LettaBackend({ api: { baseUrl: url, agentId: dataset.agent.id, apiKey: PASSWORD }, onApprovalRequest: (r) => { seen.push(r); } });
    const writesBefore = fake.writes().length;
    await assert.rejects(after.send({ content: 'are you there?', source: 'discord' }), (error: unknown) =>
      error instanceof LaresError && error.message.includes(`approval of write_file (${asked.pendingApprovals[0]})`) && /\/approve ID/.test(error.message));
    assert.equal(fake.writes().length, writesBefore + 1, 'only the refused POST; finding the request only reads');
    assert.deepEqual(seen.map((r) => [r.id, r.name, r.input]), [[asked.pendingApprovals[0], 'write_file', { path: '/tmp/x.txt', content: 'rename the notes [approve]' }]]);
    assert.deepEqual(after.pendingApprovals().map((p) => p.id), asked.pendingApprovals);
    assert.deepEqual((await after.recoverPendingApprovals()).map((p) => p.id), asked.pendingApprovals, 'found once, not twice');
    assert.equal(seen.length, 1);

    const done = await after.answerApproval(asked.pendingApprovals[0], true);
    assert.equal(done.reply, 'Done: ran write_file');
    assert.deepEqual(await after.recoverPendingApprovals(), []);
    assert.equal((await after.send({ content: 'thanks', source: 'discord' })).reply, 'You said: thanks');
  });

  it('a wrong key is reported as such', async () => {
    const backend = new LettaBackend({ api: { baseUrl: url, agentId: dataset.agent.id, apiKey: 'wrong' } });
    await assert.rejects(backend.send({ content: 'hi', source: 'terminal' }), /the Letta API key is wrong \(LETTA_API_KEY\)/);
  });
});
