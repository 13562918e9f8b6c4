// lares migrate: copies a Letta agent (system prompt, memory blocks, the whole message history,
// archival passages) into Lares's memory store. Read-only against Letta; safe to run again.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { LaresError } from '../errors.ts';
import { ApiSource, AgentFileSource, type MigrationSource } from '../letta/source.ts';
import { runMigration, type MigrationProgress, type MigrationReport } from '../letta/migrate.ts';
import { verifyMigration, type VerifyReport } from '../letta/verify.ts';
import { openStore } from '../memory/open-store.ts';
import { openEmbedder } from '../embeddings/open-embedder.ts';
import { RecallIndexer, type IndexReport } from '../recall/indexer.ts';
import { progressLine } from './reindex.ts';
import { loadCommandConfig } from './context-helpers.ts';
import { action, printJson } from './run.ts';

interface MigrateFlags {
  messages?: boolean;
  dryRun?: boolean;
  fromFile?: string;
  verify?: boolean;
  json?: boolean;
  pageSize?: string;
  overwriteBlocks?: boolean;
}

export function registerMigrateCommand(program: Command): void {
  program.command('migrate')
    .description('Copy a Letta agent into Lares: system prompt, memory blocks, message history (MIGRATE_MESSAGES=true or --messages) and archival passages. Reads LETTA_BASE_URL, LETTA_AGENT_ID, LETTA_API_KEY and SQLITE_DB_PATH. Never writes to Letta; running it again adds nothing.')
    .option('--messages', 'copy the message history (default: MIGRATE_MESSAGES)')
    .option('--no-messages', 'do not copy the message history')
    .option('--dry-run', 'read everything and report what would be copied; write nothing')
    .option('--from-file <agent.af>', 'import a Letta agent file instead of the server (offline; holds only the in-context messages and no archival passages)')
    .option('--verify', 'check a finished migration: blocks with lengths, message count, five newest messages, and every Letta block, message and passage present')
    .option('--page-size <n>', 'Letta rows per page (1-1000)', '100')
    .option('--overwrite-blocks', 'replace blocks that were changed in Lares since the last migration')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExamples:\n  MIGRATE_MESSAGES=true lares migrate\n  lares migrate --dry-run\n  lares migrate --verify\n  lares migrate --from-file lares.af')
    .action(action(async (flags: MigrateFlags) => {
      const config = loadCommandConfig({ quiet: true });
      const pageSize = Number(flags.pageSize ?? 100);
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw new LaresError('USAGE', `--page-size must be a whole number from 1 to 1000, not ${flags.pageSize}`);
      const messages = flags.messages ?? config.letta.migrateMessages;
      const source = makeSource(config, flags.fromFile);

      if (flags.verify) {
        requireExistingDatabase(config, 'lares migrate --verify');
        const store = await openStore(config);
        try {
          const report = await verifyMigration(store, source, { messages, pageSize });
          if (flags.json) printJson(report); else process.stdout.write(formatVerify(report));
          if (!report.ok) process.exitCode = 1;
        } finally { await store.close(); }
        return;
      }

      let store: Awaited<ReturnType<typeof openStore>> | undefined;
      const progress = progressPrinter();
      // Ctrl-C: every finished page is already committed (node:sqlite is synchronous, so this
      // handler never runs inside a transaction); say so and how to go on, instead of dying silently
      const added = { messages: 0 };
      const onInterrupt = (signal: NodeJS.Signals) => {
        progress.done();
        process.stderr.write(`lares migrate: interrupted (${signal}). ${flags.dryRun ? 'Nothing was written.' : `What was read so far is saved (${fmt(added.messages)} messages added in this run); run lares migrate again to resume without duplicates.`}\n`);
        process.exit(signal === 'SIGINT' ? 130 : 143);
      };
      process.once('SIGINT', onInterrupt);
      process.once('SIGTERM', onInterrupt);
      try {
        const report = await runMigration({
          source, messages, pageSize, dryRun: flags.dryRun ?? false, overwriteBlocks: flags.overwriteBlocks ?? false,
          openStore: async () => (store = await openStore(config)),
          onProgress: (p) => { if (p.phase === 'messages') added.messages = p.added; progress.update(p); },
        });
        progress.done();
        // lares search must find the migrated history at once, by keywords and by meaning
        const index = flags.dryRun || !store ? undefined : await indexMigrated(store, config);
        if (flags.json) printJson(index ? { ...report, index } : report);
        else process.stdout.write(`${formatReport(report, config)}${index ? formatIndex(index) : ''}`);
      } finally {
        process.off('SIGINT', onInterrupt);
        process.off('SIGTERM', onInterrupt);
        progress.done();
        await store?.close();
      }
    }));
}

