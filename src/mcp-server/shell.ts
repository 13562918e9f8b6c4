// run_shell_command: the command text is parsed into argv (shell-quote) and run
// WITHOUT a shell. Only plain argv can be allowlisted; anything a shell would
// interpret (operators, pipes, redirections, substitutions, globs, variables)
// always goes to the owner, and once the owner approved that exact text it runs
// through /bin/sh -c, because that is what the owner read and agreed to.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { parse } from 'shell-quote';
import { LaresError } from '../errors.ts';
import type { ToolStateStore } from '../memory/tool-state.ts';
import { nowIso } from '../time.ts';
import { ToolInputError } from './tool-error.ts';

export const SHELL_TIMEOUT_MS = 30_000;
export const SHELL_OUTPUT_CAP = 64 * 1024;

export interface ParsedCommand {
  /** the words, when the command is plain argv */
  argv: string[];
  /** what a shell would interpret in it; empty for plain argv */
  shellSyntax: string[];
}

export function parseCommand(command: string): ParsedCommand {
  if (typeof command !== 'string' || command.trim() === '') throw new ToolInputError('command: expected a non-empty command');
  if (command.includes('\0')) throw new ToolInputError('command: contains a NUL character, which no program argument can hold');
  const syntax = new Set<string>();
  if (command.includes('`')) syntax.add('backtick substitution');
  if (command.includes('$')) syntax.add('$ expansion or substitution');
  if (/[\n\r]/.test(command)) syntax.add('newline (several commands)');
  if (/(^|\s)~/.test(command)) syntax.add('~ expansion');
  // Keep $NAME literal while parsing: we decide on the text, never on an expansion.
  const tokens = parse(command, (name) => `$${name}`);
  const argv: string[] = [];
  for (const token of tokens) {
    if (typeof token === 'string') { argv.push(token); continue; }
    if ('comment' in token) { syntax.add('# comment'); continue; }
    if (token.op === 'glob') { syntax.add(`glob ${(token as { pattern: string }).pattern}`); continue; }
    syntax.add(`operator ${token.op}`);
  }
  if (argv.length === 0) throw new ToolInputError('command: no program to run');
  return { argv, shellSyntax: [...syntax] };
}

export interface AllowRule { exact?: string[]; prefix?: string[]; source: string }

/**
 * The shell allowlist. Rules come from LARES_ALLOWLIST_FILE (owner-edited, re-read
 * when it changes) and from "always allow" approvals (stored in mcp_shell_allowlist).
 *
 * File format: one rule per line, `#` starts a comment line:
 *   {"exact": ["git", "status"]}        the whole argv must be exactly this
 *   {"prefix": ["git", "log"]}          argv must start with these words (any arguments after)
 *   ["uptime"]                          shorthand for {"exact": ["uptime"]}
 */
export class ShellAllowlist {
  readonly #state: ToolStateStore;
  readonly #file?: string;
  #fileRules: AllowRule[] = [];
  #fileStamp = '';

  constructor(state: ToolStateStore, file?: string) {
    this.#state = state;
    this.#file = file;
    this.#loadFile();
  }

  async match(argv: string[]): Promise<AllowRule | undefined> {
    for (const rule of await this.rules()) {
      if (rule.exact && rule.exact.length === argv.length && rule.exact.every((w, i) => w === argv[i])) return rule;
      if (rule.prefix && rule.prefix.length > 0 && rule.prefix.length <= argv.length && rule.prefix.every((w, i) => w === argv[i])) return rule;
    }
    return undefined;
  }

  addExact(argv: string[], approvalId?: string): Promise<void> {
    return this.#state.addAllowedCommand({ argv, approvalId: approvalId ?? null, createdAt: nowIso() });
  }

