// A turn cut off by its process dying (the message stored, no answer) is answered when the message
// is delivered again (a Discord catch-up after a restart or a failover), once; a message that was
// answered — with text, an empty reply, or a budget notice — is not answered again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { processIdentity } from '../../src/process-alive.ts';
import { startDirectHarness } from '../support/direct.ts';

test('SQLite: a delivery of a message whose turn died with its process is answered once; one still running elsewhere, or answered, is not', async (t) => {
  const h = await startDirectHarness();
  t.after(() => h.close());
  h.fake.setResponder(() => ({ text: 'answered now' }));
  const { store, agent } = h.runtime;
  // the mark a process leaves: this machine, boot and pid namespace, its pid
  const identity = (pid: number) => processIdentity().replace(/\|\d+$/, `|${pid}`);
  const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);

  // the process that stored it was killed before the model answered
  const [cut] = await store.appendMessages([{ role: 'user', blocks: [{ type: 'text', text: 'are you there?' }], sourceRef: 'discord:1', metadata: { source: 'discord' } }]);
  await store.setMeta(`turn_open.${cut.id}`, identity(deadPid));
  const resumed = await agent.send({ content: 'are you there?', source: 'discord', sourceRef: 'discord:1' });
  assert.equal(resumed.reply, 'answered now');
  assert.equal(h.fake.requests.length, 1);
  assert.equal((await store.recentMessages(10)).filter((m) => m.sourceRef === 'discord:1').length, 1, 'the message is not stored twice');
  assert.equal((await agent.send({ content: 'are you there?', source: 'discord', sourceRef: 'discord:1' })).stopReason, 'duplicate', 'answered once');

  // another process on this machine is running that turn right now: not answered twice
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  t.after(() => sleeper.kill());
  const [running] = await store.appendMessages([{ role: 'user', blocks: [{ type: 'text', text: 'long question' }], sourceRef: 'discord:2', metadata: { source: 'discord' } }]);
  await store.setMeta(`turn_open.${running.id}`, identity(sleeper.pid!));
  assert.equal((await agent.send({ content: 'long question', source: 'discord', sourceRef: 'discord:2' })).stopReason, 'duplicate');

  // a turn that returned (an empty reply stores nothing after the message) clears its mark
  h.fake.setResponder(() => ({ text: '' }));
  await agent.send({ content: 'say nothing', source: 'discord', sourceRef: 'discord:3' });
  const requests = h.fake.requests.length;
  assert.equal((await agent.send({ content: 'say nothing', source: 'discord', sourceRef: 'discord:3' })).stopReason, 'duplicate');
  assert.equal(h.fake.requests.length, requests, 'no second model call');

  // another turn of the conversation between the death and the redelivery leaves the mark alone
  h.fake.setResponder(() => ({ text: 'answered later' }));
  const [late] = await store.appendMessages([{ role: 'user', blocks: [{ type: 'text', text: 'still there?' }], sourceRef: 'discord:4', metadata: { source: 'discord' } }]);
  await store.setMeta(`turn_open.${late.id}`, identity(deadPid));
  await agent.send({ content: 'a reminder', source: 'job', sourceRef: 'job:x:1' });
  assert.equal((await agent.send({ content: 'still there?', source: 'discord', sourceRef: 'discord:4' })).reply, 'answered later');
  assert.equal(await store.getMeta(`turn_open.${late.id}`), undefined, 'the mark goes when the turn returns');
});
