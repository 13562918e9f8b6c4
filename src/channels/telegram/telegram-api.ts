// grammY, set up the way Lares uses it: the Bot API root from TELEGRAM_API_URL (a fake in tests),
// calls that Telegram answers with 429 retried after its `retry_after`, and the bot token (which
// is part of every Bot API URL) kept out of every message Lares logs or shows.
import { Bot, GrammyError, HttpError } from 'grammy';
import { errorMessage } from '../../errors.ts';
import type { Logger } from '../../log.ts';

export const DEFAULT_TELEGRAM_API = 'https://api.telegram.org';
/** the longest wait for a 429 that Lares accepts; a longer one fails the call */
const MAX_RETRY_AFTER_S = 60;
const MAX_RETRIES = 3;

export function createTelegramBot(token: string, options: { apiRoot?: string; logger?: Logger } = {}): Bot {
  const bot = new Bot(token, { client: { apiRoot: options.apiRoot ?? DEFAULT_TELEGRAM_API } });
  // Telegram's flood control: wait as told (retry_after, in seconds), a few times, then give up.
  bot.api.config.use(async (prev, method, payload, signal) => {
    for (let attempt = 0; ; attempt++) {
      const response = await prev(method, payload, signal);
      if (response.ok || response.error_code !== 429 || attempt >= MAX_RETRIES) return response;
      const wait = response.parameters?.retry_after ?? 1;
      if (wait > MAX_RETRY_AFTER_S) return response;
      options.logger?.warn({ event: 'telegram_rate_limited', method, retryAfterS: wait, attempt: attempt + 1 }, `Telegram asked to wait ${wait} s before ${method}`);
      await sleep(wait * 1000, signal as AbortSignal | undefined);
    }
  });
  return bot;
}

/** The error's message with the token taken out (it is part of Bot API and file URLs). */
export function telegramErrorMessage(error: unknown, token: string | undefined): string {
  let text = error instanceof GrammyError ? `${error.method}: ${error.error_code} ${error.description}`
    : error instanceof HttpError ? `${error.message} (${errorMessage(error.error)})`
      : errorMessage(error);
  if (token) text = text.split(token).join('<TELEGRAM_BOT_TOKEN>');
  return text;
}

/** Telegram refused the message's formatting or length: the sender retries it as plain text. */
export function isFormattingError(error: unknown): boolean {
  return error instanceof GrammyError && error.error_code === 400 && /can't parse entities|message is too long|message text is empty|entity/i.test(error.description);
}

export function isNotModified(error: unknown): boolean {
  return error instanceof GrammyError && /message is not modified/i.test(error.description);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
