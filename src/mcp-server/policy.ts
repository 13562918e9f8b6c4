// THE policy: one table that says, for every Lares tool, what it does to the world
// (the MCP annotations are taken from here) and when a call needs the owner's
// approval. Reads run at once (but not reads of private network addresses); writes
// outside the vault, shell commands off the allowlist, and anything destructive wait
// for the owner.
import type { AllowRule } from './shell.ts';

export interface PolicyAnnotations {
  title: string;
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolPolicy {
  annotations: PolicyAnnotations;
  /** never: runs at once. always: every call waits for the owner. conditional: decided per call (see decideApproval). */
  approval: 'never' | 'always' | 'conditional';
  /** for always/conditional: what the owner is protecting against */
  why?: string;
}

const read = (title: string, openWorld = false): ToolPolicy => ({
  annotations: { title, readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: openWorld },
  approval: 'never',
});

export const TOOL_POLICY = {
  read_file: read('Read a file'),
  list_directory: read('List a directory'),
  search_files: read('Search files'),
  write_file: {
    annotations: { title: 'Write a file', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    approval: 'conditional', why: 'writes outside the notes vault, into its hidden folders, or overwrites an existing file',
  },
  run_shell_command: {
    annotations: { title: 'Run a command', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    approval: 'conditional', why: 'runs a program on the host; only allowlisted plain commands run without the owner',
  },
  read_rss_feed: { ...read('Read an RSS or Atom feed', true), approval: 'conditional', why: 'reads an address on this machine or the local network' },
  fetch_url: { ...read('Fetch a web page as text', true), approval: 'conditional', why: 'reads an address on this machine or the local network' },
  read_note: read('Read a note'),
  list_notes: read('List notes'),
  search_notes: read('Search notes'),
  write_note: {
    annotations: { title: 'Write a note', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    approval: 'conditional', why: 'overwriting an existing note destroys its old content',
  },
  append_to_note: {
    annotations: { title: 'Append to a note', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    approval: 'never',
  },
  add_journal_entry: {
    annotations: { title: 'Add a journal entry', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    approval: 'never',
  },
  schedule_job: {
    annotations: { title: 'Schedule a reminder or job', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    approval: 'never',
  },
  list_jobs: read('List scheduled jobs'),
  remove_job: {
    annotations: { title: 'Remove a scheduled job', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    approval: 'always', why: 'deletes a scheduled job',
  },
} as const satisfies Record<string, ToolPolicy>;

export type LaresToolName = keyof typeof TOOL_POLICY;

export function isLaresToolName(name: string): name is LaresToolName {
  return Object.hasOwn(TOOL_POLICY, name);
}

/** What the conditional rules need to know about one call; gathered by the tool runtime. */
export interface PolicyFacts {
  /** run_shell_command: shell syntax found in the command (empty for plain argv) */
  shellSyntax?: string[];
  /** run_shell_command: the allowlist rule the argv matched */
  allowRule?: AllowRule;
  /** write_file: the resolved target lies inside the notes vault */
  insideVault?: boolean;
  /** write_file: the target inside the vault is hidden (a name starting with "."): .obsidian plugins and .git hooks are code that runs */
  hiddenTarget?: boolean;
  /** fetch_url / read_rss_feed: the private address (loopback, local network, link-local) the URL's host stands for */
  privateAddress?: string;
  /** write_file / write_note: the target already exists */
  targetExists?: boolean;
}

export interface PolicyDecision { needsApproval: boolean; reason: string }

export function decideApproval(tool: LaresToolName, facts: PolicyFacts = {}): PolicyDecision {
  const policy: ToolPolicy = TOOL_POLICY[tool];
  if (policy.approval === 'never') return { needsApproval: false, reason: policy.annotations.readOnlyHint ? 'read-only' : 'allowed by policy' };
  if (policy.approval === 'always') return { needsApproval: true, reason: `${tool} ${policy.why}` };
  switch (tool) {
    case 'run_shell_command':
      if (facts.shellSyntax && facts.shellSyntax.length > 0) return { needsApproval: true, reason: `the command uses shell syntax (${facts.shellSyntax.join(', ')}); the owner must approve it` };
      if (facts.allowRule) return { needsApproval: false, reason: `allowlisted (${facts.allowRule.exact ? 'exact' : 'prefix'} rule from ${facts.allowRule.source})` };
      return { needsApproval: true, reason: 'the command is not on the shell allowlist' };
    case 'write_file':
      if (!facts.insideVault) return { needsApproval: true, reason: 'writes a file outside the notes vault' };
      if (facts.targetExists) return { needsApproval: true, reason: 'overwrites an existing file' };
      if (facts.hiddenTarget) return { needsApproval: true, reason: 'writes into a hidden file or folder of the vault (like .obsidian or .git), where programs may run it' };
      return { needsApproval: false, reason: 'creates a new file inside the notes vault' };
    case 'fetch_url':
    case 'read_rss_feed':
      if (facts.privateAddress) return { needsApproval: true, reason: `the URL points into this machine or the local network (${facts.privateAddress}), where services trust their neighbours` };
      return { needsApproval: false, reason: 'read-only, public address' };
    case 'write_note':
      if (facts.targetExists) return { needsApproval: true, reason: 'overwrites an existing note' };
      return { needsApproval: false, reason: 'creates a new note' };
    default:
      return { needsApproval: true, reason: `${tool} ${policy.why ?? 'needs approval'}` };
  }
}
