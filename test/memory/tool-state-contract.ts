// The behaviour every MemoryStore's toolState must have (src/memory/tool-state.ts), run by
// sqlite-store.test.ts and postgres-store.test.ts. Several workers share one database, so the
// once-only writes are raced from two store instances on the same database (`sameDatabase`).
// What only one backend does (NOTIFY, advisory-lock leases, TTL leases) is tested by kind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { processIdentity } from '../../src/process-alive.ts';
import { describe, test, type TestContext } from 'node:test';
import type { PostgresStore } from '../../src/memory/postgres/postgres-store.ts';
import type { SqliteStore } from '../../src/memory/sqlite/sqlite-store.ts';
import type { MemoryStore } from '../../src/memory/store.ts';
import type { ApprovalRecord, Job, Lease, WorkerInfo } from '../../src/memory/tool-state.ts';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const at = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function approval(id: string, extra: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id, tool: 'run_shell_command', args: { command: `echo ${id}`, nested: { z: 1, a: [1, 2] } }, reason: 'shell needs the owner', status: 'pending',
    createdAt: at(0), expiresAt: at(60), decidedAt: null, finishedAt: null, result: null, error: null, denyReason: null, alwaysAllowed: false, ...extra,
  };
}

function job(id: string, extra: Partial<Job> = {}): Job {
  return { id, kind: 'interval', spec: '1h', message: `do ${id}`, nextRunAt: at(10), lastRunAt: null, active: true, createdAt: at(0), paused: false, ...extra };
}

