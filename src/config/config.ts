// The one place that reads process.env. Every setting is validated here; a bad
// configuration is reported as one message that lists every bad variable.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { LaresError } from '../errors.ts';

/** A current Claude Sonnet model; the seed's claude-sonnet-4-20250514 still works when set. */
export const DEFAULT_MODEL = 'claude-sonnet-5-5';

const bool = (fallback: boolean | undefined) =>
  z.string().trim().toLowerCase()
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', ''].includes(v), 'expected true or false')
    .transform((v) => (v === '' ? fallback : ['true', '1', 'yes', 'on'].includes(v)))
    .optional()
    .transform((v) => v ?? fallback);

const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.string().trim().optional()
    .transform((v) => (v === undefined || v === '' ? String(fallback) : v))
    .pipe(z.string().regex(/^-?\d+$/, `expected a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}`))
    .transform(Number)
    .pipe(z.number().int().min(min, `expected a whole number of at least ${min}`).max(max, `expected a whole number of at most ${max}`));

const fraction = (fallback: number) =>
  z.string().trim().optional()
    .transform((v) => (v === undefined || v === '' ? String(fallback) : v))
    .pipe(z.string().regex(/^\d*\.?\d+$/, 'expected a number between 0 and 1, like 0.70'))
    .transform(Number)
    .pipe(z.number().gt(0, 'expected a number above 0').lt(1, 'expected a number below 1'));

const optionalString = z.string().trim().optional().transform((v) => (v === '' ? undefined : v));
const optionalUrl = optionalString.pipe(z.string().url('expected a URL like http://127.0.0.1:8283').optional());
const snowflake = optionalString.pipe(z.string().regex(/^\d{15,21}$/, 'expected a Discord id (a number of 15 to 21 digits)').optional());
const snowflakeList = optionalString.transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []))
  .pipe(z.array(z.string().regex(/^\d{15,21}$/, 'expected comma-separated Discord ids')));
const telegramId = optionalString.pipe(z.string().regex(/^\d{1,20}$/, 'expected your numeric Telegram user id (digits only; @userinfobot tells it)').optional());
const telegramChatList = optionalString.transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []))
  .pipe(z.array(z.string().regex(/^-?\d{1,20}$/, 'expected comma-separated Telegram chat ids (group ids start with -)')));
const pathList = (fallback: string[]) => optionalString.transform((v) => (v ? v.split(':').filter(Boolean) : fallback));
const globList = (fallback: string[]) => optionalString.transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : fallback));

const DURATION = /^(\d+)(ms|s|m|h|d)?$/;
const duration = (fallback: string) => z.string().trim().optional()
  .transform((v) => (v === undefined || v === '' ? fallback : v))
  .pipe(z.string().regex(DURATION, 'expected a duration like 90s, 30m, 24h or 7d'))
  .transform((v) => {
    const [, n, unit = 's'] = DURATION.exec(v)!;
    const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 'ms'];
    return Number(n) * factor;
  });

/** `provider:model`, or a bare model name for the main provider (Ollama names have colons: `ollama:qwen3:8b`). */
const MODEL_CHOICE = /^(?:(anthropic|openai|ollama):)?\S+$/;

export type ProviderKind = 'anthropic' | 'openai' | 'ollama';
/** A model and the provider that serves it. */
export interface ModelChoice { provider: ProviderKind; model: string }

/** The default model of each provider (OpenAI-compatible servers have no default: their model must be named). */
export const DEFAULT_OPENAI_MODEL = 'gpt-5-mini';
export const DEFAULT_OLLAMA_URL = 'http://127.0.0.1:11434';