async function indexMigrated(store: Awaited<ReturnType<typeof openStore>>, config: Config): Promise<IndexReport & { embedder: string }> {
  const embedder = await openEmbedder(config);
  const progress = progressLine();
  try {
    const report = await new RecallIndexer(store, embedder).run({ onProgress: progress.update });
    return { ...report, embedder: embedder?.model ?? 'none' };
  } finally {
    progress.done();
    await embedder?.close?.();
  }
}

function formatIndex(r: IndexReport & { embedder: string }): string {
  const vectors = r.embedded.message + r.embedded.summary + r.embedded.passage;
  return `Search index: keyword context for ${fmt(r.contexts)} messages, ${fmt(vectors)} vectors (${r.embedder}) in ${r.seconds.toFixed(1)}s.\n`;
}

/** Commands that read a migrated database must not create an empty one at a mistyped path. */
export function requireExistingDatabase(config: Pick<Config, 'memoryProvider' | 'sqlitePath'>, command: string): void {
  if (config.memoryProvider !== 'sqlite' || config.sqlitePath === ':memory:' || existsSync(config.sqlitePath)) return;
  throw new LaresError('USAGE', `${command}: there is no Lares database at ${resolve(config.sqlitePath)}. Run lares migrate first, or set SQLITE_DB_PATH to the database it wrote.`);
}

function makeSource(config: Config, fromFile: string | undefined): MigrationSource {
  if (fromFile) return new AgentFileSource(fromFile, config.letta.agentId);
  const missing: string[] = [];
  if (!config.letta.baseUrl) missing.push('  LETTA_BASE_URL: the Letta server to copy from, e.g. http://localhost:8283');
  if (!config.letta.agentId) missing.push('  LETTA_AGENT_ID (or LARES_AGENT_ID): the agent to copy, e.g. agent-123e4567-e89b-42d3-8456-426614174000');
  if (missing.length > 0) throw new LaresError('CONFIG_INVALID', `lares migrate needs:\n${missing.join('\n')}\nSet them in .env (or pass --from-file agent.af to import an exported agent file).`);
  return new ApiSource({
    baseUrl: config.letta.baseUrl!, agentId: config.letta.agentId!, apiKey: config.letta.apiKey,
    passwordHeader: !config.env.LETTA_API_KEY && Boolean(config.env.LETTA_SERVER_PASSWORD),
  });
}

function progressPrinter(): { update(p: MigrationProgress): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  let open = false;
  return {
    update(p) {
      const line = p.phase === 'messages'
        ? `messages: ${fmt(p.items)} read, ${fmt(p.added)} added (${fmt(Math.round(p.ratePerSecond))}/s, ${fmt(p.pages)} pages)`
        : `archival passages: ${fmt(p.items)} read, ${fmt(p.added)} added`;
      if (tty) { process.stderr.write(`\r\u001b[2K${line}`); open = true; return; }
      if (Date.now() - lastLine > 5000) { process.stderr.write(`${line}\n`); lastLine = Date.now(); }
    },
    done() {
      if (open) process.stderr.write('\n');
      open = false;
    },
  };
}

function fmt(n: number): string { return n.toLocaleString('en-US'); }

