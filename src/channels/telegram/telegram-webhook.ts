// The Telegram webhook, for installs with a public https address (a reverse proxy in front):
// Telegram POSTs each update to TELEGRAM_WEBHOOK_URL; Lares listens on 127.0.0.1 only, takes an
// update only with the secret Telegram was given (X-Telegram-Bot-Api-Secret-Token), and answers
// 200 once the update is stored. Anything else is an error status, and Telegram delivers the update
// again later, so none is lost while Lares is down or busy.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Update } from 'grammy/types';
import { LaresError, errorMessage } from '../../errors.ts';
import type { Logger } from '../../log.ts';

const MAX_BODY_BYTES = 1024 * 1024;

export interface TelegramWebhookServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startTelegramWebhook(options: {
  port: number;
  /** the path of TELEGRAM_WEBHOOK_URL: the only one served */
  path: string;
  secret: string;
  logger: Logger;
  /** stores the update (and hands it on); the 200 goes out when it resolves */
  onUpdate(update: Update): Promise<void>;
}): Promise<TelegramWebhookServer> {
  const expected = Buffer.from(options.secret);
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown = {}) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== options.path) { reply(404, { error: 'not found' }); return; }
    if (req.method !== 'POST') { reply(405, { error: 'use POST' }); return; }
    const given = Buffer.from(String(req.headers['x-telegram-bot-api-secret-token'] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      options.logger.warn({ event: 'telegram_webhook_refused', remote: req.socket.remoteAddress }, 'refused a webhook request without the secret token');
      reply(401, { error: 'unauthorized' });
      return;
    }
    readBody(req).then((text) => options.onUpdate(JSON.parse(text) as Update)).then(() => reply(200), (error: unknown) => {
      options.logger.error({ event: 'telegram_webhook_failed', err: errorMessage(error) }, 'could not take a webhook update; Telegram will send it again');
      reply(500, { error: 'try again' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new LaresError('CONFIG_INVALID', `cannot serve the Telegram webhook on 127.0.0.1:${options.port} (TELEGRAM_WEBHOOK_PORT): ${errorMessage(error)}`, { cause: error })));
    server.listen(options.port, '127.0.0.1', () => { server.removeAllListeners('error'); resolve(); });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) { reject(new Error('update too large')); req.destroy(); return; }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
