// What a channel needs, whichever mode is on: the agent backend, the approval queue,
// terminal /commands, and a clean close. Direct mode builds the orchestrator with the MCP
// tools; Letta mode talks to the Letta agent.
import type { AgentBackend, TurnResult } from '../agent/types.ts';
import type { TerminalCommands } from '../channels/terminal/terminal-chat.ts';
import { describeModel, type Config } from '../config/config.ts';
import { log } from '../log.ts';
import type { MemoryStore } from '../memory/store.ts';
import { describeCall, visible } from '../mcp-server/approvals.ts';
import type { ApprovalSubscription, ApprovalsClient } from '../tools/approvals-client.ts';
import type { ToolProvider } from '../tools/types.ts';
import { feedApprovalOutcomes } from './approval-feed.ts';
import { createDirectRuntime, type DirectRuntime } from './direct-runtime.ts';
import { openStore } from '../memory/open-store.ts';
import { createLettaRuntime } from './letta-runtime.ts';
import { connectMcpTools } from './tool-providers.ts';

export interface ChannelRuntime {
  mode: 'direct' | 'letta';
  agent: AgentBackend;
  direct?: DirectRuntime;
  store: MemoryStore;
  approvals: ApprovalsClient;
  terminalCommands: TerminalCommands;
  banner: string[];
  /** feeds approval outcomes into the conversation as new turns; replies go to `onReply` */
  feedApprovalOutcomes(onReply: (reply: TurnResult, outcome: string) => void): ApprovalSubscription;
  close(): Promise<void>;
}

export interface ChannelRuntimeOptions {
  channel: 'terminal' | 'discord';
  /** tools the channel adds (Discord's discord_send_message / discord_react) */
  extraTools?: ToolProvider[];
}

export async function createChannelRuntime(config: Config, options: ChannelRuntimeOptions): Promise<ChannelRuntime> {
  if (config.mode === 'letta') return createLettaRuntime(config, options);
  let direct: DirectRuntime | undefined;
  // the store first: when it cannot be opened (a wrong DATABASE_URL), nothing else is started or
  // written — not the tools' approval database, not a model call
  const store = await openStore(config);
  let mcp: Awaited<ReturnType<typeof connectMcpTools>>;
  try {
    mcp = await connectMcpTools(config, {
      startScheduler: true,
      store,
      onToolsChanged: () => { void direct?.tools.refresh(); },
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  try {
    direct = await createDirectRuntime(config, { store, toolProviders: [...mcp.providers, ...(options.extraTools ?? [])], announceRestart: options.channel === 'discord' });
  } catch (error) {
    await mcp.close();
    await store.close();
    throw error;
  }
  const runtime = direct;
  const unavailable = runtime.tools.unavailable();
  if (unavailable.length > 0) log().warn({ event: 'tools_unavailable', unavailable }, `some tools are unavailable: ${unavailable.join(', ')}`);
  const banner = [
    `Lares (direct mode, ${describeModel(config.models.conversation)}) — ${runtime.tools.definitions().length} tools (${mcp.mode === 'http' ? `MCP server ${config.mcp.url}` : 'built-in tools in-process'}).`,
    ...(unavailable.length > 0 ? [`Unavailable: ${unavailable.join(', ')}.`] : []),
  ];
  return {
    mode: 'direct',
    agent: runtime.agent,
    direct: runtime,
    store: runtime.store,
    approvals: mcp.approvals,
    terminalCommands: approvalCommands(mcp.approvals, runtime.store),
    banner,
    feedApprovalOutcomes: (onReply) => feedApprovalOutcomes(mcp.approvals, runtime.agent, onReply),
    async close() {
      await runtime.close();
      await mcp.close();
      await store.close();
    },
  };
}

/** /memory, /approvals, /approve ID [always], /deny ID [reason] for the terminal. */
export function approvalCommands(approvals: ApprovalsClient, store: MemoryStore, options: { showResult?: boolean } = {}): TerminalCommands {
  const showResult = options.showResult ?? true;
  return {
    help: [
      '/memory [label]      show memory blocks',
      '/approvals           list pending approvals',
      '/approve ID [always] approve (and run) a pending call; "always" also allows this exact command from now on',
      '/deny ID [reason]    deny a pending call',
    ],
    async run(name, args) {
      switch (name) {
        case 'memory': {
          const blocks = (await store.listBlocks()).filter((b) => !args[0] || b.label === args[0]);
          return blocks.map((b) => `── ${b.label} (${b.content.length}/${b.charLimit})\n${b.content}`).join('\n') || `No block ${args[0]}.`;
        }
        case 'approvals': {
          const pending = await approvals.listPending();
          if (pending.length === 0) return 'No pending approvals.';
          // the whole call, with control and bidi characters escaped: what you approve is what runs
          return pending.map((a) => `${a.id}  ${describeCall(a.tool, a.args)}\n    arguments: ${visible(JSON.stringify(a.args))}\n    why: ${a.reason} (expires ${a.expiresAt})`).join('\n');
        }
        case 'approve': {
          if (!args[0]) return 'Usage: /approve ID [always]';
          const record = await approvals.approve(args[0], { always: args[1] === 'always' });
          return `Approved ${record.id} (${record.tool}): ${record.status}${showResult && record.result ? `\n${record.result.text.slice(0, 2000)}` : ''}`;
        }
        case 'deny': {
          if (!args[0]) return 'Usage: /deny ID [reason]';
          const record = await approvals.deny(args[0], args.slice(1).join(' ') || undefined);
          return `Denied ${record.id} (${record.tool}).`;
        }
        default:
          return undefined;
      }
    },
  };
}
