// The owner's job actions the console uses (src/mcp-server/scheduler.ts): pause and resume keep the
// schedule, a resumed recurring job skips the runs it missed, "run now" fires once without moving it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/memory/sqlite/sqlite-store.ts';
import { EventLog } from '../../src/mcp-server/events.ts';
import { Scheduler } from '../../src/mcp-server/scheduler.ts';
import { ToolInputError } from '../../src/mcp-server/tool-error.ts';
import '../support/direct.ts';

function scheduler() {
  const db = new SqliteStore(':memory:');
  const events = new EventLog(db.toolState);
  return { db, events, scheduler: new Scheduler(db.toolState, events) };
}

test('a paused job never fires; resumed, it runs at its next time from now', async () => {
  const { db, scheduler: s } = scheduler();
  const t0 = new Date('2026-06-01T08:00:00Z');
  const job = await s.schedule({ kind: 'interval', spec: '1h', message: 'stretch' }, t0);
  assert.equal(job.paused, false);
  const paused = (await s.setPaused(job.id, true))!;
  assert.equal(paused.paused, true);
  assert.equal(paused.active, false);
  assert.equal(paused.nextRunAt, job.nextRunAt, 'the schedule is kept');
  assert.equal(await s.fireDue(new Date('2026-06-01T12:00:00Z')), 0);
  assert.deepEqual((await s.list()).map((j) => j.id), [], 'list_jobs shows active jobs only');
  assert.deepEqual((await s.list(true)).map((j) => j.id), [job.id]);
  const resumed = (await s.setPaused(job.id, false, new Date('2026-06-01T12:30:00Z')))!;
  assert.equal(resumed.paused, false);
  assert.equal(resumed.nextRunAt, '2026-06-01T13:30:00.000Z', 'missed runs are skipped');
  assert.equal(await s.setPaused('job_nosuch', true), undefined);
  s.stop(); await db.close();
});

test('a finished one-off job cannot be paused or resumed', async () => {
  const { db, scheduler: s } = scheduler();
  const t0 = new Date('2026-06-01T08:00:00Z');
  const job = await s.schedule({ kind: 'once', spec: '10m', message: 'tea' }, t0);
  assert.equal(await s.fireDue(new Date('2026-06-01T08:11:00Z')), 1);
  const finished = (await s.get(job.id))!;
  assert.equal(finished.active, false);
  assert.equal(finished.paused, false);
  await assert.rejects(s.setPaused(job.id, false), ToolInputError);
  s.stop(); await db.close();
});

test('run now fires the job once and leaves its schedule alone', async () => {
  const { db, events, scheduler: s } = scheduler();
  const job = await s.schedule({ kind: 'cron', spec: '0 9 * * *', message: 'plan the day' });
  const before = await events.lastId();
  assert.equal(await s.runNow(job.id, new Date('2026-06-01T10:00:00Z')), true);
  const due = await events.since(before);
  assert.equal(due.length, 1);
  assert.equal(due[0].type, 'job_due');
  assert.equal(due[0].data.jobId, job.id);
  assert.equal(due[0].data.scheduledFor, '2026-06-01T10:00:00.000Z');
  assert.equal(due[0].data.manual, true);
  assert.equal((await s.get(job.id))!.nextRunAt, job.nextRunAt);
  assert.equal(await s.runNow('job_nosuch'), false);
  s.stop(); await db.close();
});
