// lares approvals: see and decide the calls waiting for the owner.
// Talks to `lares mcp` over REST when MCP_URL is set, else to the queue in the database.
import type { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { LaresToolRuntime } from '../mcp-server/runtime.ts';
import { LettaApprovals } from '../letta/letta-approvals.ts';
import { lettaBackendFromConfig } from '../letta/letta-backend.ts';
import { createHttpApprovalsClient, createLocalApprovalsClient, restBaseUrl, type ApprovalRecord, type ApprovalsClient } from '../tools/approvals-client.ts';
import { describeCall } from '../mcp-server/approvals.ts';
import { loadCommandConfig } from './context-helpers.ts';
import { action, printJson } from './run.ts';

export function registerApprovalsCommand(program: Command): void {
  const approvals = program.command('approvals')
    .description('List, show, approve or deny tool calls waiting for your approval (uses MCP_URL when set, else the local database).')
    .option('--json', 'print pure JSON')
    .addHelpText('after', '\nExamples:\n  npx lares approvals\n  npx lares approvals show 1a2b3c4d\n  npx lares approvals approve 1a2b3c4d --always\n  npx lares approvals deny 1a2b3c4d --reason "not today"');

  approvals.command('list', { isDefault: true })
    .description('List pending approvals (the default)')
    .option('--json', 'print pure JSON')
    .action(action(async (_options: unknown, command: Command) => {
      const json = wantsJson(command);
      await withClient(async (client) => {
        const pending = await client.listPending();
        if (json) return printJson(pending);
        if (pending.length === 0) { process.stdout.write('no pending approvals\n'); return; }
        for (const record of pending) process.stdout.write(`${formatLine(record)}\n`);
        process.stdout.write(`\napprove: lares approvals approve ID [--always]    deny: lares approvals deny ID [--reason TEXT]\n`);
      });
    }));

  approvals.command('show <id>')
    .description('Show one approval request, with its arguments and result')
    .option('--json', 'print pure JSON')
    .action(action(async (id: string, _options: unknown, command: Command) => {
      const json = wantsJson(command);
      await withClient(async (client) => {
        const record = await client.get(id);
        if (json) return printJson(record);
        process.stdout.write(formatDetail(record));
      });
    }));

  approvals.command('approve <id>')
    .description('Approve a pending call: it runs now, with exactly the stored arguments')
    .option('--always', 'also always allow this exact shell command from now on')
    .option('--json', 'print pure JSON')
    .action(action(async (id: string, options: { always?: boolean }, command: Command) => {
      const json = wantsJson(command);
      await withClient(async (client) => {
        const record = await client.approve(id, { always: options.always === true });
        if (json) return printJson(record);
        process.stdout.write(formatDetail(record));
        if (record.status === 'failed') process.exitCode = 1;
      });
    }));

  approvals.command('deny <id>')
    .description('Deny a pending call: it never runs')
    .option('--reason <text>', 'why (told to Lares)')
    .option('--json', 'print pure JSON')
    .action(action(async (id: string, options: { reason?: string }, command: Command) => {
      const json = wantsJson(command);
      await withClient(async (client) => {
        const record = await client.deny(id, options.reason);
        if (json) return printJson(record);
        process.stdout.write(`denied ${record.id}: ${describeCall(record.tool, record.args)}${record.denyReason ? ` (${record.denyReason})` : ''}\n`);
      });
    }));
}

function wantsJson(command: Command): boolean {
  return (command.optsWithGlobals() as { json?: boolean }).json === true;
}

async function withClient(fn: (client: ApprovalsClient) => Promise<void>): Promise<void> {
  const config = loadCommandConfig({ quiet: true });
  const { client, close } = config.mode === 'letta' ? await openLettaApprovals(config) : await openApprovalsClient(config);
  try { await fn(client); } finally { await close(); }
}

/** Letta mode: the approvals the Letta agent is waiting on, answered through Letta's API. */
async function openLettaApprovals(config: Config): Promise<{ client: ApprovalsClient; close(): Promise<void> }> {
  const approvals = new LettaApprovals();
  const backend = lettaBackendFromConfig(config, { onApprovalRequest: approvals.onApprovalRequest });
  approvals.attach(backend);
  await backend.recoverPendingApprovals();
  return { client: approvals, async close() { await backend.close(); await approvals.close(); } };
}

/** The approvals client a command should use: REST when MCP_URL is set, else the local queue. */
export async function openApprovalsClient(config: Config): Promise<{ client: ApprovalsClient; close(): Promise<void> }> {
  if (config.mcp.url) {
    const client = createHttpApprovalsClient({ baseUrl: restBaseUrl(config.mcp.url), token: config.mcp.token });
    return { client, close: () => client.close() };
  }
  const runtime = await LaresToolRuntime.open(config, { startScheduler: false });
  const client = createLocalApprovalsClient(runtime);
  return { client, async close() { await client.close(); await runtime.close(); } };
}

function formatLine(record: ApprovalRecord): string {
  return `${record.id}  ${record.status.padEnd(8)}  ${describeCall(record.tool, record.args)}  — ${record.reason} (expires ${record.expiresAt})`;
}

function formatDetail(record: ApprovalRecord): string {
  const lines = [
    `id:       ${record.id}`,
    `status:   ${record.status}`,
    `call:     ${describeCall(record.tool, record.args)}`,
    `args:     ${JSON.stringify(record.args)}`,
    `why:      ${record.reason}`,
    `created:  ${record.createdAt}`,
    `expires:  ${record.expiresAt}`,
  ];
  if (record.decidedAt) lines.push(`decided:  ${record.decidedAt}`);
  if (record.alwaysAllowed) lines.push('always:   this exact command is now allowlisted');
  if (record.denyReason) lines.push(`denied:   ${record.denyReason}`);
  if (record.result) lines.push(`result${record.result.isError ? ' (error)' : ''}:\n${record.result.text}`);
  return `${lines.join('\n')}\n`;
}
