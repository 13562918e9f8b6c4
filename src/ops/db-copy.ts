// `lares db copy`: moves a whole store (normally SQLite → PostgreSQL) with every id kept, in
// batches from one snapshot of the source, into an EMPTY target, in one transaction: an
// interrupted copy leaves the target empty, so running it again is safe.
import { LaresError } from '../errors.ts';
import type { MemoryStore } from '../memory/store.ts';
import { STORE_TABLES, assertEmptyStore, openTableReader, openTableWriter, type TableName } from './store-tables.ts';

export interface CopyProgress { table: TableName; done: number; total: number }

export interface CopyOptions {
  batchSize?: number;
  onProgress?: (progress: CopyProgress) => void;
}

export interface CopyResult { rows: Record<TableName, number>; seconds: number }

export async function copyStore(source: MemoryStore, target: MemoryStore, options: CopyOptions = {}): Promise<CopyResult> {
  if (source === target) throw new LaresError('USAGE', 'the copy source and target are the same store');
  const batchSize = options.batchSize ?? 5000;
  const started = performance.now();
  await assertEmptyStore(target, `the target ${target.kind} database`);
  const reader = await openTableReader(source);
  const rows = {} as Record<TableName, number>;
  try {
    const writer = await openTableWriter(target);
    try {
      for (const spec of STORE_TABLES) {
        const total = await reader.count(spec.name);
        let done = 0;
        let afterId = 0;
        options.onProgress?.({ table: spec.name, done, total });
        for (;;) {
          const page = await reader.page(spec.name, afterId, batchSize);
          await writer.insert(spec.name, page);
          done += page.length;
          if (page.length > 0) options.onProgress?.({ table: spec.name, done, total });
          if (spec.key === 'none' || page.length < batchSize) break;
          afterId = Number(page[page.length - 1].id);
        }
        rows[spec.name] = done;
      }
      await writer.commit();
    } catch (error) {
      await writer.rollback().catch(() => {});
      throw error;
    }
  } finally {
    await reader.close();
  }
  return { rows, seconds: (performance.now() - started) / 1000 };
}
