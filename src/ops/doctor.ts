// `lares doctor`: the seed's pre-migration checklist and troubleshooting section, automated.
// Every check says what it found and, when it fails, the one-line fix. Doctor only reads:
// it never creates the database, migrates a schema or writes to any service.
import { accessSync, constants, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pg from 'pg';
import type { Config } from '../config/config.ts';
import { errorMessage } from '../errors.ts';
import { postgresSchemaVersion, redactDatabaseUrl } from '../memory/postgres/postgres-store.ts';
import { POSTGRES_SCHEMA_VERSION } from '../memory/postgres/schema.ts';
import { SQLITE_SCHEMA_VERSION } from '../memory/sqlite/schema.ts';
import { fail, ok, skip, type DoctorCheck } from './doctor-check.ts';
import { checkModels } from './doctor-model.ts';
import { checkTelegram } from './doctor-telegram.ts';

export type { CheckStatus, DoctorCheck } from './doctor-check.ts';

export interface DoctorReport { ok: boolean; mode: Config['mode']; memory: Config['memoryProvider']; checks: DoctorCheck[] }

export interface DoctorOptions {
  /** make one cheap real call to each provider (Anthropic count_tokens, a tiny chat completion) */
  live?: boolean;
  /** per network check */
  timeoutMs?: number;
}

export async function runDoctor(config: Config, options: DoctorOptions = {}): Promise<DoctorReport> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const checks: DoctorCheck[] = [checkNode()];
  if (config.memoryProvider === 'sqlite') {
    checks.push(checkDataDir(config.sqlitePath));
    checks.push(...checkSqlite(config.sqlitePath));
  } else {
    checks.push(...await checkPostgres(config.databaseUrl!, timeoutMs));
  }
  checks.push(...await checkModels(config, options.live === true, timeoutMs));
  checks.push(...await checkLetta(config, timeoutMs));
  checks.push(...await checkMcp(config, timeoutMs));
  checks.push(...checkDiscord(config));
  checks.push(...await checkTelegram(config, options.live === true, timeoutMs));
  const failed = checks.some((c) => c.required && c.status === 'fail');
  return { ok: !failed, mode: config.mode, memory: config.memoryProvider, checks };
}