export const envSchema = z.object({
  // mode and storage (seed names and defaults)
  USE_DIRECT_LLM: bool(undefined),
  MEMORY_PROVIDER: optionalString.pipe(z.enum(['sqlite', 'postgres'], { message: 'expected sqlite or postgres' }).optional()),
  SQLITE_DB_PATH: z.string().trim().optional().transform((v) => v || 'data/lares.db'),
  DATABASE_URL: optionalString.pipe(z.string().regex(/^postgres(ql)?:\/\//, 'expected postgres://user:password@host:5432/db').optional()),
  CONTEXT_LIMIT: int(50_000, 2_000, 2_000_000),
  COMPACT_THRESHOLD: fraction(0.7),
  TARGET_AFTER_COMPACT: fraction(0.25),
  // model
  ANTHROPIC_MODEL: z.string().trim().optional().transform((v) => v || DEFAULT_MODEL),
  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: optionalUrl,
  LARES_MAX_TOKENS: int(4096, 1, 128_000),
  LARES_MAX_TOOL_ITERATIONS: int(10, 1, 1000),
  LARES_BASE_INSTRUCTIONS_FILE: optionalString,
  LARES_PROMPT_CACHING: bool(true),
  LARES_MEMORY_FOLD: optionalString.pipe(z.enum(['turn', 'compaction'], { message: 'expected turn or compaction' }).optional()),
  LARES_LLM_MAX_RETRIES: int(4, 0, 20),
  LARES_LLM_RETRY_BASE_MS: int(1000, 0, 60_000),
  LARES_PRICES_FILE: optionalString,
  // other model providers (OpenAI-compatible: OpenAI, Ollama, vLLM, llama.cpp, OpenRouter…)
  LARES_PROVIDER: optionalString.pipe(z.enum(['anthropic', 'openai', 'ollama'], { message: 'expected anthropic, openai or ollama' }).optional()),
  OPENAI_MODEL: optionalString,
  LARES_CONTEXT_WINDOW: optionalString.pipe(z.string().regex(/^\d+$/, 'expected a whole number of tokens like 32768').optional()).transform((v) => (v ? Number(v) : undefined))
    .pipe(z.number().int().min(2048, 'expected at least 2048 tokens').optional()),
  LARES_MODEL_COMPACTION: optionalString.pipe(z.string().regex(MODEL_CHOICE, 'expected provider:model (anthropic:…, openai:…, ollama:…) or a model name').optional()),
  LARES_MODEL_PERCH: optionalString.pipe(z.string().regex(MODEL_CHOICE, 'expected provider:model (anthropic:…, openai:…, ollama:…) or a model name').optional()),
  // spending
  LARES_DAILY_BUDGET_USD: optionalString.pipe(z.string().regex(/^\d*\.?\d+$/, 'expected an amount in US dollars like 2 or 0.50').optional()).transform((v) => (v ? Number(v) : undefined))
    .pipe(z.number().gt(0, 'expected an amount above 0 (leave it unset for no cap)').optional()),
  LARES_BUDGET_MODE: optionalString.pipe(z.enum(['soft', 'hard'], { message: 'expected soft or hard' }).optional()),
  // tools (MCP)
  MCP_URL: optionalUrl,
  MCP_HOST: z.string().trim().optional().transform((v) => v || '127.0.0.1'),
  MCP_PORT: int(8765, 0, 65_535),
  LARES_MCP_TOKEN: optionalString,
  LARES_MCP_SERVERS_FILE: optionalString,
  LARES_ALLOWED_PATHS: pathList([]),
  LARES_BLOCKED_FILES: globList(['.env', '*.pem', '*credential*', '*secret*', 'id_rsa*']),
  LARES_ALLOWLIST_FILE: optionalString,
  LARES_APPROVAL_DB: optionalString,
  LARES_APPROVAL_TTL: duration('24h'),
  OBSIDIAN_VAULT_PATH: optionalString,
  // Letta (migration and Letta mode)
  LETTA_BASE_URL: optionalUrl,
  LETTA_AGENT_ID: optionalString,
  LARES_AGENT_ID: optionalString,
  LETTA_API_KEY: optionalString,
  LETTA_SERVER_PASSWORD: optionalString,
  MIGRATE_MESSAGES: bool(false),
  // Discord service
  DISCORD_BOT_TOKEN: optionalString,
  DISCORD_CHANNEL_ID: snowflake,
  DISCORD_OWNER_ID: snowflake,
  DISCORD_ALLOWED_USER_IDS: snowflakeList,
  /** Discord's REST base (default https://discord.com/api); tests point it at a fake on 127.0.0.1 */
  DISCORD_API_URL: optionalUrl,
  // Telegram service
  TELEGRAM_BOT_TOKEN: optionalString.pipe(z.string().regex(/^\d+:[\w-]{20,}$/, 'expected a bot token from @BotFather, like 123456789:AA…').optional()),
  TELEGRAM_OWNER_ID: telegramId,
  TELEGRAM_ALLOWED_CHAT_IDS: telegramChatList,
  /** the Bot API root (default https://api.telegram.org); tests point it at a fake on 127.0.0.1 */
  TELEGRAM_API_URL: optionalUrl,
  /** webhook instead of long polling: the public https:// address Telegram posts updates to */
  TELEGRAM_WEBHOOK_URL: optionalUrl,
  /** the secret Telegram sends with every update (X-Telegram-Bot-Api-Secret-Token) */
  TELEGRAM_WEBHOOK_SECRET: optionalString.pipe(z.string().regex(/^[A-Za-z0-9_-]{16,256}$/, 'expected 16 to 256 letters, digits, _ or - (e.g. openssl rand -hex 32)').optional()),
  /** where Lares listens for the webhook, on 127.0.0.1 (a reverse proxy forwards to it) */
  TELEGRAM_WEBHOOK_PORT: int(8767, 1, 65_535),
  /** where perch time and scheduled jobs post: unset = the channel the owner last wrote on */
  LARES_HOME_CHANNEL: optionalString.pipe(z.enum(['discord', 'telegram'], { message: 'expected discord or telegram' }).optional()),
  LARES_HTTP_PORT: int(8766, 0, 65_535),
  LARES_PERCH_INTERVAL_MINUTES: int(60, 0, 10_080),
  // the web console (src/web/): off unless asked for; loopback unless LARES_WEB_HOST says otherwise
  LARES_WEB: bool(false),
  LARES_WEB_HOST: optionalString,
  LARES_WEB_TOKEN: optionalString.pipe(z.string().min(16, 'expected at least 16 characters (e.g. openssl rand -hex 32)').optional()),
  LARES_WEB_ALLOW_PLAIN_HTTP: bool(false),
  /** the https:// address people use when a TLS reverse proxy is in front (Host and Origin checks) */
  LARES_WEB_ORIGIN: optionalString.pipe(z.string().url('expected the public address like https://lares.example.org').optional()),
  // recall (hybrid search): which embedder makes the vectors
  LARES_EMBEDDER: optionalString.pipe(z.enum(['local', 'ollama', 'openai', 'voyage', 'none'], { message: 'expected local, ollama, openai, voyage or none' }).optional()),
  LARES_EMBEDDING_MODEL: optionalString,
  LARES_EMBEDDING_DIMENSIONS: optionalString.pipe(z.string().regex(/^\d+$/, 'expected a whole number like 512').optional()).transform((v) => (v ? Number(v) : undefined)),
  OLLAMA_BASE_URL: optionalUrl,
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  VOYAGE_API_KEY: optionalString,
  VOYAGE_BASE_URL: optionalUrl,
  // logs
  LOG_LEVEL: optionalString.pipe(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], { message: 'expected trace, debug, info, warn, error, fatal or silent' }).optional()),
});

