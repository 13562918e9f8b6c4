// Every `lares` subcommand, one file each. Add a line here to add a command.
import type { Command } from 'commander';

export function registerCommands(_program: Command): void {
  // commands are added here as they are built
}
