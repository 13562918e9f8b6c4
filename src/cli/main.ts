// The `lares` command line. Each command lives in its own file and registers itself here.
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands.ts';
import { exitWithError } from './run.ts';
import pkg from '../../package.json' with { type: 'json' };

// `lares search x | head`: a closed pipe ends the command quietly instead of crashing on EPIPE
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const program = new Command('lares')
  .description('Lares: a self-hosted, stateful personal AI agent.')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

await registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here with code 0; usage errors with 2.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    exitWithError(error);
  }
}