/** Resolves once `check` is true, polling; fails after `ms`. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!await check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

export function runToolStateContract(name: string, makeStore: () => Promise<MemoryStore>, sameDatabase: (store: MemoryStore) => Promise<MemoryStore>): void {
  async function fresh(t: TestContext): Promise<MemoryStore> {
    const store = await makeStore();
    t.after(() => store.close());
    return store;
  }
  async function another(t: TestContext, store: MemoryStore): Promise<MemoryStore> {
    const second = await sameDatabase(store);
    t.after(() => second.close());
    return second;
  }

  describe(`${name} tool state contract`, () => {
    describe('approval queue', () => {
      test('insert and get keep every field; a duplicate id is refused', async (t) => {
        const { toolState } = await fresh(t);
        const record = approval('a1');
        assert.equal(await toolState.insertApproval(record), true);
        assert.deepEqual(await toolState.getApproval('a1'), record);
        assert.equal(await toolState.insertApproval(approval('a1', { tool: 'other' })), false);
        assert.equal((await toolState.getApproval('a1'))!.tool, 'run_shell_command');
        assert.equal(await toolState.getApproval('nope'), undefined);
      });

      test('updateApproval is conditional: status, expiresAfter, decidedBefore; it sets only what it is given', async (t) => {
        const { toolState } = await fresh(t);
        await toolState.insertApproval(approval('a1', { expiresAt: at(30) }));
        // expired by the time of the decision
        assert.equal(await toolState.updateApproval('a1', { status: 'approved', decidedAt: at(31) }, { status: 'pending', expiresAfter: at(31) }), false);
        assert.equal(await toolState.updateApproval('a1', { status: 'approved' }, { status: 'denied' }), false);
        assert.equal(await toolState.updateApproval('nope', { status: 'approved' }, { status: 'pending' }), false);
        assert.equal(await toolState.updateApproval('a1', { status: 'approved', decidedAt: at(5), alwaysAllowed: true }, { status: 'pending', expiresAfter: at(5) }), true);
        assert.equal(await toolState.updateApproval('a1', { status: 'approved' }, { status: 'pending' }), false, 'a second claim loses');
        // decided at minute 5: not before minute 5, but before minute 6
        assert.equal(await toolState.updateApproval('a1', { status: 'failed' }, { status: 'approved', decidedBefore: at(5) }), false);
        const result = { text: 'done', isError: false };
        assert.equal(await toolState.updateApproval('a1', { status: 'executed', finishedAt: at(7), result, error: null }, { status: 'approved', decidedBefore: at(6) }), true);
        assert.deepEqual(await toolState.getApproval('a1'), approval('a1', { expiresAt: at(30), status: 'executed', decidedAt: at(5), finishedAt: at(7), result, alwaysAllowed: true }));
        await toolState.insertApproval(approval('a2'));
        assert.equal(await toolState.updateApproval('a2', { status: 'denied', decidedAt: at(2), denyReason: 'no' }, { status: 'pending' }), true);
        assert.equal((await toolState.getApproval('a2'))!.denyReason, 'no');
        assert.equal(await toolState.updateApproval('a2', {}, { status: 'denied' }), true, 'an empty change still says whether it matches');
      });

      test('two workers claim one pending request at once: exactly one wins', async (t) => {
        const a = await fresh(t);
        const b = await another(t, a);
        for (let i = 0; i < 5; i++) {
          await a.toolState.insertApproval(approval(`race${i}`));
          const claims = await Promise.all([a, b, a, b].map((store) =>
            store.toolState.updateApproval(`race${i}`, { status: 'approved', decidedAt: at(1) }, { status: 'pending', expiresAfter: at(1) })));
          assert.equal(claims.filter(Boolean).length, 1, `race ${i}: ${claims}`);
        }
      });

      test('approvalsWithStatus filters, recentApprovals orders, countApprovals counts, approvalsPage pages', async (t) => {
        const { toolState } = await fresh(t);
        await toolState.insertApproval(approval('p2', { createdAt: at(2), expiresAt: at(20) }));
        await toolState.insertApproval(approval('p1', { createdAt: at(1), expiresAt: at(10) }));
        await toolState.insertApproval(approval('p3', { createdAt: at(3), expiresAt: at(30) }));
        await toolState.insertApproval(approval('d1', { createdAt: at(0), status: 'denied', decidedAt: at(4) }));
        await toolState.insertApproval(approval('x1', { createdAt: at(0), status: 'executed', decidedAt: at(5), finishedAt: at(9) }));
        await toolState.insertApproval(approval('e1', { createdAt: at(0), expiresAt: at(6), status: 'expired', decidedAt: at(6) }));
        await toolState.insertApproval(approval('ap1', { createdAt: at(0), status: 'approved', decidedAt: at(3) }));
        await toolState.insertApproval(approval('ap2', { createdAt: at(1), status: 'approved', decidedAt: at(8) }));
        const ids = (records: ApprovalRecord[]) => records.map((r) => r.id);
        assert.deepEqual(ids(await toolState.approvalsWithStatus('pending')), ['p1', 'p2', 'p3']);
        assert.deepEqual(ids(await toolState.approvalsWithStatus('pending', { expiresAtOrBefore: at(20) })), ['p1', 'p2']);
        assert.deepEqual(ids(await toolState.approvalsWithStatus('approved', { decidedBefore: at(8) })), ['ap1']);
        assert.deepEqual(ids(await toolState.approvalsWithStatus('approved')), ['ap1', 'ap2']);
        assert.deepEqual(ids(await toolState.approvalsWithStatus('failed')), []);
        // by finished, else decided, else expiry time, newest first; pending ones are not "decided"
        assert.deepEqual(ids(await toolState.recentApprovals(10)), ['x1', 'ap2', 'e1', 'd1', 'ap1']);
        assert.deepEqual(ids(await toolState.recentApprovals(2)), ['x1', 'ap2']);
        assert.equal(await toolState.countApprovals('pending'), 3);
        assert.equal(await toolState.countApprovals('approved'), 2);
        assert.equal(await toolState.countApprovals('failed'), 0);
        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await toolState.approvalsPage(after, 3);
          if (page.length === 0) break;
          pages.push(ids(page));
          after = page.at(-1)!.id;
        }
        // by creation time, then id
        assert.deepEqual(pages, [['ap1', 'd1', 'e1'], ['x1', 'ap2', 'p1'], ['p2', 'p3']]);
      });
    });

    describe('events', () => {
      test('append, since, lastEventId and prune; ids increase', async (t) => {
        const { toolState } = await fresh(t);
        assert.equal(await toolState.lastEventId(), 0);
        assert.deepEqual(await toolState.eventsSince(0), []);
        const first = await toolState.appendEvent('approval_needed', { id: 'a1', nested: { b: 2, a: 1 } });
        assert.match(first.createdAt, ISO_MS);
        const second = await toolState.appendEvent('approval_result', { id: 'a1', status: 'executed' });
        const third = await toolState.appendEvent('job_due', { jobId: 'j1' });
        assert.ok(first.id < second.id && second.id < third.id);
        assert.deepEqual(await toolState.eventsSince(0), [first, second, third]);
        assert.deepEqual(await toolState.eventsSince(first.id), [second, third]);
        assert.deepEqual(await toolState.eventsSince(0, 2), [first, second]);
        assert.equal(await toolState.lastEventId(), third.id);
        assert.equal(await toolState.pruneEvents('2000-01-01T00:00:00.000Z'), 0);
        assert.equal(await toolState.pruneEvents(new Date(Date.now() + 60_000).toISOString()), 3);
        assert.deepEqual(await toolState.eventsSince(0), []);
        // pruned ids are never handed out again
        const fourth = await toolState.appendEvent('job_due', {});
        assert.ok(fourth.id > third.id);
        // a stored cursor far ahead: the next ids come after it; asking for less changes nothing
        await toolState.ensureEventIdsAbove(5000);
        await toolState.ensureEventIdsAbove(10);
        assert.equal((await toolState.appendEvent('job_due', {})).id, 5001);
      });

      test('concurrent appends from several workers: a polling reader sees every id, in order, never a smaller one later', async (t) => {
        const a = await fresh(t);
        const workers = [a, await another(t, a), await another(t, a), await another(t, a)];
        const reader = await another(t, a);
        const seen: number[] = [];
        let done = false;
        const polling = (async () => {
          let last = 0;
          while (!done || seen.length < 20) {
            for (const event of await reader.toolState.eventsSince(last)) {
              assert.ok(event.id > last, `saw ${event.id} after ${last}`);
              seen.push(event.id);
              last = event.id;
            }
            if (done && seen.length < 20 && (await reader.toolState.lastEventId()) === last) break;
          }
        })();
        const appended = await Promise.all(Array.from({ length: 20 }, (_, i) => workers[i % workers.length].toolState.appendEvent('job_due', { i })));
        done = true;
        await polling;
        const ids = appended.map((e) => e.id).sort((x, y) => x - y);
        assert.deepEqual(ids, Array.from({ length: 20 }, (_, i) => ids[0] + i), 'no gaps');
        assert.deepEqual(seen, ids, 'the reader missed none');
      });

      test('watchEvents: PostgreSQL announces another worker\'s append (and reconnects); SQLite leaves it to polling', async (t) => {
        const a = await fresh(t);
        if (a.kind === 'sqlite') {
          assert.equal(a.toolState.watchEvents, undefined);
          return;
        }
        const b = await another(t, a);
        let calls = 0;
        const unwatch = a.toolState.watchEvents!(() => { calls++; });
        // the LISTEN connection comes up in the background: append until it hears one
        await eventually('the watcher hears an append by another worker', async () => {
          await b.toolState.appendEvent('job_due', {});
          return calls > 0;
        });
        // its connection killed, it reconnects and calls the listener so it reads what it missed
        const before = calls;
        await (b as PostgresStore).pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN lares_events'`);
        await eventually('the watcher reconnects and calls its listener', () => calls > before);
        const afterReconnect = calls;
        await eventually('the reconnected watcher hears appends', async () => {
          await b.toolState.appendEvent('job_due', {});
          return calls > afterReconnect;
        });
        unwatch();
        const afterUnwatch = calls;
        await b.toolState.appendEvent('job_due', {});
        await sleep(300);
        assert.equal(calls, afterUnwatch, 'an unsubscribed listener hears nothing');
      });
    });

    describe('scheduled jobs', () => {
      test('insert, get, list (active or all), schedule, due, next run, delete', async (t) => {
        const { toolState } = await fresh(t);
        const j1 = job('j1', { nextRunAt: at(20) });
        const j2 = job('j2', { kind: 'cron', spec: '0 * * * *', nextRunAt: at(10) });
        const done = job('j3', { kind: 'once', spec: at(5), nextRunAt: null, lastRunAt: at(5), active: false });
        for (const j of [j1, j2, done]) await toolState.insertJob(j);
        assert.deepEqual(await toolState.getJob('j1'), j1);
        assert.deepEqual(await toolState.getJob('j3'), done);
        assert.equal(await toolState.getJob('nope'), undefined);
        assert.deepEqual((await toolState.listJobs()).map((j) => j.id), ['j2', 'j1']);
        assert.deepEqual((await toolState.listJobs(true)).map((j) => j.id), ['j2', 'j1', 'j3']);
        assert.equal(await toolState.nextJobRunAt(), at(10));
        assert.deepEqual((await toolState.dueJobs(at(15))).map((j) => j.id), ['j2']);
        assert.deepEqual((await toolState.dueJobs(at(20))).map((j) => j.id), ['j2', 'j1']);
        // paused: inactive with its next run kept
        assert.equal(await toolState.setJobSchedule('j2', false, at(10), { active: true, nextRunAt: at(10) }), true);
        const paused = (await toolState.getJob('j2'))!;
        assert.equal(paused.active, false);
        assert.equal(paused.paused, true);
        assert.equal((await toolState.getJob('j3'))!.paused, false, 'a finished one-off job is not paused');
        assert.deepEqual((await toolState.dueJobs(at(30))).map((j) => j.id), ['j1']);
        assert.equal(await toolState.nextJobRunAt(), at(20));
        assert.equal(await toolState.setJobSchedule('j2', true, at(40), { active: true, nextRunAt: at(10) }), false, 'conditional: it is paused now');
        assert.equal(await toolState.setJobSchedule('j2', true, at(40), { active: false, nextRunAt: at(10) }), true);
        assert.deepEqual(await toolState.getJob('j2'), { ...j2, nextRunAt: at(40) });
        assert.equal(await toolState.deleteJob('j1'), true);
        assert.equal(await toolState.deleteJob('j1'), false);
        assert.deepEqual((await toolState.listJobs(true)).map((j) => j.id), ['j2', 'j3']);
        assert.equal(await toolState.setJobSchedule('j2', false, at(40), { active: true, nextRunAt: at(40) }), true);
        assert.equal(await toolState.setJobSchedule('j3', true, at(50), { active: false, nextRunAt: null }), true, 'a null next run is matched too');
        await toolState.setJobSchedule('j3', false, null, { active: true, nextRunAt: at(50) });
        assert.equal(await toolState.nextJobRunAt(), undefined);
      });

      test('claimJobRun: one slot fires once, whichever worker; a one-off job ends inactive', async (t) => {
        const a = await fresh(t);
        const b = await another(t, a);
        await a.toolState.insertJob(job('j1', { nextRunAt: at(10) }));
        const next = { nextRunAt: at(70), lastRunAt: at(10), active: true };
        const data = { jobId: 'j1', message: 'stretch' };
        const before = await a.toolState.lastEventId();
        const claims = await Promise.all([a, b, a, b].map((store) => store.toolState.claimJobRun('j1', at(10), next, data)));
        assert.equal(claims.filter(Boolean).length, 1, String(claims));
        // the winner's job_due event was appended with the claim, once
        const fired = await a.toolState.eventsSince(before);
        assert.deepEqual(fired, [claims.find(Boolean)]);
        assert.deepEqual([fired[0].type, fired[0].data], ['job_due', data]);
        assert.deepEqual(await b.toolState.getJob('j1'), job('j1', { nextRunAt: at(70), lastRunAt: at(10) }));
        assert.equal(await a.toolState.claimJobRun('j1', at(10), next, data), undefined, 'the old slot is gone');
        await a.toolState.insertJob(job('once', { kind: 'once', spec: at(15), nextRunAt: at(15) }));
        assert.ok(await b.toolState.claimJobRun('once', at(15), { nextRunAt: null, lastRunAt: at(15), active: false }, { jobId: 'once' }));
        const finished = (await a.toolState.getJob('once'))!;
        assert.deepEqual([finished.active, finished.paused, finished.nextRunAt], [false, false, null]);
        assert.equal(await a.toolState.setJobSchedule('j1', false, at(70), { active: true, nextRunAt: at(70) }), true);
        assert.equal(await a.toolState.claimJobRun('j1', at(70), next, data), undefined, 'a paused job does not fire');
      });
    });

    test('shell allowlist: an argv is kept once', async (t) => {
      const { toolState } = await fresh(t);
      assert.deepEqual(await toolState.allowedCommands(), []);
      await toolState.addAllowedCommand({ argv: ['ls', '-la'], approvalId: 'a1', createdAt: at(1) });
      await toolState.addAllowedCommand({ argv: ['ls', '-la'], approvalId: 'a2', createdAt: at(2) });
      await toolState.addAllowedCommand({ argv: ['git', 'status'], approvalId: null, createdAt: at(3) });
      assert.deepEqual(await toolState.allowedCommands(), [
        { argv: ['ls', '-la'], approvalId: 'a1', createdAt: at(1) },
        { argv: ['git', 'status'], approvalId: null, createdAt: at(3) },
      ]);
    });

    describe('workers and leases', () => {
      test('heartbeat, listWorkers (seen since), removeWorker', async (t) => {
        const { toolState } = await fresh(t);
        const w1: WorkerInfo = { id: 'w1', host: 'box', pid: 100, role: 'run', startedAt: at(1), seenAt: at(1) };
        const w2: WorkerInfo = { id: 'w2', host: 'box', pid: 200, role: 'web', startedAt: at(0), seenAt: at(2) };
        await toolState.heartbeat(w1);
        await toolState.heartbeat(w2);
        await toolState.heartbeat({ ...w1, seenAt: at(5) });
        assert.deepEqual(await toolState.listWorkers(), [w2, { ...w1, seenAt: at(5) }]);
        assert.deepEqual(await toolState.listWorkers(at(3)), [{ ...w1, seenAt: at(5) }]);
        await toolState.removeWorker('w1');
        assert.deepEqual(await toolState.listWorkers(), [w2]);
        await toolState.heartbeat(w1);
        assert.equal(await toolState.pruneWorkers(at(2)), 1, 'w1 (seen at 1) goes, w2 (seen at 2) stays');
        assert.deepEqual(await toolState.listWorkers(), [w2]);
      });

      test('a held lease cannot be taken by another worker until it is released', async (t) => {
        const a = await fresh(t);
        const b = await another(t, a);
        const lease = (await a.toolState.tryLease('channel:discord', 'worker-a'))!;
        t.after(() => lease.release());
        assert.ok(lease);
        assert.equal(lease.name, 'channel:discord');
        assert.equal(lease.held, true);
        let lost = 0;
        lease.onLost(() => { lost++; });
        assert.equal(await b.toolState.tryLease('channel:discord', 'worker-b'), undefined);
        const other = (await b.toolState.tryLease('channel:telegram', 'worker-b'))!;
        t.after(() => other.release());
        const listed = await b.toolState.listLeases();
        assert.deepEqual(listed.map((l) => [l.name, l.workerId]), [['channel:discord', 'worker-a'], ['channel:telegram', 'worker-b']]);
        assert.match(listed[0].since, ISO_MS);
        await lease.release();
        assert.equal(lease.held, false);
        assert.deepEqual((await a.toolState.listLeases()).map((l) => l.name), ['channel:telegram']);
        const taken = (await b.toolState.tryLease('channel:discord', 'worker-b'))!;
        t.after(() => taken.release());
        assert.equal(taken.held, true);
        assert.deepEqual((await a.toolState.listLeases()).map((l) => [l.name, l.workerId]), [['channel:discord', 'worker-b'], ['channel:telegram', 'worker-b']]);
        assert.equal(lost, 0, 'a released lease is not "lost"');
      });

      if (name === 'postgres') {
        test('PostgreSQL: a lease whose connection dies is lost at once, and another worker takes it', async (t) => {
          const a = await fresh(t);
          const b = await another(t, a);
          const lease = (await a.toolState.tryLease('channel:telegram', 'worker-a'))!;
          const lost = new Promise<void>((resolve) => lease.onLost(resolve));
          // the lease's own connection: the session holding its advisory lock
          const killed = await (b as PostgresStore).pool.query(`SELECT pg_terminate_backend(pid) AS killed FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND objid = (hashtext('lease:channel:telegram')::bigint & 4294967295)::oid`);
          assert.equal(killed.rows.length, 1);
          await lost;
          assert.equal(lease.held, false);
          await eventually('the dead holder\'s lease is no longer listed', async () => (await b.toolState.listLeases()).length === 0);
          let taken: Lease | undefined;
          await eventually('another worker takes the lease', async () => (taken = await b.toolState.tryLease('channel:telegram', 'worker-b')) !== undefined);
          t.after(() => taken!.release());
          assert.deepEqual((await a.toolState.listLeases()).map((l) => [l.name, l.workerId]), [['channel:telegram', 'worker-b']]);
        });

        test('PostgreSQL: closing the holding store frees its lease', async (t) => {
          const a = await makeStore();
          const b = await another(t, a);
          await a.toolState.tryLease('channel:discord', 'worker-a');
          await a.close();
          let taken: Lease | undefined;
          await eventually('another worker takes the lease', async () => (taken = await b.toolState.tryLease('channel:discord', 'worker-b')) !== undefined);
          t.after(() => taken!.release());
        });
      } else {
        test('SQLite: a lease is renewed while held, and free once its holder stops renewing for its TTL', async (t) => {
          const a = await makeStore();
          t.after(() => a.close());
          const b = await another(t, a);
          const lease = (await a.toolState.tryLease('channel:discord', 'worker-a', { ttlMs: 300 }))!;
          assert.ok(lease);
          await sleep(700);
          assert.equal(lease.held, true);
          assert.equal(await b.toolState.tryLease('channel:discord', 'worker-b', { ttlMs: 300 }), undefined, 'renewed past its first TTL');
          // the same worker may take its own lease again
          const again = await a.toolState.tryLease('channel:discord', 'worker-a', { ttlMs: 300 });
          assert.ok(again);
          await a.close();
          assert.equal(lease.held, false);
          assert.deepEqual((await b.toolState.listLeases()).map((l) => l.workerId), ['worker-a'], 'until it expires');
          await sleep(400);
          assert.deepEqual(await b.toolState.listLeases(), []);
          const taken = (await b.toolState.tryLease('channel:discord', 'worker-b', { ttlMs: 300 }))!;
          t.after(() => taken.release());
          assert.equal(taken.held, true);
        });

        test('SQLite: a holder on this machine whose process is gone frees the lease at once, however long its time', async (t) => {
          const a = await makeStore();
          t.after(() => a.close());
          const b = await another(t, a);
          // a process that has exited: its pid names no process now
          const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
          const identity = (pid: number) => processIdentity().replace(/\|\d+$/, `|${pid}`);
          await b.toolState.heartbeat({ id: 'worker-dead', host: hostname(), pid: deadPid, role: 'run', startedAt: at(0), seenAt: at(0), identity: identity(deadPid) });
          await b.toolState.heartbeat({ id: 'worker-alive', host: hostname(), pid: process.pid, role: 'run', startedAt: at(0), seenAt: at(0), identity: identity(process.pid) });
          // another machine's worker (or one of an unknown pid namespace) is never declared gone
          await b.toolState.heartbeat({ id: 'worker-elsewhere', host: 'other-box', pid: deadPid, role: 'run', startedAt: at(0), seenAt: at(0), identity: `other-box|x|y|${deadPid}` });
          assert.ok(await a.toolState.tryLease('channel:web', 'worker-elsewhere', { ttlMs: 600_000 }));
          assert.ok(await a.toolState.tryLease('channel:discord', 'worker-alive', { ttlMs: 600_000 }));
          assert.ok(await a.toolState.tryLease('channel:telegram', 'worker-dead', { ttlMs: 600_000 }));
          await a.close(); // the rows stay, with ten minutes to run
          assert.equal(await b.toolState.tryLease('channel:discord', 'worker-b', { ttlMs: 600_000 }), undefined, 'a holder whose process runs keeps it');
          const taken = await b.toolState.tryLease('channel:telegram', 'worker-b', { ttlMs: 600_000 });
          t.after(() => taken?.release());
          assert.equal(taken?.held, true, 'taken from the dead process at once');
          assert.equal(await b.toolState.tryLease('channel:web', 'worker-b', { ttlMs: 600_000 }), undefined, 'not from another machine');
        });

        test('SQLite: a lease whose row another worker took reports lost, once', async (t) => {
          const a = await fresh(t);
          const lease = (await a.toolState.tryLease('channel:discord', 'worker-a', { ttlMs: 150 }))!;
          let lost = 0;
          lease.onLost(() => { lost++; });
          // as if this holder had stalled past its TTL and another worker took over
          const b = await another(t, a);
          (b as SqliteStore).db.prepare(`UPDATE lares_leases SET worker_id = 'worker-b' WHERE name = 'channel:discord'`).run();
          await eventually('the renewal finds the lease gone', () => lost > 0);
          await sleep(200);
          assert.equal(lost, 1);
          assert.equal(lease.held, false);
        });
      }
    });

    test('importToolState is idempotent, keeps event ids, and later appends continue past them', async (t) => {
      const source = await fresh(t);
      await source.toolState.insertApproval(approval('a1'));
      await source.toolState.insertApproval(approval('a2', { status: 'executed', decidedAt: at(1), finishedAt: at(2), result: { text: 'ok', isError: false } }));
      const oldest = await source.toolState.appendEvent('job_due', { i: 0 });
      await sleep(5);
      for (let i = 1; i < 4; i++) await source.toolState.appendEvent('job_due', { i });
      assert.equal(await source.toolState.pruneEvents(new Date(Date.parse(oldest.createdAt) + 1).toISOString()), 1);
      await source.toolState.insertJob(job('j1'));
      await source.toolState.addAllowedCommand({ argv: ['ls'], approvalId: 'a2', createdAt: at(3) });
      const batch = {
        approvals: await source.toolState.approvalsPage(undefined, 100),
        events: await source.toolState.eventsSince(0),
        jobs: await source.toolState.listJobs(true),
        allowlist: await source.toolState.allowedCommands(),
      };
      assert.deepEqual(batch.events.map((e) => e.id), [oldest.id + 1, oldest.id + 2, oldest.id + 3], 'the first event was pruned');

      const target = await fresh(t);
      assert.deepEqual(await target.toolState.importToolState(batch), { approvals: 2, events: batch.events.length, jobs: 1, allowlist: 1 });
      assert.deepEqual(await target.toolState.importToolState(batch), { approvals: 0, events: 0, jobs: 0, allowlist: 0 });
      assert.deepEqual(await target.toolState.approvalsPage(undefined, 100), batch.approvals);
      assert.deepEqual(await target.toolState.eventsSince(0), batch.events);
      assert.deepEqual(await target.toolState.listJobs(true), batch.jobs);
      assert.deepEqual(await target.toolState.allowedCommands(), batch.allowlist);
      const next = await target.toolState.appendEvent('job_due', {});
      assert.equal(next.id, batch.events.at(-1)!.id + 1);
    });
  });
}
