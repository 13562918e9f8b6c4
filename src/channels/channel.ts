// The channel interface: what `lares run` (and the home-channel router) needs of a messenger.
// Discord, Telegram and the terminal each implement it in their own folder; the agent never
// sees a channel. What every channel does, in its own way:
// - takes the owner's messages (text, images, small text files) and hands each to the one agent
//   conversation as a turn with `source` = the channel and `metadata.channel` = the channel,
//   with a `sourceRef` (`<channel>:…`) so a replayed message is never answered twice;
// - ignores everyone else (strangers, other bots, itself) with a log line;
// - posts the reply where the message came from, split to its own limit (split-message.ts),
//   with a typing indicator while the turn runs;
// - posts approval cards and takes the owner's decision (approval-bridge.ts: reactions, buttons);
// - catches up on messages sent while Lares was down, where the platform allows it.
import type { AgentBackend } from '../agent/types.ts';
import type { Config } from '../config/config.ts';
import type { Logger } from '../log.ts';
import type { MemoryStore } from '../memory/store.ts';
import type { ApprovalsClient } from '../tools/approvals-client.ts';
import type { ToolProvider } from '../tools/types.ts';
import type { PerchLoop } from './perch.ts';

/** The channels `lares run` knows; a new one adds its name here and a folder beside the others. */
export const CHANNEL_NAMES = ['discord', 'telegram'] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];

export interface Channel {
  readonly name: ChannelName;
  /** connected to the platform and taking messages */
  isConnected(): boolean;
  /** posts in the owner's place on this channel (split if long); returns the platform's message ids */
  post(text: string): Promise<string[]>;
  /** stops taking messages, waits for the turns in progress to be answered, disconnects */
  close(): Promise<void>;
}

/** What every channel is given by `lares run`. */
export interface ChannelDeps {
  agent: AgentBackend;
  store: Pick<MemoryStore, 'getMeta' | 'setMeta'> & Partial<Pick<MemoryStore, 'findMessageBySourceRef' | 'claimMeta'>>;
  logger: Logger;
  /** the approval queue; without it no approval cards are posted */
  approvals?: ApprovalsClient;
  /** called on every accepted owner message (and button press): the home-channel router listens */
  onOwnerActivity?(channel: ChannelName): void;
}

/** The /commands a chat channel answers itself (the terminal's, plus /context). */
export interface ChannelCommands {
  /** /memory [label], /approvals …: the terminal's commands (app/channel-runtime.ts) */
  run?(name: string, args: string[]): Promise<string | undefined>;
  /** /context: what the next request holds (direct mode) */
  context?(): Promise<string>;
}

/** What `lares run` hands a channel when it starts it. */
export interface ChannelStartOptions extends ChannelDeps {
  config: Config;
  /** this channel runs perch time and scheduled jobs (exactly one channel does) */
  schedule: boolean;
  /** this channel feeds approval outcomes into the conversation (exactly one channel does) */
  feedApprovalOutcomes: boolean;
  /** where perch, jobs and answers to approval outcomes go: the home channel */
  postUnprompted(text: string): Promise<unknown>;
  commands?: ChannelCommands;
  /** the tools this channel made with tools() (already registered with the agent) */
  tools?: ToolProvider[];
}

/** A started channel, as `lares run` holds it. */
export interface RunningChannel extends Channel {
  /** set when it runs perch time */
  readonly perch?: PerchLoop;
}

/**
 * A messenger `lares run` can serve: each channel folder exports one, and registry.ts lists them.
 * Adding a channel is a folder with its plugin, a line in the registry, its name in CHANNEL_NAMES
 * and its variables in config.ts (the only reader of the environment).
 */
export interface ChannelPlugin {
  readonly name: ChannelName;
  /** its settings are present (a token is the sign of intent) */
  configured(config: Config): boolean;
  /** one line per missing setting, saying where to get it */
  missing(config: Config): string[];
  /** tools the agent gets while this channel runs (made before the agent is) */
  tools?(): ToolProvider[];
  start(options: ChannelStartOptions): Promise<RunningChannel>;
}
