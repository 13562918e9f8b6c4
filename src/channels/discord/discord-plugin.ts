// Discord as a channel of `lares run` (see ../channel.ts).
import type { ChannelPlugin } from '../channel.ts';
import { startDiscordChannel } from './discord-channel.ts';
import { DiscordTools } from './discord-tools.ts';

export const discordPlugin: ChannelPlugin = {
  name: 'discord',
  configured: (config) => Boolean(config.discord.botToken || config.discord.channelId),
  missing: (config) => [
    config.discord.botToken ? undefined : '  DISCORD_BOT_TOKEN: the bot\'s token (Discord developer portal → your application → Bot → Reset Token)',
    config.discord.channelId ? undefined : '  DISCORD_CHANNEL_ID: the channel where Lares listens and speaks (right-click the channel → Copy Channel ID)',
    config.discord.ownerId ? undefined : '  DISCORD_OWNER_ID: your own user id, the only one whose reactions approve (right-click your name → Copy User ID)',
  ].filter((line): line is string => line !== undefined),
  // discord_send_message / discord_react, attached to the client once it is connected
  tools: () => [new DiscordTools()],
  start: (o) => startDiscordChannel({
    config: o.config, agent: o.agent, store: o.store, logger: o.logger, approvals: o.approvals,
    tools: o.tools?.find((t): t is DiscordTools => t instanceof DiscordTools),
    schedule: o.schedule, feedApprovalOutcomes: o.feedApprovalOutcomes, postUnprompted: o.postUnprompted, onOwnerActivity: o.onOwnerActivity,
  }),
};
