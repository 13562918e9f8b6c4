// Runs the real `lares` command (or any command) in a child process and collects its output.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NODE = process.execPath;
export const LARES_BIN = join(ROOT, 'bin', 'lares.js');

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Spawns a command, feeds it `input` (or nothing), and resolves with its exit code and output. */
export function spawnCollect(command: string, args: string[], options: SpawnOptions, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin!.end(input ?? '');
  });
}

/** `lares <args>` with only the environment given (plus PATH and HOME). */
export function runLares(args: string[], options: { env?: Record<string, string | undefined>; input?: string; cwd?: string } = {}): Promise<CliResult> {
  return spawnCollect(NODE, [LARES_BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', LARES_EMBEDDER: 'none', ...options.env } as NodeJS.ProcessEnv,
  }, options.input);
}

/** A long-running `lares` process (run, web): its output so far, its exit, killed when the test ends. */
export interface RunningLares {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

export function startLares(t: { after(fn: () => void): void }, args: string[], options: { env: Record<string, string>; cwd: string }): RunningLares {
  const child = spawn(NODE, [LARES_BIN, ...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}