/** The report for a person: one line per check, the fix under each failure. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [`Lares doctor (${report.mode} mode, ${report.memory} memory)`];
  for (const check of report.checks) {
    const mark = check.status === 'ok' ? '✓' : check.status === 'skip' ? '-' : check.required ? '✗' : '!';
    lines.push(`${mark} ${check.message}${check.status === 'fail' && !check.required ? ' (optional)' : ''}`);
    if (check.status === 'fail' && check.fix) lines.push(`    fix: ${check.fix}`);
  }
  const problems = report.checks.filter((c) => c.status === 'fail' && c.required).length;
  const warnings = report.checks.filter((c) => c.status === 'fail' && !c.required).length;
  lines.push(problems === 0
    ? `All required checks passed${warnings ? ` (${warnings} optional ${warnings === 1 ? 'warning' : 'warnings'})` : ''}.`
    : `${problems} required ${problems === 1 ? 'check' : 'checks'} failed.`);
  return `${lines.join('\n')}\n`;
}

function checkNode(): DoctorCheck {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 18)) return ok('node', `Node.js ${process.versions.node}`);
  return fail('node', `Node.js ${process.versions.node} is too old (22.18 or newer needed)`, 'run Lares through the checkout\'s node_modules/.bin/node (npm ci installs it)');
}

function checkDataDir(sqlitePath: string): DoctorCheck {
  const dir = dirname(resolve(sqlitePath));
  if (!existsSync(dir)) {
    // Lares creates it on first start (mkdir -p), so it is only a problem when that cannot work
    let parent = dirname(dir);
    while (!existsSync(parent) && parent !== dirname(parent)) parent = dirname(parent);
    try {
      if (!statSync(parent).isDirectory()) throw new Error(`${parent} is not a directory`);
      accessSync(parent, constants.W_OK);
      rmSync(mkdtempSync(`${parent}/.lares-doctor-`), { recursive: true });
    } catch (error) {
      return fail('data_dir', `data directory ${dir} does not exist and cannot be created (${errorMessage(error)})`, `create it for the user Lares runs as: mkdir -p ${dir} (or set SQLITE_DB_PATH)`);
    }
    return ok('data_dir', `data directory ${dir} does not exist yet; Lares creates it on first start (under systemd create it first: it must be in ReadWritePaths=)`);
  }
  if (!statSync(dir).isDirectory()) return fail('data_dir', `${dir} is not a directory`, `point SQLITE_DB_PATH at a file inside a directory`);
  try {
    accessSync(dir, constants.W_OK);
    // a real write, because permission bits do not tell about read-only mounts or ProtectSystem=strict
    rmSync(mkdtempSync(`${dir}/.lares-doctor-`), { recursive: true });
  } catch (error) {
    return fail('data_dir', `data directory ${dir} is not writable (${errorMessage(error)})`, `chown -R <lares user> ${dir}, and list it in ReadWritePaths= of the systemd unit`);
  }
  return ok('data_dir', `data directory ${dir} exists and is writable`);
}

function checkSqlite(sqlitePath: string): DoctorCheck[] {
  if (!existsSync(sqlitePath)) return [ok('database', `no database yet at ${sqlitePath}; Lares creates it on first start (or run lares migrate)`)];
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(sqlitePath, { readOnly: true, timeout: 5000 });
  } catch (error) {
    return [fail('database', `the database ${sqlitePath} does not open: ${errorMessage(error)}`, 'check the file\'s owner and permissions, or restore a backup (lares backup makes them)')];
  }
  try {
    const checks: DoctorCheck[] = [];
    let version: number;
    try {
      version = Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
    } catch (error) {
      return [fail('database', `${sqlitePath} is not a SQLite database: ${errorMessage(error)}`, 'point SQLITE_DB_PATH at the Lares database, or restore a backup')];
    }
    checks.push(ok('database', `database ${sqlitePath} opens`));
    if (version > SQLITE_SCHEMA_VERSION) checks.push(fail('schema', `schema version ${version} is newer than this Lares (${SQLITE_SCHEMA_VERSION})`, 'update Lares (git pull && npm ci)'));
    else if (version < SQLITE_SCHEMA_VERSION) checks.push(ok('schema', `schema version ${version} of ${SQLITE_SCHEMA_VERSION}: Lares migrates it on next start`));
    else checks.push(ok('schema', `schema version ${version} is current`));
    try {
      const rows = db.prepare('PRAGMA integrity_check').all() as Array<Record<string, string>>;
      const result = rows.map((r) => Object.values(r)[0]);
      if (result.length === 1 && result[0] === 'ok') checks.push(ok('integrity', 'PRAGMA integrity_check: ok'));
      else checks.push(fail('integrity', `PRAGMA integrity_check: ${result.slice(0, 3).join('; ')}`, 'stop Lares and restore the latest backup from data/backups (or: sqlite3 lares.db .recover | sqlite3 recovered.db)'));
    } catch (error) {
      checks.push(fail('integrity', `PRAGMA integrity_check failed: ${errorMessage(error)}`, 'stop Lares and restore the latest backup from data/backups'));
    }
    return checks;
  } finally {
    db.close();
  }
}

async function checkPostgres(url: string, timeoutMs: number): Promise<DoctorCheck[]> {
  const shown = redactDatabaseUrl(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
  } catch (error) {
    return [fail('database', `PostgreSQL at ${shown} does not answer: ${errorMessage(error)}`, 'check DATABASE_URL and that the server runs (pg_isready -d "$DATABASE_URL")')];
  }
  try {
    const checks = [ok('database', `PostgreSQL at ${shown} connects`)];
    const version = await postgresSchemaVersion(client);
    if (version > POSTGRES_SCHEMA_VERSION) checks.push(fail('schema', `schema version ${version} is newer than this Lares (${POSTGRES_SCHEMA_VERSION})`, 'update Lares (git pull && npm ci)'));
    else if (version < POSTGRES_SCHEMA_VERSION) checks.push(ok('schema', `schema version ${version} of ${POSTGRES_SCHEMA_VERSION}: Lares migrates it on next start`));
    else checks.push(ok('schema', `schema version ${version} is current`));
    return checks;
  } catch (error) {
    return [fail('database', `PostgreSQL at ${shown}: ${errorMessage(error)}`, 'check that the DATABASE_URL user may read the database')];
  } finally {
    await client.end().catch(() => {});
  }
}

async function httpJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; json: any }> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let json: any;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: response.status, json };
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? errorMessage(error);
}

async function checkLetta(config: Config, timeoutMs: number): Promise<DoctorCheck[]> {
  const { baseUrl, agentId, apiKey } = config.letta;
  if (!baseUrl && !agentId) return [skip('letta', 'Letta not configured (LETTA_BASE_URL unset)')];
  // Letta is only required in Letta mode; in direct mode it is the rollback path
  const required = config.mode === 'letta';
  if (!baseUrl) return [fail('letta', 'LETTA_AGENT_ID is set but LETTA_BASE_URL is not', 'set LETTA_BASE_URL=http://127.0.0.1:8283 (the Letta server)', required)];
  const base = baseUrl.replace(/\/+$/, '');
  const checks: DoctorCheck[] = [];
  try {
    const health = await httpJson(`${base}/v1/health/`, {}, timeoutMs);
    if (health.status !== 200) return [fail('letta', `Letta at ${base} answered HTTP ${health.status} on /v1/health/`, 'check LETTA_BASE_URL points at the Letta server (not the ADE)', required)];
    checks.push(ok('letta', `Letta reachable at ${base}${health.json?.version ? ` (version ${health.json.version})` : ''}`, required));
  } catch (error) {
    return [fail('letta', `Letta at ${base} is unreachable (${causeOf(error)})`, 'start Letta (docker start letta) or fix LETTA_BASE_URL', required)];
  }
  if (!agentId) {
    checks.push(fail('letta_agent', 'LETTA_AGENT_ID is not set', 'set LETTA_AGENT_ID=agent-… (the ADE shows it; GET /v1/agents lists them)', required));
    return checks;
  }
  try {
    const agent = await httpJson(`${base}/v1/agents/${encodeURIComponent(agentId)}`, apiKey ? { authorization: `Bearer ${apiKey}` } : {}, timeoutMs);
    if (agent.status === 401 || agent.status === 403) {
      checks.push(fail('letta_agent', `Letta refused the credentials (HTTP ${agent.status})`, apiKey ? 'LETTA_API_KEY (or LETTA_SERVER_PASSWORD) does not match the server' : 'set LETTA_API_KEY (or LETTA_SERVER_PASSWORD) to the server password', required));
    } else if (agent.status === 422) {
      checks.push(fail('letta_agent', `Letta says ${agentId} is not a valid agent id`, 'set LETTA_AGENT_ID to the full id: agent-<uuid>', required));
    } else if (agent.status === 404) {
      checks.push(fail('letta_agent', `Letta has no agent ${agentId}`, 'check LETTA_AGENT_ID (GET /v1/agents lists the agents)', required));
    } else if (agent.status !== 200) {
      checks.push(fail('letta_agent', `Letta answered HTTP ${agent.status} for agent ${agentId}`, 'look at the Letta server logs (docker logs letta)', required));
    } else {
      checks.push(ok('letta_agent', `Letta authenticated; agent ${agentId}${agent.json?.name ? ` ("${agent.json.name}")` : ''} found`, required));
    }
  } catch (error) {
    checks.push(fail('letta_agent', `Letta agent lookup failed (${causeOf(error)})`, 'check that Letta is running and LETTA_BASE_URL is right', required));
  }
  return checks;
}

/** http://host:8765/mcp → http://host:8765 (the REST routes hang off the root) */
function mcpRestBase(mcpUrl: string): string {
  const url = new URL(mcpUrl);
  return `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/(mcp|sse)$/, '')}`;
}

