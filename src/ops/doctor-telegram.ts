// `lares doctor`'s Telegram checks: the token and the owner id are set (their shapes are checked
// when the configuration is read); with --live, getMe through grammY at TELEGRAM_API_URL.
import { createTelegramBot, telegramErrorMessage } from '../channels/telegram/telegram-api.ts';
import type { Config } from '../config/config.ts';
import { fail, ok, skip, type DoctorCheck } from './doctor-check.ts';

export async function checkTelegram(config: Config, live: boolean, timeoutMs: number): Promise<DoctorCheck[]> {
  const { botToken, ownerId, apiUrl, allowedChatIds } = config.telegram;
  if (!botToken && !ownerId) return [skip('telegram', 'Telegram not configured (TELEGRAM_BOT_TOKEN unset)')];
  const checks: DoctorCheck[] = [];
  if (!botToken) checks.push(fail('telegram_token', 'TELEGRAM_BOT_TOKEN is not set but TELEGRAM_OWNER_ID is', 'Telegram → @BotFather → /newbot (or /mybots → API Token); put it in TELEGRAM_BOT_TOKEN'));
  else checks.push(ok('telegram_token', 'TELEGRAM_BOT_TOKEN is set and well-formed'));
  if (!ownerId) checks.push(fail('telegram_owner', 'TELEGRAM_OWNER_ID is not set (lares run needs it: Lares answers only its owner)', 'send any message to @userinfobot on Telegram; put the number it answers in TELEGRAM_OWNER_ID'));
  else checks.push(ok('telegram_owner', `TELEGRAM_OWNER_ID ${ownerId} is well-formed${allowedChatIds.length > 0 ? `; also answers in ${allowedChatIds.length} group${allowedChatIds.length === 1 ? '' : 's'}` : ''}`));
  const webhook = config.telegram.webhook;
  if (webhook) checks.push(ok('telegram_webhook', `updates by webhook at ${webhook.url} (listening on 127.0.0.1:${webhook.port}; your reverse proxy forwards to it)`));
  if (!live || !botToken) return checks;
  const bot = createTelegramBot(botToken, { apiRoot: apiUrl });
  try {
    const me = await bot.api.getMe(AbortSignal.timeout(timeoutMs) as never);
    checks.push(ok('telegram_live', `Telegram accepted the token: the bot is @${me.username}`));
  } catch (error) {
    const reason = telegramErrorMessage(error, botToken);
    checks.push(/401|404|Unauthorized|Not Found/i.test(reason)
      ? fail('telegram_live', `Telegram refused TELEGRAM_BOT_TOKEN (${reason})`, 'copy the token again from @BotFather (/mybots → your bot → API Token); /revoke makes a new one')
      : fail('telegram_live', `could not reach Telegram at ${apiUrl ?? 'https://api.telegram.org'} (${reason})`, 'check the network (and TELEGRAM_API_URL, if set)'));
  }
  return checks;
}