type Env = z.infer<typeof envSchema>;

export interface Config {
  mode: 'direct' | 'letta';
  /** why that mode was chosen, for the start-up line */
  modeReason: string;
  memoryProvider: 'sqlite' | 'postgres';
  sqlitePath: string;
  databaseUrl?: string;
  contextLimit: number;
  compactThreshold: number;
  targetAfterCompact: number;
  anthropic: { model: string; apiKey?: string; baseUrl?: string; maxTokens: number; promptCaching: boolean; maxRetries: number; retryBaseMs: number };
  /** the OpenAI-compatible endpoint (LARES_PROVIDER=openai, or a per-task `openai:` model) */
  openai: { apiKey?: string; baseUrl?: string };
  /** Ollama's OpenAI endpoint (LARES_PROVIDER=ollama, or a per-task `ollama:` model) */
  ollama: { baseUrl: string };
  /** LARES_CONTEXT_WINDOW: tokens a local server's model holds */
  contextWindow?: number;
  /** which model does what: conversation turns, perch and job turns, compaction summaries */
  models: { conversation: ModelChoice; perch: ModelChoice; compaction: ModelChoice };
  budget: { dailyUsd?: number; mode: 'soft' | 'hard' };
  maxToolIterations: number;
  memoryFold: 'turn' | 'compaction';
  baseInstructionsFile?: string;
  /** prices of model calls that override and extend the built-in table (src/llm/pricing.ts) */
  pricesFile?: string;
  mcp: {
    url?: string; host: string; port: number; token?: string; serversFile?: string;
    allowedPaths: string[]; blockedFiles: string[]; allowlistFile?: string;
    /** LARES_APPROVAL_DB (deprecated): a separate SQLite file whose queue, jobs and allowlist are copied into the store once */
    legacyApprovalDbPath?: string; approvalTtlMs: number; vaultPath?: string;
  };
  letta: { baseUrl?: string; agentId?: string; apiKey?: string; migrateMessages: boolean };
  discord: { botToken?: string; channelId?: string; ownerId?: string; allowedUserIds: string[]; apiUrl?: string };
  telegram: {
    botToken?: string; ownerId?: string; allowedChatIds: string[]; apiUrl?: string;
    /** updates by webhook (served on 127.0.0.1:port) instead of long polling */
    webhook?: { url: string; secret: string; port: number };
  };
  /** where unprompted posts go; undefined: the channel the owner last used */
  homeChannel?: 'discord' | 'telegram';
  embedder: {
    kind: 'local' | 'ollama' | 'openai' | 'voyage' | 'none';
    model?: string; dimensions?: number;
    ollamaUrl?: string; openaiApiKey?: string; openaiBaseUrl?: string; voyageApiKey?: string; voyageBaseUrl?: string;
  };
  httpPort: number;
  web: { enabled: boolean; host: string; token?: string; allowPlainHttp: boolean; origin?: string };
  perchIntervalMinutes: number;
  logLevel: string;
  env: Env;
}

