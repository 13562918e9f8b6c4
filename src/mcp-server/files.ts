// read_file, write_file, list_directory, search_files, all through the PathGuard.
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { globMatcher, type PathGuard } from './paths.ts';
import { ToolInputError } from './tool-error.ts';

export const MAX_READ_BYTES = 256 * 1024;
export const MAX_WRITE_BYTES = 1024 * 1024;
const MAX_LIST_ENTRIES = 500;
const MAX_SEARCH_RESULTS = 200;
const MAX_SEARCH_VISITS = 20_000;
const MAX_SEARCH_FILE_BYTES = 1024 * 1024;
/** Opening flags for writes: the resolved path's last name must not be a symlink (one planted after the check). */
export const WRITE_NO_FOLLOW = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

export async function readFileTool(guard: PathGuard, args: { path: string; max_bytes?: number }): Promise<string> {
  const real = await guard.resolveExisting(args.path);
  const info = await stat(real);
  if (info.isDirectory()) throw new ToolInputError(`${args.path} is a directory; use list_directory`);
  if (!info.isFile()) throw new ToolInputError(`${args.path} is not a regular file`);
  const limit = Math.min(args.max_bytes ?? MAX_READ_BYTES, MAX_READ_BYTES);
  const buffer = await readHead(real, limit);
  if (buffer.includes(0)) throw new ToolInputError(`${args.path} looks like a binary file (${info.size} bytes); only text files can be read`);
  const text = buffer.toString('utf8');
  return info.size > limit ? `${text}\n\n[truncated: showed the first ${limit} of ${info.size} bytes]` : text;
}

export async function writeFileTool(guard: PathGuard, args: { path: string; content: string }): Promise<string> {
  const bytes = Buffer.byteLength(args.content, 'utf8');
  if (bytes > MAX_WRITE_BYTES) throw new ToolInputError(`content: ${bytes} bytes is over the ${MAX_WRITE_BYTES}-byte limit`);
  const real = await guard.resolveForWrite(args.path);
  const existing = await stat(real).catch(() => undefined);
  if (existing?.isDirectory()) throw new ToolInputError(`${args.path} is a directory`);
  await mkdir(join(real, '..'), { recursive: true });
  await writeFile(real, args.content, { encoding: 'utf8', flag: WRITE_NO_FOLLOW });
  return `${existing ? 'overwrote' : 'created'} ${real} (${bytes} bytes)`;
}

export async function listDirectoryTool(guard: PathGuard, args: { path?: string }): Promise<string> {
  const real = await guard.resolveExisting(args.path ?? guard.roots[0] ?? '.');
  const info = await stat(real);
  if (!info.isDirectory()) throw new ToolInputError(`${args.path} is not a directory`);
  const entries = await readdir(real, { withFileTypes: true });
  const lines: string[] = [];
  let hidden = 0;
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (guard.isBlocked(join(real, entry.name))) { hidden++; continue; }
    if (lines.length >= MAX_LIST_ENTRIES) break;
    const kind = entry.isDirectory() ? 'dir ' : entry.isSymbolicLink() ? 'link' : 'file';
    lines.push(`${kind}  ${entry.name}${entry.isDirectory() ? '/' : ''}`);
  }
  const shown = lines.length;
  const more = entries.length - hidden - shown;
  return [`${real}:`, ...lines, ...(more > 0 ? [`[${more} more entries not shown]`] : []), ...(hidden > 0 ? [`[${hidden} blocked entries hidden]`] : [])].join('\n') || '(empty)';
}

export async function searchFilesTool(guard: PathGuard, args: { pattern: string; path?: string; contains?: string }): Promise<string> {
  const start = await guard.resolveExisting(args.path ?? guard.roots[0] ?? '.');
  const nameMatches = globMatcher(args.pattern);
  const needle = args.contains?.toLowerCase();
  const results: string[] = [];
  let visited = 0;
  const stack = [start];
  while (stack.length > 0 && results.length < MAX_SEARCH_RESULTS && visited < MAX_SEARCH_VISITS) {
    const dir = stack.pop()!;
    let entries;
    try { entries = await readdir(dir, { withFileTypes: true }); } catch { continue; }
    for (const entry of entries) {
      visited++;
      const full = join(dir, entry.name);
      if (guard.isBlocked(full)) continue;
      // Symlinks are not followed: a link could lead out of the allowed directories.
      if (entry.isSymbolicLink()) continue;
      if (entry.isDirectory()) { if (entry.name !== '.git' && entry.name !== 'node_modules') stack.push(full); continue; }
      if (!entry.isFile() || !nameMatches(entry.name)) continue;
      if (needle === undefined) { results.push(relative(start, full) || entry.name); }
      else {
        const hit = await findLine(full, needle);
        if (hit) results.push(`${relative(start, full)}:${hit.line}: ${hit.text}`);
      }
      if (results.length >= MAX_SEARCH_RESULTS) break;
    }
  }
  if (results.length === 0) return `no files matching ${args.pattern}${needle ? ` containing "${args.contains}"` : ''} under ${start}`;
  const capped = results.length >= MAX_SEARCH_RESULTS ? `\n[stopped at ${MAX_SEARCH_RESULTS} results]` : '';
  return `${results.length} match(es) under ${start}:\n${results.join('\n')}${capped}`;
}

async function findLine(path: string, needle: string): Promise<{ line: number; text: string } | undefined> {
  const info = await lstat(path);
  if (info.size > MAX_SEARCH_FILE_BYTES) return undefined;
  const buffer = await readHead(path, MAX_SEARCH_FILE_BYTES);
  if (buffer.includes(0)) return undefined;
  const lines = buffer.toString('utf8').split('\n');
  const index = lines.findIndex((l) => l.toLowerCase().includes(needle));
  return index < 0 ? undefined : { line: index + 1, text: lines[index].trim().slice(0, 200) };
}

async function readHead(path: string, limit: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(limit);
    const { bytesRead } = await handle.read(buffer, 0, limit, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
