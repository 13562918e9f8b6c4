// Export → import → export loses nothing, on SQLite and PostgreSQL; imports refuse non-empty
// stores and damaged files; `lares db copy` moves SQLite to PostgreSQL with ids kept.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import { openPostgresStore } from '../../src/memory/postgres/postgres-store.ts';
import type { MemoryStore } from '../../src/memory/store.ts';
import { copyStore, type CopyProgress } from '../../src/ops/db-copy.ts';
import { exportStore, type ExportFileFormat } from '../../src/ops/export.ts';
import { importStore, readExportFile } from '../../src/ops/import.ts';
import { tableCounts } from '../../src/ops/store-tables.ts';
import { startTestPostgres, type TestPostgres } from '../support/postgres.ts';
import { fillStore, toolStateSnapshot } from './fill-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'lares-portability-'));
let server: TestPostgres;
let n = 0;
const stores: MemoryStore[] = [];

before(async () => { server = await startTestPostgres(); });
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function newStore(kind: 'sqlite' | 'postgres'): Promise<MemoryStore> {
  const store = kind === 'sqlite' ? await openSqliteStore(join(dir, `s${++n}.db`)) : await openPostgresStore(await server.createDatabase(`p${++n}`));
  stores.push(store);
  return store;
}

const EXPORTED_AT = '2026-01-01T00:00:00.000Z';

async function exportToString(store: MemoryStore, format: ExportFileFormat, pageSize?: number): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await exportStore(store, out, { format, exportedAt: EXPORTED_AT, pageSize });
  out.end();
  return Buffer.concat(chunks).toString('utf8');
}

async function exportToFile(store: MemoryStore, format: ExportFileFormat): Promise<string> {
  const file = join(dir, `export-${++n}.${format}`);
  writeFileSync(file, await exportToString(store, format));
  return file;
}

describe('export and import', () => {
  for (const format of ['jsonl', 'json'] as const) {
    for (const [from, to] of [['sqlite', 'sqlite'], ['sqlite', 'postgres'], ['postgres', 'sqlite']] as const) {
      test(`${format}: ${from} export → import into a fresh ${to} store → export again is identical`, async () => {
        const source = await newStore(from);
        await fillStore(source);
        const file = await exportToFile(source, format);
        const target = await newStore(to);
        const counts = await importStore(target, readExportFile(file));
        assert.deepEqual(counts, { block: 3, block_version: 4, summary: 1, message: 6, passage: 2, usage: 2, meta: 2, approval: 2, event: 2, job: 2, allowlist: 1 });
        const again = await exportToString(target, format);
        const normalise = (s: string) => s.replace(`"source":"${from}"`, '"source":"X"').replace(`"source":"${to}"`, '"source":"X"');
        assert.equal(normalise(again), normalise(readFileSync(file, 'utf8')));
        // the imported store works as a store: same data through the interface, new ids continue after the old ones
        assert.deepEqual(await target.listBlocks(), await source.listBlocks());
        assert.deepEqual(await toolStateSnapshot(target), await toolStateSnapshot(source), 'approvals, events, jobs and the allowlist travel too');
        assert.deepEqual(await target.blockHistory('human'), await source.blockHistory('human'));
        assert.deepEqual(await target.uncompactedMessages(), await source.uncompactedMessages());
        assert.deepEqual(await target.listSummaries(), await source.listSummaries());
        assert.deepEqual(await target.messagesInRange(0, 1000, 'kitchen'), await source.messagesInRange(0, 1000, 'kitchen'));
        assert.deepEqual(await target.usageTotals('kitchen'), await source.usageTotals('kitchen'));
        // who served each call and what for travel too
        assert.deepEqual(await target.usageSummary({}), await source.usageSummary({}));
        assert.deepEqual({ ...(await target.lastUsage('kitchen')), id: 0 }, { ...(await source.lastUsage('kitchen')), id: 0 });
        assert.equal((await target.lastUsage('kitchen'))?.source, 'discord');
        assert.equal(await target.getMeta('base_instructions'), 'You are Lares.\n"quoted"');
        // ranking differs between bm25 and ts_rank, the hits do not
        const ids = async (store: MemoryStore) => (await store.searchMessages('Ana')).map((h) => h.id).sort((a, b) => a - b);
        assert.deepEqual(await ids(target), await ids(source));
        assert.deepEqual((await target.searchPassages('Sunday', { tags: ['family'] })).map((p) => p.id), (await source.searchPassages('Sunday', { tags: ['family'] })).map((p) => p.id));
        const [next] = await target.appendMessages([{ role: 'user', blocks: [{ type: 'text', text: 'after import' }] }]);
        assert.ok(next.id > 6);
        await target.putBlock({ label: 'new', content: '', description: '', charLimit: 10, readOnly: false }, 'user');
        assert.deepEqual((await target.listBlocks()).map((b) => b.label), ['persona', 'human', 'rules', 'new']);
      });
    }
  }

  test('paging does not change the export (page size 1 vs default)', async () => {
    const store = await newStore('sqlite');
    await fillStore(store);
    assert.equal(await exportToString(store, 'jsonl', 1), await exportToString(store, 'jsonl'));
  });

  test('the jsonl export is one documented record per line', async () => {
    const store = await newStore('sqlite');
    await fillStore(store);
    const lines = (await exportToString(store, 'jsonl')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { type: 'header', format: 'lares-export', version: 1, exportedAt: EXPORTED_AT, source: 'sqlite' });
    assert.equal(lines.at(-1).type, 'end');
    const message = lines.find((l) => l.type === 'message' && l.sourceRef === 'discord:1');
    assert.deepEqual(Object.keys(message), ['type', 'id', 'conversationId', 'role', 'content', 'blocks', 'createdAt', 'tokenCount', 'compactedBy', 'sourceRef', 'metadata']);
    assert.deepEqual(message.blocks, [{ type: 'text', text: 'hello, remember my sister Ana' }]);
    assert.equal(typeof message.compactedBy, 'number');
    assert.deepEqual(lines.filter((l) => l.type !== 'header' && l.type !== 'end').map((l) => l.type).filter((t, i, a) => a.indexOf(t) === i),
      ['block', 'block_version', 'summary', 'message', 'passage', 'usage', 'meta', 'approval', 'event', 'job', 'allowlist']);
  });

  test('import refuses a store that is not empty and writes nothing', async () => {
    const source = await newStore('sqlite');
    await fillStore(source);
    const file = await exportToFile(source, 'jsonl');
    const target = await newStore('sqlite');
    await target.setMeta('something', 'here');
    await assert.rejects(importStore(target, readExportFile(file)), (error: any) => error.code === 'STORE_ERROR' && /not empty \(1 meta\)/.test(error.message));
    const pg = await newStore('postgres');
    await pg.putBlock({ label: 'persona', content: 'x', description: '', charLimit: 10, readOnly: false }, 'init');
    await assert.rejects(importStore(pg, readExportFile(file)), /not empty \(1 memory_blocks, 1 memory_block_history\)/);
    assert.equal((await pg.counts()).messages, 0);
  });

  test('a truncated or damaged file is refused and nothing is imported', async () => {
    const source = await newStore('sqlite');
    await fillStore(source);
    const text = await exportToString(source, 'jsonl');
    const lines = text.trim().split('\n');
    const cases: Array<[string, string, RegExp]> = [
      ['truncated', lines.slice(0, -3).join('\n'), /truncated/],
      ['bad json', [...lines.slice(0, 5), '{not json', ...lines.slice(5)].join('\n'), /:6: not valid JSON/],
      ['missing field', lines.map((l) => (l.includes('"type":"message"') ? l.replace('"role":', '"rolle":') : l)).join('\n'), /invalid message record: role/],
      ['out of order', [lines[0], lines.find((l) => l.includes('"type":"message"'))!, ...lines.slice(1)].join('\n'), /must come before message/],
      ['wrong counts', lines.map((l) => (l.includes('"type":"end"') ? l.replace(/"message":\d+/, '"message":99') : l)).join('\n'), /says it holds 99 message records/],
      ['newer version', lines.map((l, i) => (i === 0 ? l.replace('"version":1', '"version":7') : l)).join('\n'), /version 7 is newer/],
      ['not an export', '{"hello": "world"}', /not a Lares export/],
    ];
    for (const [name, content, expected] of cases) {
      const file = join(dir, `bad-${name.replace(/ /g, '-')}.jsonl`);
      writeFileSync(file, content);
      for (const kind of ['sqlite', 'postgres'] as const) {
        const target = await newStore(kind);
        await assert.rejects(importStore(target, readExportFile(file)), expected, `${name} (${kind})`);
        assert.deepEqual(Object.values(await tableCounts(target)).filter((c) => c > 0), [], `${name} (${kind}) wrote nothing`);
      }
    }
  });
});