async function checkMcp(config: Config, timeoutMs: number): Promise<DoctorCheck[]> {
  const mcpUrl = config.mcp.url;
  if (!mcpUrl) {
    return [
      skip('mcp', 'MCP_URL not set: the built-in tools run inside Lares (set MCP_URL to use lares-mcp.service)'),
      skip('approvals', 'approval queue: in-process (MCP_URL not set)'),
    ];
  }
  const base = mcpRestBase(mcpUrl);
  const endpoint = /\/(mcp|sse)\/?$/.test(new URL(mcpUrl).pathname) ? mcpUrl : `${base}/mcp`;
  const token = config.mcp.token;
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const checks: DoctorCheck[] = [];
  try {
    const health = await httpJson(`${base}/health`, {}, timeoutMs);
    if (health.status !== 200) return [fail('mcp', `MCP server at ${base} answered HTTP ${health.status} on /health`, 'check that MCP_URL points at lares mcp (http://127.0.0.1:8765/mcp)')];
    checks.push(ok('mcp', `MCP server reachable at ${base}${health.json?.version ? ` (version ${health.json.version})` : ''}`));
  } catch (error) {
    return [
      fail('mcp', `MCP server at ${base} is unreachable (${causeOf(error)})`, 'start it: systemctl start lares-mcp (or npx lares mcp); check MCP_URL'),
      fail('approvals', 'approval queue unreachable (the MCP server is down)', 'start the MCP server first'),
    ];
  }
  // the real protocol: initialize + tools/list over Streamable HTTP, with the token
  const client = new Client({ name: 'lares-doctor', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), { requestInit: { headers: auth } });
  try {
    const tools = await withTimeout((async () => {
      await client.connect(transport);
      return client.listTools();
    })(), timeoutMs);
    const names = tools.tools.map((t) => t.name);
    if (names.length === 0) checks.push(fail('mcp_tools', 'MCP authenticated but lists no tools ("No tools available")', 'check LARES_ALLOWED_PATHS and the server log: journalctl -u lares-mcp'));
    else checks.push(ok('mcp_tools', `MCP authenticated; ${names.length} tools listed (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`));
  } catch (error) {
    const message = errorMessage(error);
    if (/401|unauthori[sz]ed/i.test(message)) {
      checks.push(fail('mcp_tools', 'MCP server refused the token (401)', token ? 'LARES_MCP_TOKEN differs from the server\'s: use the same value in both services\' environment' : 'set LARES_MCP_TOKEN to the server\'s token'));
    } else {
      checks.push(fail('mcp_tools', `MCP tools/list failed: ${message}`, 'check MCP_URL (it ends in /mcp) and journalctl -u lares-mcp'));
    }
  } finally {
    await client.close().catch(() => {});
  }
  try {
    const pending = await httpJson(`${base}/approvals/pending`, auth, timeoutMs);
    if (pending.status === 401) checks.push(fail('approvals', 'approval queue refused the token (401)', 'set LARES_MCP_TOKEN to the MCP server\'s token'));
    else if (pending.status !== 200) checks.push(fail('approvals', `approval queue answered HTTP ${pending.status}`, 'update lares-mcp to the same version as Lares'));
    else {
      const list = Array.isArray(pending.json) ? pending.json : Array.isArray(pending.json?.approvals) ? pending.json.approvals : Array.isArray(pending.json?.pending) ? pending.json.pending : undefined;
      if (!list) checks.push(fail('approvals', 'approval queue answered something that is not a list', 'update lares-mcp to the same version as Lares'));
      else checks.push(ok('approvals', `approval queue reachable: ${list.length} pending ${list.length === 1 ? 'approval' : 'approvals'}${list.length > 0 ? ' (lares approvals list, or Discord)' : ''}`));
    }
  } catch (error) {
    checks.push(fail('approvals', `approval queue unreachable (${causeOf(error)})`, 'check MCP_URL and that lares-mcp runs'));
  }
  return checks;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Bot tokens are three base64url parts: the bot id, a timestamp and an HMAC. */
const DISCORD_TOKEN = /^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$/;

function checkDiscord(config: Config): DoctorCheck[] {
  const { botToken, channelId } = config.discord;
  if (!botToken && !channelId) return [skip('discord', 'Discord not configured (DISCORD_BOT_TOKEN unset)')];
  const checks: DoctorCheck[] = [];
  if (!botToken) checks.push(fail('discord_token', 'DISCORD_BOT_TOKEN is not set but DISCORD_CHANNEL_ID is', 'Discord developer portal → your app → Bot → Reset Token; put it in DISCORD_BOT_TOKEN'));
  else if (/^Bot\s/i.test(botToken)) checks.push(fail('discord_token', 'DISCORD_BOT_TOKEN starts with "Bot "', 'remove the "Bot " prefix: the token alone'));
  else if (!DISCORD_TOKEN.test(botToken)) checks.push(fail('discord_token', 'DISCORD_BOT_TOKEN is not shaped like a bot token (three dot-separated parts)', 'copy the bot token again from the developer portal (Bot → Reset Token), not the client secret'));
  else checks.push(ok('discord_token', 'DISCORD_BOT_TOKEN is set and well-formed'));
  if (!channelId) checks.push(fail('discord_channel', 'DISCORD_CHANNEL_ID is not set', 'Discord → settings → Advanced → Developer Mode; right-click the channel → Copy Channel ID'));
  else checks.push(ok('discord_channel', `DISCORD_CHANNEL_ID ${channelId} is well-formed`));
  // lares run refuses to start without it: only the owner's reactions approve
  if (!config.discord.ownerId) checks.push(fail('discord_owner', 'DISCORD_OWNER_ID is not set (lares run needs it: only the owner\'s reactions approve)', 'Discord → Developer Mode on; right-click your own name → Copy User ID; put it in DISCORD_OWNER_ID'));
  else checks.push(ok('discord_owner', `DISCORD_OWNER_ID ${config.discord.ownerId} is well-formed`));
  return checks;
}