/** Reads `.env` from the working directory (or LARES_ENV_FILE); real environment variables win. */
export function readEnvironment(base: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Record<string, string | undefined> {
  const file = base.LARES_ENV_FILE ?? resolve(cwd, '.env');
  // a byte order mark (some Windows editors add one) would otherwise become part of the first name
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) : {};
  return { ...fromFile, ...base };
}

export function loadConfig(source: Record<string, string | undefined> = readEnvironment()): Config {
  const picked = Object.fromEntries(Object.keys(envSchema.shape).map((key) => [key, source[key]]));
  const parsed = envSchema.safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]);
      const value = isSecret(key) ? '(hidden)' : JSON.stringify(source[key]);
      return `  ${key}=${value}: ${issue.message}`;
    });
    throw new LaresError('CONFIG_INVALID', `invalid configuration (${lines.length} ${lines.length === 1 ? 'variable' : 'variables'}):\n${lines.join('\n')}\nFix them in the environment or in .env and run again.`);
  }
  const env = parsed.data;
  const problems: string[] = [];
  let mode: Config['mode'];
  let modeReason: string;
  if (env.USE_DIRECT_LLM === true) { mode = 'direct'; modeReason = 'USE_DIRECT_LLM=true'; }
  else if (env.USE_DIRECT_LLM === false) { mode = 'letta'; modeReason = 'USE_DIRECT_LLM=false'; }
  else if (env.LETTA_BASE_URL) { mode = 'letta'; modeReason = 'USE_DIRECT_LLM is unset and LETTA_BASE_URL is set (the seed default: Letta mode)'; }
  else { mode = 'direct'; modeReason = 'USE_DIRECT_LLM is unset and no LETTA_BASE_URL is configured'; }
  const memoryProvider = env.MEMORY_PROVIDER ?? 'sqlite';
  if (memoryProvider === 'postgres' && !env.DATABASE_URL) problems.push('  DATABASE_URL: required when MEMORY_PROVIDER=postgres (postgres://user:password@host:5432/db)');
  if (env.LARES_EMBEDDER === 'voyage' && !env.VOYAGE_API_KEY) problems.push('  VOYAGE_API_KEY: required when LARES_EMBEDDER=voyage (create one at https://dashboard.voyageai.com/)');
  if (env.LARES_EMBEDDER === 'openai' && !env.OPENAI_API_KEY && !env.OPENAI_BASE_URL) problems.push('  OPENAI_API_KEY: required when LARES_EMBEDDER=openai (or set OPENAI_BASE_URL to a local OpenAI-compatible server)');
  const provider: ProviderKind = env.LARES_PROVIDER ?? 'anthropic';
  if (provider === 'openai' && env.OPENAI_BASE_URL && !env.OPENAI_MODEL) problems.push(`  OPENAI_MODEL: required when LARES_PROVIDER=openai with OPENAI_BASE_URL (the name the server knows the model by, e.g. qwen3:8b)`);
  if (provider === 'ollama' && !env.OPENAI_MODEL) problems.push('  OPENAI_MODEL: required when LARES_PROVIDER=ollama (a model from `ollama list`, e.g. qwen3:8b)');
  if (env.TELEGRAM_WEBHOOK_URL && !env.TELEGRAM_WEBHOOK_SECRET) problems.push('  TELEGRAM_WEBHOOK_SECRET: required with TELEGRAM_WEBHOOK_URL, so that only Telegram can post updates (openssl rand -hex 32)');
  if (env.TELEGRAM_WEBHOOK_URL && !/^https:/.test(env.TELEGRAM_WEBHOOK_URL) && !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(env.TELEGRAM_WEBHOOK_URL)) problems.push(`  TELEGRAM_WEBHOOK_URL=${env.TELEGRAM_WEBHOOK_URL}: Telegram posts to https:// addresses only`);
  for (const name of ['LARES_MODEL_COMPACTION', 'LARES_MODEL_PERCH'] as const) {
    // Claude model names have no colon: `olama:qwen3:8b` is a mistyped provider, not a model
    const value = env[name];
    if (value && provider === 'anthropic' && !/^(anthropic|openai|ollama):/.test(value) && value.includes(':')) {
      problems.push(`  ${name}=${value}: unknown provider "${value.split(':')[0]}" (expected anthropic:, openai: or ollama: before the model)`);
    }
  }
  if (env.TARGET_AFTER_COMPACT >= env.COMPACT_THRESHOLD) problems.push(`  TARGET_AFTER_COMPACT=${env.TARGET_AFTER_COMPACT}: must be below COMPACT_THRESHOLD (${env.COMPACT_THRESHOLD})`);
  if (problems.length > 0) {
    throw new LaresError('CONFIG_INVALID', `invalid configuration (${problems.length} ${problems.length === 1 ? 'variable' : 'variables'}):\n${problems.join('\n')}\nFix them in the environment or in .env and run again.`);
  }
  return {
    mode, modeReason, memoryProvider,
    sqlitePath: env.SQLITE_DB_PATH,
    databaseUrl: env.DATABASE_URL,
    contextLimit: env.CONTEXT_LIMIT,
    compactThreshold: env.COMPACT_THRESHOLD,
    targetAfterCompact: env.TARGET_AFTER_COMPACT,
    anthropic: { model: env.ANTHROPIC_MODEL, apiKey: env.ANTHROPIC_API_KEY, baseUrl: env.ANTHROPIC_BASE_URL, maxTokens: env.LARES_MAX_TOKENS, promptCaching: env.LARES_PROMPT_CACHING ?? true, maxRetries: env.LARES_LLM_MAX_RETRIES, retryBaseMs: env.LARES_LLM_RETRY_BASE_MS },
    openai: { apiKey: env.OPENAI_API_KEY, baseUrl: env.OPENAI_BASE_URL },
    ollama: { baseUrl: env.OLLAMA_BASE_URL ?? DEFAULT_OLLAMA_URL },
    contextWindow: env.LARES_CONTEXT_WINDOW,
    models: modelChoices(env, provider),
    budget: { dailyUsd: env.LARES_DAILY_BUDGET_USD, mode: env.LARES_BUDGET_MODE ?? 'soft' },
    maxToolIterations: env.LARES_MAX_TOOL_ITERATIONS,
    memoryFold: env.LARES_MEMORY_FOLD ?? 'turn',
    baseInstructionsFile: env.LARES_BASE_INSTRUCTIONS_FILE,
    pricesFile: env.LARES_PRICES_FILE,
    mcp: {
      url: env.MCP_URL, host: env.MCP_HOST, port: env.MCP_PORT, token: env.LARES_MCP_TOKEN, serversFile: env.LARES_MCP_SERVERS_FILE,
      allowedPaths: env.LARES_ALLOWED_PATHS, blockedFiles: env.LARES_BLOCKED_FILES, allowlistFile: env.LARES_ALLOWLIST_FILE,
      legacyApprovalDbPath: env.LARES_APPROVAL_DB, approvalTtlMs: env.LARES_APPROVAL_TTL, vaultPath: env.OBSIDIAN_VAULT_PATH,
    },
    letta: {
      baseUrl: env.LETTA_BASE_URL,
      agentId: env.LETTA_AGENT_ID ?? env.LARES_AGENT_ID,
      apiKey: env.LETTA_API_KEY ?? env.LETTA_SERVER_PASSWORD,
      migrateMessages: env.MIGRATE_MESSAGES ?? false,
    },
    discord: { botToken: env.DISCORD_BOT_TOKEN, channelId: env.DISCORD_CHANNEL_ID, ownerId: env.DISCORD_OWNER_ID, allowedUserIds: env.DISCORD_ALLOWED_USER_IDS, apiUrl: env.DISCORD_API_URL },
    telegram: {
      botToken: env.TELEGRAM_BOT_TOKEN, ownerId: env.TELEGRAM_OWNER_ID, allowedChatIds: env.TELEGRAM_ALLOWED_CHAT_IDS, apiUrl: env.TELEGRAM_API_URL?.replace(/\/+$/, ''),
      ...(env.TELEGRAM_WEBHOOK_URL ? { webhook: { url: env.TELEGRAM_WEBHOOK_URL, secret: env.TELEGRAM_WEBHOOK_SECRET!, port: env.TELEGRAM_WEBHOOK_PORT } } : {}),
    },
    homeChannel: env.LARES_HOME_CHANNEL,
    embedder: {
      kind: env.LARES_EMBEDDER ?? 'local', model: env.LARES_EMBEDDING_MODEL, dimensions: env.LARES_EMBEDDING_DIMENSIONS,
      ollamaUrl: env.OLLAMA_BASE_URL, openaiApiKey: env.OPENAI_API_KEY, openaiBaseUrl: env.OPENAI_BASE_URL, voyageApiKey: env.VOYAGE_API_KEY, voyageBaseUrl: env.VOYAGE_BASE_URL,
    },
    httpPort: env.LARES_HTTP_PORT,
    web: { enabled: env.LARES_WEB ?? false, host: env.LARES_WEB_HOST ?? '127.0.0.1', token: env.LARES_WEB_TOKEN, allowPlainHttp: env.LARES_WEB_ALLOW_PLAIN_HTTP ?? false, origin: env.LARES_WEB_ORIGIN },
    perchIntervalMinutes: env.LARES_PERCH_INTERVAL_MINUTES,
    logLevel: env.LOG_LEVEL ?? 'info',
    env,
  };
}

function modelChoices(env: Env, provider: ProviderKind): Config['models'] {
  const conversation: ModelChoice = { provider, model: provider === 'anthropic' ? env.ANTHROPIC_MODEL : env.OPENAI_MODEL ?? DEFAULT_OPENAI_MODEL };
  return {
    conversation,
    perch: parseModelChoice(env.LARES_MODEL_PERCH, conversation),
    compaction: parseModelChoice(env.LARES_MODEL_COMPACTION, conversation),
  };
}

/** `anthropic:claude-haiku-4-5`, `ollama:qwen3:8b`, or a bare model name for the main provider. */
export function parseModelChoice(value: string | undefined, fallback: ModelChoice): ModelChoice {
  if (!value) return fallback;
  const match = /^(anthropic|openai|ollama):(.+)$/.exec(value);
  return match ? { provider: match[1] as ProviderKind, model: match[2] } : { provider: fallback.provider, model: value };
}

/** `openai:qwen3:8b` as people write it in config and read it in logs. */
export function describeModel(choice: ModelChoice): string {
  return `${choice.provider}:${choice.model}`;
}

function isSecret(key: string): boolean {
  return /KEY|TOKEN|PASSWORD|SECRET|DATABASE_URL/.test(key);
}