function list(record: Record<string, number>): string {
  const entries = Object.entries(record).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${fmt(v)}`).join(' · ');
}

export function formatReport(r: MigrationReport, config: Pick<Config, 'memoryProvider' | 'sqlitePath'>): string {
  const out: string[] = [];
  const target = config.memoryProvider === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : config.sqlitePath;
  const from = `${r.source} (${r.agent.name ?? r.agent.id})`;
  out.push(r.dryRun ? `Dry run: nothing was written. From ${from}:` : `Migrated ${from} into ${target} in ${(r.durationMs / 1000).toFixed(1)}s`);
  out.push(`Base instructions: ${fmt(r.baseInstructions.chars)} characters (${r.baseInstructions.action}; the rendered memory section removed)`);
  out.push(`Memory blocks (${r.blocks.length}):`);
  const width = Math.max(5, ...r.blocks.map((b) => b.label.length));
  for (const b of r.blocks) out.push(`  ${b.label.padEnd(width)}  ${fmt(b.chars).padStart(7)} chars  limit ${fmt(b.limit).padStart(6)}${b.readOnly ? '  read-only' : ''}  ${b.action}`);
  const m = r.messages;
  if (m.included) {
    out.push(`Messages: ${fmt(m.lettaRows)} Letta rows (${fmt(m.lettaItems)} items) → ${fmt(m.converted)} Lares messages${r.dryRun ? '' : ` (${fmt(m.added)} added, ${fmt(m.alreadyPresent)} already present)`}`);
    out.push(`  by role: user ${fmt(m.byRole.user)} · assistant ${fmt(m.byRole.assistant)} · system events ${fmt(m.byRole.system)}`);
    out.push(`  Letta types: ${list(m.lettaByType)}`);
    out.push(`  events: ${list(m.events)}`);
    out.push(`  tool calls: ${fmt(m.toolCalls)} (${fmt(m.toolResults)} with their result; ${fmt(m.syntheticResults)} with none recorded in Letta, marked as errors)`);
    out.push(`  summaries: ${fmt(m.summaries)}${r.dryRun ? '' : ` (${fmt(m.summariesAdded)} added, ${fmt(m.compacted)} earlier messages marked as covered by them)`}`);
  } else {
    out.push('Messages: not copied (set MIGRATE_MESSAGES=true or pass --messages)');
  }
  out.push(`Archival passages: ${fmt(r.passages.letta)}${r.dryRun ? '' : ` (${fmt(r.passages.added)} added, ${fmt(r.passages.alreadyPresent)} already present)`}`);
  const skipped = Object.entries(m.skipped);
  if (skipped.length > 0) {
    out.push('Skipped:');
    for (const [reason, n] of skipped.sort((a, b) => b[1] - a[1])) out.push(`  ${fmt(n).padStart(7)}  ${reason}`);
  }
  for (const note of r.limitations) out.push(`Note: ${note}`);
  if (!r.dryRun) out.push('Next: lares migrate --verify, then USE_DIRECT_LLM=true in .env and restart Lares.');
  return `${out.join('\n')}\n`;
}

export function formatVerify(r: VerifyReport): string {
  const out: string[] = [];
  out.push(`Base instructions: ${fmt(r.baseInstructions.chars)} characters`);
  out.push('Memory blocks:');
  for (const b of r.blocks) out.push(`  ${b.label}: ${fmt(b.chars)} chars${b.identical === undefined ? '' : b.identical ? ' (identical to Letta)' : ` (Letta has ${fmt(b.lettaChars ?? 0)})`}`);
  out.push(`Messages: ${fmt(r.messages.stored)} (${fmt(r.messages.compacted)} covered by ${fmt(r.messages.summaries)} summaries)${r.messages.expectedFromLetta === undefined ? '' : `; from Letta: ${fmt(r.messages.expectedFromLetta)} expected, ${fmt(r.messages.missing ?? 0)} missing`}`);
  out.push('Newest messages:');
  for (const m of r.newest) out.push(`  ${m.createdAt}  ${m.role.padEnd(9)}  ${m.preview.replace(/\s+/g, ' ')}`);
  out.push(`Archival passages: ${fmt(r.passages.stored)}${r.passages.letta === undefined ? '' : `; Letta has ${fmt(r.passages.letta)}, ${fmt(r.passages.missing ?? 0)} missing`}`);
  out.push(r.ok ? 'OK: everything from Letta is in Lares.' : `PROBLEMS:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
  return `${out.join('\n')}\n`;
}
