// lares db copy --to postgres://…: moves the configured store (normally SQLite) to another
// database with every id kept; the target must be empty.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { LaresError } from '../errors.ts';
import { existsSync } from 'node:fs';
import { openSqliteStore, openStore } from '../memory/open-store.ts';
import { openPostgresStore, redactDatabaseUrl } from '../memory/postgres/postgres-store.ts';
import type { MemoryStore } from '../memory/store.ts';
import { copyStore } from '../ops/db-copy.ts';
import { loadCommandConfig } from './context-helpers.ts';
import { action, printJson } from './run.ts';

function batchSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 50_000) throw new InvalidArgumentError('expected a whole number from 1 to 50000');
  return n;
}

const isPostgresUrl = (value: string) => /^postgres(ql)?:\/\//.test(value);

async function openTarget(to: string): Promise<MemoryStore> {
  return isPostgresUrl(to) ? openPostgresStore(to) : openSqliteStore(to);
}

export function registerDbCommand(program: Command): void {
  const db = program.command('db').description('Database operations.');
  db.command('copy')
    .description('Copy the whole store (SQLITE_DB_PATH, or --from) into an empty PostgreSQL database (or SQLite file), keeping every id. Then set MEMORY_PROVIDER=postgres and DATABASE_URL.')
    .requiredOption('--to <target>', 'postgres://user:password@host:5432/db, or a new .db file')
    .option('--from <source>', 'copy from this SQLite file or postgres:// URL instead of the configured store')
    .option('--batch-size <n>', 'rows per batch', batchSize, 5000)
    .option('--json', 'print {rows, seconds} as JSON')
    .action(action(async (options: { to: string; from?: string; batchSize: number; json?: boolean }) => {
      const config = loadCommandConfig({ quiet: true });
      const sqliteSource = options.from && !isPostgresUrl(options.from) ? options.from : config.memoryProvider === 'sqlite' && !options.from ? config.sqlitePath : undefined;
      if (sqliteSource && !existsSync(sqliteSource)) throw new LaresError('USAGE', `there is no SQLite database at ${sqliteSource} to copy (check SQLITE_DB_PATH or --from)`);
      const source = options.from ? (isPostgresUrl(options.from) ? await openPostgresStore(options.from) : await openSqliteStore(options.from)) : await openStore(config);
      try {
        const sourcePath = options.from ?? (config.memoryProvider === 'postgres' ? config.databaseUrl! : config.sqlitePath);
        if (sourcePath === options.to) throw new LaresError('USAGE', '--to names the database being copied; give a different, empty target');
        const target = await openTarget(options.to);
        try {
          const shown = isPostgresUrl(options.to) ? redactDatabaseUrl(options.to) : options.to;
          process.stderr.write(`copying ${source.kind} → ${shown}\n`);
          let lastLine = 0;
          const result = await copyStore(source, target, {
            batchSize: options.batchSize,
            onProgress: ({ table, done, total }) => {
              const now = performance.now();
              if (done === total || now - lastLine > 1000) {
                lastLine = now;
                process.stderr.write(`${table}: ${done}/${total}\n`);
              }
            },
          });
          if (options.json) return printJson(result);
          const total = Object.values(result.rows).reduce((a, b) => a + b, 0);
          process.stdout.write(`copied ${total} rows (${result.rows.messages} messages) in ${result.seconds.toFixed(1)} s to ${shown}\n`);
          if (isPostgresUrl(options.to)) process.stderr.write('to use it: set MEMORY_PROVIDER=postgres and DATABASE_URL to that URL, then restart Lares\n');
        } finally {
          await target.close();
        }
      } finally {
        await source.close();
      }
    }));
}
