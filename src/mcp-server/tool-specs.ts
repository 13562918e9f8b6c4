// What each Lares tool takes (zod schemas, from which the JSON schemas are made),
// what it tells the model about itself, and the code that runs it. Whether a call
// runs at once or waits for the owner is not decided here but in policy.ts.
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { relative, sep } from 'node:path';
import { z } from 'zod';
import { listDirectoryTool, readFileTool, searchFilesTool, writeFileTool, MAX_READ_BYTES } from './files.ts';
import type { NotesVault } from './notes.ts';
import type { PathGuard } from './paths.ts';
import type { LaresToolName, PolicyFacts } from './policy.ts';
import type { Scheduler } from './scheduler.ts';
import { formatShellResult, parseCommand, runCommand, type ShellAllowlist } from './shell.ts';
import { ToolInputError } from './tool-error.ts';
import { fetchUrlTool, privateAddress, readRssFeedTool } from './web.ts';

export interface ToolDeps {
  files: PathGuard;
  vault: NotesVault;
  scheduler: Scheduler;
  allowlist: ShellAllowlist;
}

export interface ToolSpec {
  description: string;
  input: z.ZodRawShape;
  run(args: any, deps: ToolDeps): Promise<string>;
  /** facts the conditional policy rules need about this call */
  facts?(args: any, deps: ToolDeps): Promise<PolicyFacts>;
}

const path = (what: string) => z.string().min(1).describe(what);

