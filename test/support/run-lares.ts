// `lares <args>` for the operations tests: no .env file is read unless the test gives one,
// and logs are JSON lines.
import { runLares as run, type CliResult } from './cli.ts';

export type LaresRun = CliResult;

export function runLares(args: string[], env: Record<string, string | undefined> = {}, options: { cwd?: string } = {}): Promise<LaresRun> {
  return run(args, { env: { LARES_ENV_FILE: '/nonexistent/lares.env', LOG_FORMAT: 'json', ...env }, cwd: options.cwd });
}
