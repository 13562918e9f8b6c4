// Shared plumbing for commands: error → message + exit code, JSON output.
import { isLaresError, errorMessage } from '../errors.ts';

/** Prints an error for a person (stderr) and sets the exit code: 2 usage/config, 1 failure. */
export function exitWithError(error: unknown): void {
  if (isLaresError(error)) {
    process.stderr.write(`lares: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`lares: ${errorMessage(error)}\n`);
    if (process.env.LARES_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    process.exitCode = 1;
  }
}

/** Writes a command's JSON answer: pure JSON on stdout and nothing else. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Wraps a command action so that errors become messages and exit codes. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      exitWithError(error);
    }
  };
}
