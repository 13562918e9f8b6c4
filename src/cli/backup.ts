// lares backup [--to FILE]: an online copy of the SQLite database while Lares keeps running.
// Everything is in it: memory, history, the approval queue, scheduled jobs and the shell
// allowlist. With MEMORY_PROVIDER=postgres everything is in PostgreSQL: pg_dump covers it.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { LaresError } from '../errors.ts';
import { backupSqlite, defaultBackupPath } from '../ops/backup.ts';
import { loadCommandConfig } from './context-helpers.ts';
import { action, printJson } from './run.ts';

const PG_DUMP = 'pg_dump --format=custom --file lares.dump "$DATABASE_URL" (restore with pg_restore), or use lares export';

export function registerBackupCommand(program: Command): void {
  program.command('backup')
    .description('Back up the SQLite database (online: Lares may keep running): memory, history, approvals, scheduled jobs. Prints the backup file.')
    .option('--to <file>', 'backup file (default: data/backups/lares-<UTC time>.db next to the database)')
    .option('--json', 'print {path, bytes, pages}')
    .action(action(async (options: { to?: string; json?: boolean }) => {
      const config = loadCommandConfig({ quiet: true });
      if (config.memoryProvider === 'postgres') {
        throw new LaresError('USAGE', `lares backup copies a SQLite file, but MEMORY_PROVIDER=postgres keeps everything (memory, approvals, jobs) in PostgreSQL. Back it up with its own tool: ${PG_DUMP}.`);
      }
      const progress = (remaining: number, total: number) => {
        if (process.stderr.isTTY && total > 0) process.stderr.write(`\rbacking up: ${Math.round(((total - remaining) / total) * 100)}%`);
      };
      const result = await backupSqlite(config.sqlitePath, options.to ?? defaultBackupPath(config.sqlitePath), progress);
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (options.json) return printJson(result);
      process.stdout.write(`${result.path}\n`);
      process.stderr.write(`backed up ${resolve(config.sqlitePath)} (${(result.bytes / 1024 / 1024).toFixed(1)} MB, integrity ok)\n`);
    }));
}
