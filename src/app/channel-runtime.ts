// What a channel needs, whichever mode is on: the agent backend, terminal /commands,
// and a clean close. Direct mode builds the orchestrator; Letta mode talks to a Letta agent.
import type { AgentBackend } from '../agent/types.ts';
import type { TerminalCommands } from '../channels/terminal/terminal-chat.ts';
import type { Config } from '../config/config.ts';
import type { MemoryStore } from '../memory/store.ts';
import type { ToolProvider } from '../tools/types.ts';
import { createDirectRuntime, type DirectRuntime } from './direct-runtime.ts';

export interface ChannelRuntime {
  agent: AgentBackend;
  direct?: DirectRuntime;
  store?: MemoryStore;
  terminalCommands: TerminalCommands;
  banner: string[];
  close(): Promise<void>;
}

export async function createChannelRuntime(config: Config, options: { channel: 'terminal' | 'discord'; extraTools?: ToolProvider[] }): Promise<ChannelRuntime> {
  const direct = await createDirectRuntime(config, { toolProviders: options.extraTools, announceRestart: options.channel === 'discord' });
  const store = direct.store;
  const terminalCommands: TerminalCommands = {
    help: ['/memory [label]  show memory blocks'],
    async run(name, args) {
      if (name === 'memory') {
        const blocks = await store.listBlocks();
        return blocks.filter((b) => !args[0] || b.label === args[0])
          .map((b) => `── ${b.label} (${b.content.length}/${b.charLimit})\n${b.content}`).join('\n') || `No block ${args[0]}.`;
      }
      return undefined;
    },
  };
  const unavailable = direct.tools.unavailable();
  const banner = [`Lares (direct mode, ${config.anthropic.model}) — ${direct.tools.definitions().length} tools${unavailable.length ? `; unavailable: ${unavailable.join(', ')}` : ''}.`];
  return { agent: direct.agent, direct, store, terminalCommands, banner, close: () => direct.close() };
}
