// Every `lares` subcommand, one file each. Add a line here to add a command.
import type { Command } from 'commander';
import { registerApprovalsCommand } from './approvals.ts';
import { registerBackupCommand } from './backup.ts';
import { registerChatCommand } from './chat.ts';
import { registerCompactCommand } from './compact.ts';
import { registerContextCommand } from './context.ts';
import { registerDbCommand } from './db.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerExportCommand } from './export.ts';
import { registerImportCommand } from './import.ts';
import { registerMcpCommand } from './mcp.ts';
import { registerMemoryCommand } from './memory.ts';
import { registerMigrateCommand } from './migrate.ts';
import { registerReindexCommand } from './reindex.ts';
import { registerRollbackCommand } from './rollback.ts';
import { registerRunCommand } from './run-command.ts';
import { registerSearchCommand } from './search.ts';
import { registerStatusCommand } from './status.ts';
import { registerUsageCommand } from './usage.ts';
import { registerWebCommand } from './web.ts';

export function registerCommands(program: Command): void {
  registerChatCommand(program);
  registerRunCommand(program);
  registerWebCommand(program);
  registerMemoryCommand(program);
  registerContextCommand(program);
  registerUsageCommand(program);
  registerStatusCommand(program);
  registerSearchCommand(program);
  registerReindexCommand(program);
  registerCompactCommand(program);
  registerBackupCommand(program);
  registerExportCommand(program);
  registerImportCommand(program);
  registerDbCommand(program);
  registerDoctorCommand(program);
  registerMigrateCommand(program);
  registerRollbackCommand(program);
  registerMcpCommand(program);
  registerApprovalsCommand(program);
}