  /** The file's rules (re-read when it changes), then the owner's "always allow" decisions. */
  async rules(): Promise<AllowRule[]> {
    this.#loadFile();
    const stored = (await this.#state.allowedCommands()).map((c): AllowRule => ({ exact: c.argv, source: 'always-allow approval' }));
    return [...this.#fileRules, ...stored];
  }

  #loadFile(): void {
    if (!this.#file) return;
    let stamp: string;
    try {
      const info = statSync(this.#file);
      stamp = `${info.mtimeMs}:${info.size}`;
    } catch {
      throw new LaresError('CONFIG_INVALID', `LARES_ALLOWLIST_FILE=${this.#file}: the file does not exist; create it (one rule per line, e.g. {"exact": ["uptime"]}) or unset the variable`);
    }
    if (stamp === this.#fileStamp) return;
    this.#fileRules = parseAllowlistFile(readFileSync(this.#file, 'utf8'), this.#file);
    this.#fileStamp = stamp;
  }
}

export function parseAllowlistFile(text: string, name = 'allowlist'): AllowRule[] {
  const rules: AllowRule[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${name} line ${index + 1}`;
    let value: unknown;
    try { value = JSON.parse(line); } catch {
      throw new LaresError('CONFIG_INVALID', `${where}: not JSON; write {"exact": ["cmd", "arg"]} or {"prefix": ["cmd"]}`);
    }
    const words = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((w) => typeof w === 'string');
    if (words(value)) { rules.push({ exact: value as string[], source: where }); return; }
    const rule = value as { exact?: unknown; prefix?: unknown };
    if (rule && typeof rule === 'object' && words(rule.exact) && rule.prefix === undefined) { rules.push({ exact: rule.exact as string[], source: where }); return; }
    if (rule && typeof rule === 'object' && words(rule.prefix) && rule.exact === undefined) { rules.push({ prefix: rule.prefix as string[], source: where }); return; }
    throw new LaresError('CONFIG_INVALID', `${where}: expected {"exact": [words]} or {"prefix": [words]} with at least one word`);
  });
  return rules;
}

export interface ShellResult { exitCode: number | null; signal: string | null; stdout: string; stderr: string; timedOut: boolean; truncated: boolean }

/** Runs argv without a shell, or — only for an owner-approved command with shell syntax — through /bin/sh -c. */
export function runCommand(spec: { argv: string[] } | { shellText: string }, options: { cwd: string; timeoutMs?: number; outputCap?: number }): Promise<ShellResult> {
  const [file, args] = 'argv' in spec ? [spec.argv[0], spec.argv.slice(1)] : ['/bin/sh', ['-c', spec.shellText]];
  const cap = options.outputCap ?? SHELL_OUTPUT_CAP;
  return new Promise((resolveResult, reject) => {
    // Its own process group (detached), so a timeout kills everything it started: a
    // pipeline's other half or a background child would otherwise hold the output
    // pipes open and keep the call waiting long after the timeout.
    const child = spawn(file, args, { cwd: options.cwd, env: safeEnvironment(), shell: false, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = []; const err: Buffer[] = [];
    let outLen = 0; let errLen = 0; let truncated = false; let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => { if (outLen < cap) { out.push(chunk); outLen += chunk.length; } else truncated = true; });
    child.stderr.on('data', (chunk: Buffer) => { if (errLen < cap) { err.push(chunk); errLen += chunk.length; } else truncated = true; });
    const timer = setTimeout(() => {
      timedOut = true;
      try { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
      // A process that left the group (setsid) may still hold the pipes: stop waiting for them.
      child.stdout.destroy();
      child.stderr.destroy();
    }, options.timeoutMs ?? SHELL_TIMEOUT_MS);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT') reject(new ToolInputError(`command not found: ${file}`));
      else reject(error);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      const clip = (parts: Buffer[]) => { const b = Buffer.concat(parts); if (b.length > cap) truncated = true; return b.subarray(0, cap).toString('utf8'); };
      resolveResult({ exitCode, signal, stdout: clip(out), stderr: clip(err), timedOut, truncated });
    });
  });
}

export function formatShellResult(display: string, result: ShellResult): string {
  const status = result.timedOut ? 'timed out and was killed' : result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode}`;
  const parts = [`$ ${display}`, `(${status})`];
  if (result.stdout) parts.push(`stdout:\n${result.stdout}`);
  if (result.stderr) parts.push(`stderr:\n${result.stderr}`);
  if (result.truncated) parts.push(`[output truncated at ${SHELL_OUTPUT_CAP} bytes per stream]`);
  return parts.join('\n');
}

/** The child's environment: enough to run programs, no secrets (no API keys, tokens, DB URLs). */
export function safeEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  env.TERM = 'dumb';
  return env;
}