export const TOOL_SPECS: Record<LaresToolName, ToolSpec> = {
  read_file: {
    description: `Read a text file inside the allowed directories (LARES_ALLOWED_PATHS). Relative paths start at the first allowed directory. Returns at most ${MAX_READ_BYTES} bytes. Paths outside the allowed directories, symlinks that lead out, and secret files (.env, keys, credentials) are refused.`,
    input: { path: path('file path, absolute or relative to the first allowed directory'), max_bytes: z.number().int().positive().max(MAX_READ_BYTES).optional().describe('read at most this many bytes') },
    run: (args, deps) => readFileTool(deps.files, args),
  },
  list_directory: {
    description: 'List the entries of a directory inside the allowed directories (files, subdirectories, links). Without a path, lists the first allowed directory.',
    input: { path: path('directory path').optional() },
    run: (args, deps) => listDirectoryTool(deps.files, args),
  },
  search_files: {
    description: 'Find files by name pattern (glob: * and ?), optionally only those containing some text, under a directory inside the allowed directories. Symlinks are not followed; at most 200 results.',
    input: {
      pattern: z.string().min(1).describe('file name glob, e.g. "*.md" or "report-2026-*"'),
      path: path('directory to search (default: the first allowed directory)').optional(),
      contains: z.string().min(1).optional().describe('only files with a line containing this text (case-insensitive); shows the first matching line'),
    },
    run: (args, deps) => searchFilesTool(deps.files, args),
  },
  write_file: {
    description: 'Write a text file inside the allowed directories, creating parent directories. Creating a new file inside the notes vault happens at once; writing anywhere else, into a hidden folder (.obsidian, .git), or overwriting an existing file, is queued for the owner\'s approval and is NOT done until approved.',
    input: { path: path('file path, absolute or relative to the first allowed directory'), content: z.string().describe('the whole new content of the file') },
    run: (args, deps) => writeFileTool(deps.files, args),
    async facts(args: { path: string }, deps) {
      const target = await deps.files.resolveForWrite(args.path);
      const vault = deps.vault.root;
      const insideVault = vault !== undefined && (target === vault || target.startsWith(vault + sep));
      const hiddenTarget = insideVault && relative(vault, target).split(sep).some((name) => name.startsWith('.'));
      return { insideVault, hiddenTarget, targetExists: await exists(target) };
    },
  },
  run_shell_command: {
    description: 'Run one program on the host. The command is split into words like a shell would, but it is NOT run by a shell. Commands on the owner\'s allowlist run at once (30 s timeout, output capped); anything else, and anything with shell syntax (pipes |, ;, &&, redirections >, $(...), backticks, globs, $VARIABLES), is queued for the owner\'s approval and is NOT run until approved.',
    input: {
      command: z.string().min(1).describe('the command line, e.g. "git status" or "df -h"'),
      working_dir: path('directory to run in, inside the allowed directories (default: the first allowed directory)').optional(),
    },
    async run(args: { command: string; working_dir?: string }, deps) {
      const parsed = parseCommand(args.command);
      const cwd = args.working_dir ? await deps.files.resolveExisting(args.working_dir) : deps.files.roots[0] ?? homedir();
      // Shell syntax only reaches here after the owner approved this exact text.
      const result = parsed.shellSyntax.length > 0
        ? await runCommand({ shellText: args.command }, { cwd })
        : await runCommand({ argv: parsed.argv }, { cwd });
      return formatShellResult(args.command, result);
    },
    async facts(args: { command: string; working_dir?: string }, deps) {
      const parsed = parseCommand(args.command);
      if (args.working_dir) await deps.files.resolveExisting(args.working_dir);
      return { shellSyntax: parsed.shellSyntax, allowRule: parsed.shellSyntax.length === 0 ? await deps.allowlist.match(parsed.argv) : undefined };
    },
  },
  read_rss_feed: {
    description: 'Read an RSS 2.0 or Atom feed and list its latest items (title, date, link, short summary). A feed on this machine or the local network is queued for the owner\'s approval and is NOT read until approved.',
    input: { url: z.string().url().describe('the feed URL (http or https)'), limit: z.number().int().min(1).max(50).optional().describe('how many items to show (default 10)') },
    run: (args) => readRssFeedTool(args),
    facts: async (args: { url: string }) => ({ privateAddress: await privateAddress(args.url) }),
  },
  fetch_url: {
    description: 'Fetch a web page (http or https) and return its readable text (HTML reduced to text), up to 40,000 characters; downloads stop at 2 MB. A URL on this machine or the local network (localhost, 192.168.x.x, ...) is queued for the owner\'s approval and is NOT fetched until approved; redirects into the local network are refused.',
    input: { url: z.string().url().describe('the page URL (http or https)'), max_chars: z.number().int().positive().max(40_000).optional().describe('return at most this many characters') },
    run: (args) => fetchUrlTool(args),
    facts: async (args: { url: string }) => ({ privateAddress: await privateAddress(args.url) }),
  },
  read_note: {
    description: 'Read a markdown note from the notes vault (OBSIDIAN_VAULT_PATH). The name is relative to the vault; ".md" is added when missing.',
    input: { path: path('note name, e.g. "Projects/Lares" or "inbox.md"') },
    run: (args, deps) => deps.vault.read(args),
  },
  list_notes: {
    description: 'List the markdown notes in the vault, or in one folder of it.',
    input: { folder: path('folder inside the vault (default: the whole vault)').optional() },
    run: (args, deps) => deps.vault.list(args),
  },
  search_notes: {
    description: 'Search the notes in the vault for text (case-insensitive); returns the matching notes with the first matching line.',
    input: { query: z.string().min(1).describe('text to look for'), limit: z.number().int().min(1).max(100).optional().describe('at most this many notes (default 20)') },
    run: (args, deps) => deps.vault.search(args),
  },
  write_note: {
    description: 'Write a markdown note in the vault. Creating a new note happens at once; overwriting an existing note is queued for the owner\'s approval and is NOT done until approved (use append_to_note to add to a note).',
    input: { path: path('note name, e.g. "Ideas/garden"'), content: z.string().describe('the whole content of the note') },
    run: (args, deps) => deps.vault.write(args),
    async facts(args: { path: string }, deps) {
      await deps.vault.locate(args.path, true);
      return { targetExists: await deps.vault.exists(args.path) };
    },
  },
  append_to_note: {
    description: 'Append text to the end of a note in the vault (the note is created if missing).',
    input: { path: path('note name'), content: z.string().min(1).describe('text to append') },
    run: (args, deps) => deps.vault.append(args),
  },
  add_journal_entry: {
    description: 'Add a timestamped entry to the day\'s journal note (Journal/YYYY-MM-DD.md in the vault).',
    input: { text: z.string().min(1).describe('the entry'), date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD').optional().describe('the day (default: today)') },
    run: (args, deps) => deps.vault.addJournalEntry(args),
  },
  schedule_job: {
    description: 'Schedule a message to yourself: when the job is due, the message comes back to you as an event you act on. kind "once": spec is a time (2026-12-01T09:00:00Z) or a delay (30m, 2h); "interval": spec is a duration, at least 1m (6h, 1d); "cron": spec is a 5-field cron pattern ("0 9 * * 1-5").',
    input: {
      kind: z.enum(['once', 'interval', 'cron']).describe('once, interval or cron'),
      spec: z.string().min(1).describe('when: a time or delay (once), a duration (interval), a cron pattern (cron)'),
      message: z.string().min(1).describe('what to tell yourself when the job is due'),
    },
    async run(args, deps) {
      const job = await deps.scheduler.schedule(args);
      return `scheduled ${job.id} (${job.kind} ${job.spec}); next run ${job.nextRunAt}`;
    },
  },
  list_jobs: {
    description: 'List the active scheduled jobs with their next run times.',
    input: {},
    async run(_args, deps) {
      const jobs = await deps.scheduler.list();
      if (jobs.length === 0) return 'no scheduled jobs';
      return jobs.map((j) => `${j.id}  ${j.kind} ${j.spec}  next: ${j.nextRunAt ?? '-'}  "${j.message}"`).join('\n');
    },
  },
  remove_job: {
    description: 'Remove a scheduled job by id. Queued for the owner\'s approval; NOT done until approved.',
    input: { id: z.string().min(1).describe('the job id, e.g. job_1a2b3c4d') },
    async run(args: { id: string }, deps) {
      if (!await deps.scheduler.remove(args.id)) throw new ToolInputError(`id: no scheduled job ${args.id}; see list_jobs`);
      return `removed ${args.id}`;
    },
  },
};

async function exists(target: string): Promise<boolean> {
  return stat(target).then(() => true, () => false);
}
