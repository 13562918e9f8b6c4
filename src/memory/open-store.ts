// Opens the configured memory store: SQLite by default, PostgreSQL when MEMORY_PROVIDER=postgres.
import type { Config } from '../config/config.ts';
import { LaresError } from '../errors.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { MemoryStore } from './store.ts';

export async function openSqliteStore(path: string): Promise<SqliteStore> {
  return new SqliteStore(path);
}

export async function openStore(config: Pick<Config, 'memoryProvider' | 'sqlitePath' | 'databaseUrl'>): Promise<MemoryStore> {
  if (config.memoryProvider === 'postgres') {
    if (!config.databaseUrl) throw new LaresError('CONFIG_INVALID', 'MEMORY_PROVIDER=postgres needs DATABASE_URL (postgres://user:password@host:5432/db)');
    const { openPostgresStore } = await import('./postgres/postgres-store.ts');
    return openPostgresStore(config.databaseUrl);
  }
  return openSqliteStore(config.sqlitePath);
}
