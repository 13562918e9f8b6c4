// Confines file access to LARES_ALLOWED_PATHS. Every path is resolved to its real
// path (symlinks followed) before it is compared with the allowed roots, so `..`,
// absolute paths and symlinks that point out are all refused the same way. Files
// matching LARES_BLOCKED_FILES globs are refused by their requested and their real name.
import { realpathSync } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ToolInputError } from './tool-error.ts';

export class PathGuard {
  readonly roots: string[];
  readonly #blocked: Array<(name: string) => boolean>;
  readonly #blockedGlobs: string[];

  constructor(roots: string[], blockedGlobs: string[]) {
    this.roots = [];
    for (const root of roots) {
      try { this.roots.push(realpathSync(resolve(root))); } catch { /* a missing root allows nothing */ }
    }
    this.#blockedGlobs = blockedGlobs;
    this.#blocked = blockedGlobs.map(globMatcher);
  }

  /** Resolves a path that must exist; throws a ToolInputError that never includes file content. */
  async resolveExisting(requested: string): Promise<string> {
    const absolute = this.#absolute(requested);
    this.#refuseBlockedName(requested, absolute);
    let real: string;
    try {
      real = await realpath(absolute);
    } catch (error) {
      // Say "not found" only for paths that would be inside the roots, so probing outside learns nothing.
      if (this.#inside(absolute)) throw new ToolInputError(`no such file or directory: ${requested}`, { cause: error });
      throw this.#outside(requested);
    }
    if (!this.#inside(real)) throw this.#outside(requested);
    this.#refuseBlockedName(requested, real);
    return real;
  }

  /**
   * Resolves a path that may not exist yet (for writes): its nearest existing ancestor must be inside.
   * A name that exists but does not resolve is a symlink to a missing target (or a loop): writing
   * through it would create the target wherever it points, so it is refused.
   */
  async resolveForWrite(requested: string): Promise<string> {
    const absolute = this.#absolute(requested);
    this.#refuseBlockedName(requested, absolute);
    let existing = absolute;
    const rest: string[] = [];
    for (;;) {
      let real: string;
      try {
        real = await realpath(existing);
      } catch {
        if (await lstat(existing).then((info) => info.isSymbolicLink(), () => false)) {
          if (!this.#inside(existing)) throw this.#outside(requested);
          throw new ToolInputError(`refused: ${requested} goes through a symbolic link whose target does not exist; Lares never writes through such links`);
        }
        const parent = dirname(existing);
        if (parent === existing) throw this.#outside(requested);
        rest.push(basename(existing));
        existing = parent;
        continue;
      }
      const target = rest.length ? join(real, ...rest.reverse()) : real;
      if (!this.#inside(target)) throw this.#outside(requested);
      this.#refuseBlockedName(requested, target);
      return target;
    }
  }

  /** True when some segment of the path (below its root) matches a blocked glob. */
  isBlocked(path: string): boolean {
    const root = this.roots.find((r) => path === r || path.startsWith(r.endsWith(sep) ? r : r + sep));
    const inner = root ? relative(root, path) : basename(path);
    return inner.split(sep).some((segment) => segment !== '' && this.#blocked.some((matches) => matches(segment)));
  }

  #absolute(requested: string): string {
    if (typeof requested !== 'string' || requested.trim() === '') throw new ToolInputError('path: expected a non-empty path');
    if (requested.includes('\0')) throw new ToolInputError('path: contains a NUL character');
    if (this.roots.length === 0) {
      throw new ToolInputError('no directories are open to Lares: set LARES_ALLOWED_PATHS (colon-separated directories) to allow file access');
    }
    return isAbsolute(requested) ? resolve(requested) : resolve(this.roots[0], requested);
  }

  #inside(path: string): boolean {
    return this.roots.some((root) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep));
  }

  #refuseBlockedName(requested: string, path: string): void {
    if (this.isBlocked(path) || this.#blocked.some((matches) => matches(basename(requested)))) {
      throw new ToolInputError(`refused: ${requested} matches a blocked file pattern (LARES_BLOCKED_FILES: ${this.#blockedGlobs.join(', ')})`);
    }
  }

  #outside(requested: string): ToolInputError {
    return new ToolInputError(`refused: ${requested} is outside the allowed directories (${this.roots.join(', ')}); only paths inside LARES_ALLOWED_PATHS can be used`);
  }
}

/**
 * A small glob for file names: `*` any run of characters but `/`, `?` one character;
 * case-insensitive. Matched by a greedy two-pointer walk, not a regular expression:
 * a pattern like `*a*a*a*a*b` would make a backtracking regex run for minutes.
 */
export function globMatcher(glob: string): (name: string) => boolean {
  const pattern = [...glob.toLowerCase()];
  return (name: string) => {
    const text = [...name.toLowerCase()];
    let p = 0; let t = 0; let star = -1; let mark = 0;
    while (t < text.length) {
      if (p < pattern.length && pattern[p] !== '*' && (pattern[p] === '?' ? text[t] !== '/' : pattern[p] === text[t])) { p++; t++; }
      else if (p < pattern.length && pattern[p] === '*') { star = p++; mark = t; }
      else if (star >= 0 && text[mark] !== '/') { p = star + 1; t = ++mark; }
      else return false;
    }
    while (pattern[p] === '*') p++;
    return p === pattern.length;
  };
}
