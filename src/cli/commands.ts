// Every `lares` subcommand, one file each. Add a line here to add a command.
import type { Command } from 'commander';

type Register = (program: Command) => void;

/** The commands in the order --help lists them, each with the module that registers it. */
const COMMANDS: Array<[name: string, load: () => Promise<Register>]> = [
  ['chat', async () => (await import('./chat.ts')).registerChatCommand],
  ['run', async () => (await import('./run-command.ts')).registerRunCommand],
  ['web', async () => (await import('./web.ts')).registerWebCommand],
  ['memory', async () => (await import('./memory.ts')).registerMemoryCommand],
  ['context', async () => (await import('./context.ts')).registerContextCommand],
  ['usage', async () => (await import('./usage.ts')).registerUsageCommand],
  ['status', async () => (await import('./status.ts')).registerStatusCommand],
  ['search', async () => (await import('./search.ts')).registerSearchCommand],
  ['reindex', async () => (await import('./reindex.ts')).registerReindexCommand],
  ['compact', async () => (await import('./compact.ts')).registerCompactCommand],
  ['backup', async () => (await import('./backup.ts')).registerBackupCommand],
  ['export', async () => (await import('./export.ts')).registerExportCommand],
  ['import', async () => (await import('./import.ts')).registerImportCommand],
  ['db', async () => (await import('./db.ts')).registerDbCommand],
  ['doctor', async () => (await import('./doctor.ts')).registerDoctorCommand],
  ['migrate', async () => (await import('./migrate.ts')).registerMigrateCommand],
  ['rollback', async () => (await import('./rollback.ts')).registerRollbackCommand],
  ['mcp', async () => (await import('./mcp.ts')).registerMcpCommand],
  ['approvals', async () => (await import('./approvals.ts')).registerApprovalsCommand],
];

/**
 * Registers the command being run, loading only its module — so `lares export` does not load
 * discord.js, the web console or the model SDKs (a heap-capped export of a million messages needs
 * that room) — or every command for --help, `help <command>` and anything unknown.
 */
export async function registerCommands(program: Command, args: string[] = process.argv.slice(2)): Promise<void> {
  const chosen = COMMANDS.find(([name]) => name === args[0]);
  for (const [, load] of chosen ? [chosen] : COMMANDS) (await load())(program);
}
