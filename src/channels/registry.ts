// The channels `lares run` knows, in the order they start. The first one configured runs perch
// time and scheduled jobs and feeds approval outcomes into the conversation.
import type { ChannelPlugin } from './channel.ts';
import { discordPlugin } from './discord/discord-plugin.ts';
import { telegramPlugin } from './telegram/telegram-plugin.ts';

export const CHANNEL_PLUGINS: readonly ChannelPlugin[] = [discordPlugin, telegramPlugin];
