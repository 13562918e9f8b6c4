// Structured logs: JSON lines on stderr (journald reads them well), pretty on a terminal.
// stdout stays for the command's answer. Secrets are redacted by key name.
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'apiKey', '*.apiKey', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization',
  'password', '*.password', 'ANTHROPIC_API_KEY', '*.ANTHROPIC_API_KEY', 'DISCORD_BOT_TOKEN', '*.DISCORD_BOT_TOKEN',
  'LARES_MCP_TOKEN', '*.LARES_MCP_TOKEN', 'LETTA_API_KEY', '*.LETTA_API_KEY', 'DATABASE_URL', '*.DATABASE_URL',
  'OPENAI_API_KEY', '*.OPENAI_API_KEY', 'VOYAGE_API_KEY', '*.VOYAGE_API_KEY',
];

let root: Logger | undefined;

export function createLogger(options: { level?: string; pretty?: boolean } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (process.stderr.isTTY === true && process.env.LOG_FORMAT !== 'json');
  const base = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'lares' } };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname,service', translateTime: 'SYS:HH:MM:ss' } } });
  }
  return pino(base, pino.destination({ fd: 2, sync: true }));
}

/** The process-wide logger; commands may replace it (e.g. to quiet it) with setLogger. */
export function log(): Logger {
  root ??= createLogger();
  return root;
}

export function setLogger(logger: Logger): void {
  root = logger;
}
