// Two `lares run` workers on one database each have a perch timer: one perch turn per interval slot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPerch } from '../../src/channels/discord/perch.ts';
import { log } from '../../src/log.ts';
import { startDirectHarness } from '../support/direct.ts';

test('scheduled perch ticks of two workers in the same slot run one turn; a tick asked for by hand always runs', async (t) => {
  const h = await startDirectHarness();
  t.after(() => h.close());
  h.fake.setResponder(() => ({ text: 'A thought worth sharing.' }));
  const posted: string[] = [];
  const intervalMs = 3_600_000;
  const workers = [0, 1].map(() => startPerch({ agent: h.runtime.agent, intervalMs, post: async (text) => { posted.push(text); }, logger: log() }));
  t.after(() => Promise.all(workers.map((w) => w.stop())));
  await Promise.all(workers.map((w) => w.tick({ scheduled: true })));
  assert.equal(h.fake.requests.length, 1, 'one perch turn for the slot');
  assert.deepEqual(posted, ['A thought worth sharing.'], 'posted once');
  await workers[0].tick();
  assert.equal(h.fake.requests.length, 2, 'a manual tick runs');
});
