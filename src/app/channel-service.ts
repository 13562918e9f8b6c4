// The channels of `lares run`: whichever are configured (see channels/registry.ts), started on
// one agent and one approval queue. One person, one memory: every channel feeds the same
// conversation and answers where the message came from; perch time, scheduled jobs and the
// answers to approval outcomes go to the home channel (the one the owner last used, or
// LARES_HOME_CHANNEL). Exactly one channel (the first configured) runs perch and jobs and feeds
// approval outcomes into the conversation, so nothing happens twice.
import { HomeChannel } from '../channels/home-channel.ts';
import type { ChannelName, ChannelPlugin, RunningChannel } from '../channels/channel.ts';
import type { PerchLoop } from '../channels/perch.ts';
import { CHANNEL_PLUGINS } from '../channels/registry.ts';
import type { Config } from '../config/config.ts';
import { LaresError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ToolProvider } from '../tools/types.ts';
import type { ChannelRuntime } from './channel-runtime.ts';
import { contextSummary } from './context-summary.ts';

export interface RunningChannels {
  readonly channels: RunningChannel[];
  readonly home: HomeChannel;
  /** the perch loop (of the channel that runs it) */
  readonly perch: PerchLoop;
  /** every channel connected */
  isConnected(): boolean;
  /** each channel's connection, for /health */
  connections(): Partial<Record<ChannelName, { connected: boolean }>>;
  close(): Promise<void>;
}

/** The channels with settings in the config, in start order. */
export function configuredChannels(config: Config): ChannelPlugin[] {
  return CHANNEL_PLUGINS.filter((plugin) => plugin.configured(config));
}

/** Stops `lares run` with every missing setting listed, or with what to set when no channel is. */
export function requireChannelConfig(config: Config): void {
  const plugins = configuredChannels(config);
  if (plugins.length === 0) {
    throw new LaresError('CONFIG_INVALID', [
      'lares run needs a channel: set Discord or Telegram (or both) in .env or the environment.',
      '  Telegram: TELEGRAM_BOT_TOKEN (from @BotFather) and TELEGRAM_OWNER_ID (your numeric user id, from @userinfobot)',
      '  Discord:  DISCORD_BOT_TOKEN, DISCORD_CHANNEL_ID and DISCORD_OWNER_ID',
      'See README (Telegram, Discord). To talk in the terminal instead, use: npx lares chat',
    ].join('\n'));
  }
  const missing = plugins.flatMap((plugin) => plugin.missing(config));
  if (config.homeChannel && !plugins.some((p) => p.name === config.homeChannel)) {
    missing.push(`  LARES_HOME_CHANNEL=${config.homeChannel}: that channel is not configured (configured: ${plugins.map((p) => p.name).join(', ')})`);
  }
  if (missing.length > 0) {
    throw new LaresError('CONFIG_INVALID', `lares run needs these settings in .env or the environment:\n${missing.join('\n')}\nTo talk in the terminal instead, use: npx lares chat`);
  }
}

/** The tools of the configured channels (Discord's discord_* tools), made before the agent. */
export function channelTools(config: Config): Map<ChannelName, ToolProvider[]> {
  return new Map(configuredChannels(config).map((plugin) => [plugin.name, plugin.tools?.() ?? []]));
}

export async function startChannels(config: Config, runtime: ChannelRuntime, options: { logger: Logger; tools?: Map<ChannelName, ToolProvider[]> }): Promise<RunningChannels> {
  const home = new HomeChannel({ store: runtime.store, home: config.homeChannel, logger: options.logger });
  await home.load();
  const started: RunningChannel[] = [];
  let perch: PerchLoop | undefined;
  try {
    for (const plugin of configuredChannels(config)) {
      const first = started.length === 0;
      const channel = await plugin.start({
        config, agent: runtime.agent, store: runtime.store, logger: options.logger, approvals: runtime.approvals,
        schedule: first,
        // Letta continues its own turn after a decision; direct mode is told the outcome as a turn
        feedApprovalOutcomes: first && runtime.mode === 'direct',
        postUnprompted: (text) => home.post(text),
        onOwnerActivity: (name) => home.noteOwnerActivity(name),
        commands: {
          run: (name, args) => runtime.terminalCommands.run(name, args),
          ...(runtime.direct ? { context: () => contextSummary(runtime.direct!) } : {}),
        },
        tools: options.tools?.get(plugin.name),
      });
      started.push(channel);
      home.add(channel);
      if (first) perch = channel.perch;
    }
  } catch (error) {
    for (const channel of [...started].reverse()) await channel.close().catch(() => undefined);
    throw error;
  }
  return {
    channels: started,
    home,
    perch: perch!,
    isConnected: () => started.every((c) => c.isConnected()),
    connections: () => Object.fromEntries(started.map((c) => [c.name, { connected: c.isConnected() }])),
    async close() {
      // in reverse order of start; each waits for its turns in progress
      for (const channel of [...started].reverse()) await channel.close();
    },
  };
}
