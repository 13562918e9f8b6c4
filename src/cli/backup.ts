// lares backup [--to FILE]: an online copy of the SQLite database while Lares keeps running.
// The tool database (approval queue, scheduled jobs, shell allowlist: LARES_APPROVAL_DB, by
// default the same file as the memory) is backed up too when it is a file of its own, which it
// always is with MEMORY_PROVIDER=postgres: pg_dump does not cover it.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { LaresError } from '../errors.ts';
import { backupSqlite, defaultBackupPath, toolsBackupPath, type BackupResult } from '../ops/backup.ts';
import { loadCommandConfig } from './context-helpers.ts';
import { action, printJson } from './run.ts';

const PG_DUMP = 'pg_dump --format=custom --file lares.dump "$DATABASE_URL" (restore with pg_restore), or use lares export';

export function registerBackupCommand(program: Command): void {
  program.command('backup')
    .description('Back up the SQLite database (online: Lares may keep running), and the tool database (approvals, scheduled jobs) when it is a separate file. Prints the backup files.')
    .option('--to <file>', 'backup file (default: data/backups/lares-<UTC time>.db next to the database); a separate tool database goes to <file>-tools.db')
    .option('--json', 'print {path, bytes, pages} (and tools: {…} for a separate tool database)')
    .action(action(async (options: { to?: string; json?: boolean }) => {
      const config = loadCommandConfig({ quiet: true });
      const toolDb = config.mcp.approvalDbPath;
      const progress = (remaining: number, total: number) => {
        if (process.stderr.isTTY && total > 0) process.stderr.write(`\rbacking up: ${Math.round(((total - remaining) / total) * 100)}%`);
      };
      const done = () => { if (process.stderr.isTTY) process.stderr.write('\n'); };
      if (config.memoryProvider === 'postgres') {
        if (!existsSync(toolDb)) {
          throw new LaresError('USAGE', `lares backup copies SQLite files, but MEMORY_PROVIDER=postgres and there is no tool database at ${toolDb}. Back up PostgreSQL with its own tool: ${PG_DUMP}.`);
        }
        const tools = await backupSqlite(toolDb, options.to ?? defaultBackupPath(toolDb, new Date(), 'lares-tools'), progress);
        done();
        if (options.json) return printJson({ tools });
        process.stdout.write(`${tools.path}\n`);
        process.stderr.write(`backed up the tool database ${toolDb} (approval queue, scheduled jobs, shell allowlist). The memory is in PostgreSQL: back it up with ${PG_DUMP}.\n`);
        return;
      }
      const to = options.to ?? defaultBackupPath(config.sqlitePath);
      const separate = resolve(toolDb) !== resolve(config.sqlitePath) && existsSync(toolDb);
      if (separate && existsSync(toolsBackupPath(to))) throw new LaresError('USAGE', `${resolve(toolsBackupPath(to))} exists already; choose a new file with --to`);
      const result = await backupSqlite(config.sqlitePath, to, progress);
      let tools: BackupResult | undefined;
      if (separate) tools = await backupSqlite(toolDb, toolsBackupPath(to), progress);
      done();
      if (options.json) return printJson(tools ? { ...result, tools } : result);
      process.stdout.write(`${result.path}\n${tools ? `${tools.path}\n` : ''}`);
      process.stderr.write(`backed up ${config.sqlitePath} (${(result.bytes / 1024 / 1024).toFixed(1)} MB, integrity ok)${tools ? ` and the tool database ${toolDb}` : ''}\n`);
    }));
}
