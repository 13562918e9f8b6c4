// Runs the real `lares` command in a child process (the Node that runs the tests, i.e. Node 24)
// with a controlled environment: no .env file is read unless the test gives one.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/lares.js', import.meta.url));

export interface LaresRun { code: number | null; stdout: string; stderr: string }

export function runLares(args: string[], env: Record<string, string | undefined> = {}, options: { cwd?: string } = {}): Promise<LaresRun> {
  return new Promise((resolve, reject) => {
    const base: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, LARES_ENV_FILE: '/nonexistent/lares.env', LOG_LEVEL: 'warn', LOG_FORMAT: 'json' };
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { ...base, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
