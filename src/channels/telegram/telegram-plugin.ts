// Telegram as a channel of `lares run` (see ../channel.ts).
import type { ChannelPlugin } from '../channel.ts';
import { startTelegramChannel } from './telegram-channel.ts';

export const telegramPlugin: ChannelPlugin = {
  name: 'telegram',
  configured: (config) => Boolean(config.telegram.botToken || config.telegram.ownerId),
  missing: (config) => [
    config.telegram.botToken ? undefined : '  TELEGRAM_BOT_TOKEN: the bot\'s token (Telegram → @BotFather → /newbot, or /mybots → API Token)',
    config.telegram.ownerId ? undefined : '  TELEGRAM_OWNER_ID: your numeric Telegram user id, the only person Lares answers (ask @userinfobot)',
  ].filter((line): line is string => line !== undefined),
  start: (o) => startTelegramChannel({
    config: o.config, agent: o.agent, store: o.store, logger: o.logger, approvals: o.approvals,
    schedule: o.schedule, feedApprovalOutcomes: o.feedApprovalOutcomes, postUnprompted: o.postUnprompted,
    onOwnerActivity: o.onOwnerActivity, commands: o.commands,
  }),
};
