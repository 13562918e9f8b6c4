// Notes in an Obsidian-style vault (OBSIDIAN_VAULT_PATH): markdown files, confined
// to the vault through the same PathGuard as the file tools.
import { constants } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, join, relative } from 'node:path';
import { WRITE_NO_FOLLOW } from './files.ts';
import { PathGuard } from './paths.ts';
import { ToolInputError } from './tool-error.ts';

const MAX_NOTE_BYTES = 512 * 1024;
const MAX_LISTED = 500;
const APPEND_NO_FOLLOW = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW;

export class NotesVault {
  readonly #guard?: PathGuard;

  constructor(vaultPath: string | undefined, blockedGlobs: string[]) {
    this.#guard = vaultPath ? new PathGuard([vaultPath], blockedGlobs) : undefined;
  }

  get root(): string | undefined { return this.#guard?.roots[0]; }

  /** Resolves a note name ("Projects/lares", "inbox.md") to its real path inside the vault, or undefined if absent. */
  async locate(name: string, forWrite: boolean): Promise<string> {
    const guard = this.#requireGuard();
    const withExt = extname(name) === '' ? `${name}.md` : name;
    if (extname(withExt).toLowerCase() !== '.md') throw new ToolInputError(`path: notes are markdown files (.md), not ${extname(withExt)}`);
    return forWrite ? guard.resolveForWrite(withExt) : guard.resolveExisting(withExt);
  }

  async exists(name: string): Promise<boolean> {
    try { await this.locate(name, false); return true; } catch { return false; }
  }

  async read(args: { path: string }): Promise<string> {
    const real = await this.locate(args.path, false);
    const info = await stat(real);
    if (info.size > MAX_NOTE_BYTES) throw new ToolInputError(`${args.path} is ${info.size} bytes, over the ${MAX_NOTE_BYTES}-byte limit`);
    return readFile(real, 'utf8');
  }

  async write(args: { path: string; content: string }): Promise<string> {
    const real = await this.locate(args.path, true);
    const existed = await stat(real).then(() => true, () => false);
    await mkdir(dirname(real), { recursive: true });
    await writeFile(real, args.content, { encoding: 'utf8', flag: WRITE_NO_FOLLOW });
    return `${existed ? 'overwrote' : 'created'} note ${this.#relative(real)}`;
  }

  async append(args: { path: string; content: string }): Promise<string> {
    const real = await this.locate(args.path, true);
    const existing = await readFile(real, 'utf8').catch(() => undefined);
    await mkdir(dirname(real), { recursive: true });
    const separator = existing === undefined || existing === '' || existing.endsWith('\n') ? '' : '\n';
    await appendFile(real, `${separator}${args.content}${args.content.endsWith('\n') ? '' : '\n'}`, { encoding: 'utf8', flag: APPEND_NO_FOLLOW });
    return `${existing === undefined ? 'created' : 'appended to'} note ${this.#relative(real)}`;
  }

  async addJournalEntry(args: { text: string; date?: string }, now = new Date()): Promise<string> {
    const date = args.date ?? localDate(now);
    const day = Date.parse(`${date}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(day) || new Date(day).toISOString().slice(0, 10) !== date) {
      throw new ToolInputError(`date: expected a real day as YYYY-MM-DD, got "${date}"`);
    }
    const time = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
    const path = `Journal/${date}.md`;
    const exists = await this.exists(path);
    const heading = exists ? '' : `# ${date}\n`;
    await this.append({ path, content: `${heading}\n## ${time}\n\n${args.text.trim()}\n` });
    return `added a journal entry to ${path}`;
  }

  async list(args: { folder?: string }): Promise<string> {
    const guard = this.#requireGuard();
    const start = await guard.resolveExisting(args.folder ?? guard.roots[0]);
    const found = await this.#walk(start, guard, MAX_LISTED);
    if (found.length === 0) return `no notes under ${this.#relative(start) || '/'}`;
    return found.map((p) => this.#relative(p)).sort().join('\n') + (found.length >= MAX_LISTED ? `\n[stopped at ${MAX_LISTED} notes]` : '');
  }

  async search(args: { query: string; limit?: number }): Promise<string> {
    const guard = this.#requireGuard();
    const needle = args.query.toLowerCase();
    const limit = Math.max(1, Math.min(args.limit ?? 20, 100));
    const hits: string[] = [];
    for (const path of await this.#walk(guard.roots[0], guard, 10_000)) {
      if (hits.length >= limit) break;
      const rel = this.#relative(path);
      const info = await stat(path);
      if (info.size > MAX_NOTE_BYTES) continue;
      const lines = (await readFile(path, 'utf8')).split('\n');
      const index = lines.findIndex((l) => l.toLowerCase().includes(needle));
      if (index >= 0) hits.push(`${rel}:${index + 1}: ${lines[index].trim().slice(0, 200)}`);
      else if (rel.toLowerCase().includes(needle)) hits.push(`${rel} (name matches)`);
    }
    return hits.length ? `${hits.length} note(s) matching "${args.query}":\n${hits.join('\n')}` : `no notes matching "${args.query}"`;
  }

  async #walk(start: string, guard: PathGuard, max: number): Promise<string[]> {
    const out: string[] = [];
    const stack = [start];
    while (stack.length && out.length < max) {
      const dir = stack.pop()!;
      let entries;
      try { entries = await readdir(dir, { withFileTypes: true }); } catch { continue; }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.name.startsWith('.') || entry.isSymbolicLink() || guard.isBlocked(full)) continue;
        if (entry.isDirectory()) stack.push(full);
        else if (entry.isFile() && entry.name.toLowerCase().endsWith('.md')) out.push(full);
        if (out.length >= max) break;
      }
    }
    return out;
  }

  #relative(real: string): string {
    return this.root ? relative(this.root, real) : real;
  }

  #requireGuard(): PathGuard {
    if (!this.#guard || this.#guard.roots.length === 0) {
      throw new ToolInputError('no notes vault: set OBSIDIAN_VAULT_PATH to an existing directory to use the notes tools');
    }
    return this.#guard;
  }
}

function localDate(now: Date): string {
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
}
