// `lares backup`: SQLite's online backup API (node:sqlite backup()), which copies a consistent
// database page by page while Lares keeps running and writing.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { backup, DatabaseSync } from 'node:sqlite';
import { LaresError } from '../errors.ts';

/** data/backups/lares-20261126T020304Z.db next to the database (`prefix` names other files). */
export function defaultBackupPath(sqlitePath: string, now = new Date(), prefix = 'lares'): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return join(dirname(resolve(sqlitePath)), 'backups', `${prefix}-${stamp}.db`);
}

export interface BackupResult { path: string; pages: number; bytes: number }

export async function backupSqlite(sqlitePath: string, to: string, onProgress?: (remaining: number, total: number) => void): Promise<BackupResult> {
  if (!existsSync(sqlitePath)) {
    throw new LaresError('STORE_ERROR', `there is no database at ${sqlitePath} to back up. Check SQLITE_DB_PATH.`);
  }
  const target = resolve(to);
  if (target === resolve(sqlitePath)) throw new LaresError('USAGE', 'the backup file cannot be the database itself');
  if (existsSync(target)) throw new LaresError('USAGE', `${target} exists already; choose a new file with --to`);
  mkdirSync(dirname(target), { recursive: true });
  // not readOnly: a reader of a WAL database may need to create its -shm file
  const source = new DatabaseSync(sqlitePath, { timeout: 5000 });
  try {
    // 256 pages per step lets the running Lares write between steps
    const pages = await backup(source, target, {
      rate: 256,
      progress: ({ totalPages, remainingPages }) => onProgress?.(remainingPages, totalPages),
    });
    const check = new DatabaseSync(target, { readOnly: true });
    try {
      const result = check.prepare('PRAGMA integrity_check').get() as Record<string, string>;
      if (Object.values(result)[0] !== 'ok') throw new LaresError('STORE_ERROR', `the backup at ${target} failed its integrity check: ${Object.values(result)[0]}`);
      const { page_size: pageSize } = check.prepare('PRAGMA page_size').get() as { page_size: number };
      const { page_count: pageCount } = check.prepare('PRAGMA page_count').get() as { page_count: number };
      return { path: target, pages: Number(pages), bytes: Number(pageSize) * Number(pageCount) };
    } finally {
      check.close();
    }
  } catch (error) {
    if (error instanceof LaresError) throw error;
    throw new LaresError('STORE_ERROR', `backup of ${sqlitePath} to ${target} failed: ${(error as Error).message}`, { cause: error });
  } finally {
    source.close();
  }
}