describe('db copy', () => {
  test('SQLite → PostgreSQL keeps every row and id, reports progress, and the copy works as a store', async () => {
    const source = await newStore('sqlite');
    await fillStore(source);
    await source.appendMessages(Array.from({ length: 120 }, (_, i) => ({ role: 'user' as const, blocks: [{ type: 'text' as const, text: `bulk ${i}` }] })));
    const target = await newStore('postgres');
    const progress: CopyProgress[] = [];
    const result = await copyStore(source, target, { batchSize: 50, onProgress: (p) => progress.push(p) });
    assert.equal(result.rows.messages, 126);
    assert.deepEqual(progress.filter((p) => p.table === 'messages').map((p) => p.done), [0, 50, 100, 126]);
    assert.ok(progress.every((p) => p.total >= p.done));
    const normalise = (s: string) => s.replace(/"source":"\w+"/, '');
    assert.equal(normalise(await exportToString(target, 'jsonl')), normalise(await exportToString(source, 'jsonl')));
    const [next] = await target.appendMessages([{ role: 'user', blocks: [{ type: 'text', text: 'first on postgres' }] }]);
    assert.equal(next.id, 127);
    assert.deepEqual(await tableCounts(target), { ...(await tableCounts(source)), messages: 127 });
    // the queue, events, jobs and allowlist came along; new events continue after the copied ids
    assert.deepEqual(await toolStateSnapshot(target), await toolStateSnapshot(source));
    assert.equal((await target.toolState.appendEvent('job_due', { jobId: 'job_water' })).id, 3);
    assert.equal((await target.toolState.approvalsWithStatus('pending'))[0].args.command, 'ls -la ~/café');
  });

  test('refuses a target that is not empty, and the failed copy changes nothing', async () => {
    const source = await newStore('sqlite');
    await fillStore(source);
    const target = await newStore('postgres');
    await copyStore(source, target);
    const before = await exportToString(target, 'jsonl');
    await assert.rejects(copyStore(source, target), /target postgres database is not empty/);
    assert.equal(await exportToString(target, 'jsonl'), before);
  });

  test('PostgreSQL → SQLite works too', async () => {
    const source = await newStore('postgres');
    await fillStore(source);
    const target = await newStore('sqlite');
    await copyStore(source, target, { batchSize: 2 });
    const normalise = (s: string) => s.replace(/"source":"\w+"/, '');
    assert.equal(normalise(await exportToString(target, 'json')), normalise(await exportToString(source, 'json')));
  });
});
