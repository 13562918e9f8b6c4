// `lares migrate`: copies a Letta agent into the Lares memory store.
// Read-only against Letta. The agent and its blocks are fetched before the store is opened,
// so a wrong key or agent id writes nothing. Messages go in one transaction per page and
// are idempotent by source_ref: a second run adds nothing, an interrupted run resumes.
import { LaresError } from '../errors.ts';
import type { MemoryStore } from '../memory/store.ts';
import { DEFAULT_CONVERSATION } from '../memory/store.ts';
import { LettaHistoryConverter, type ConvertStats, type ConvertedSummary } from './convert.ts';
import type { MigrationSource } from './source.ts';
import { stripMemorySection } from './system-prompt.ts';
import type { LettaBlock } from './types.ts';

export const BASE_INSTRUCTIONS_META = 'base_instructions';

/** Characters as Letta (Python len) and SQLite LENGTH() count them: code points, not UTF-16 units. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
export const MIGRATION_ACTOR = 'migration';

export interface MigrationProgress { phase: 'messages' | 'passages'; items: number; pages: number; added: number; ratePerSecond: number }

export interface MigrateOptions {
  source: MigrationSource;
  /** opened only after the agent and its blocks were read (so failures there write nothing) */
  openStore?: () => Promise<MemoryStore>;
  messages: boolean;
  dryRun?: boolean;
  pageSize?: number;
  /** replace blocks that were changed in Lares since they were created */
  overwriteBlocks?: boolean;
  onProgress?(progress: MigrationProgress): void;
}

export type BlockAction = 'created' | 'updated' | 'unchanged' | 'kept: changed in Lares since (use --overwrite-blocks)' | 'would copy';

export interface MigrationReport {
  source: string;
  agent: { id: string; name: string | null };
  dryRun: boolean;
  baseInstructions: { chars: number; action: 'set' | 'unchanged' | 'would set' | 'none in Letta' };
  blocks: Array<{ label: string; chars: number; limit: number; readOnly: boolean; description: string; action: BlockAction }>;
  messages: {
    included: boolean;
    lettaItems: number;
    lettaRows: number;
    lettaByType: Record<string, number>;
    converted: number;
    added: number;
    alreadyPresent: number;
    byRole: ConvertStats['messagesByRole'];
    events: Record<string, number>;
    toolCalls: number;
    toolResults: number;
    syntheticResults: number;
    summaries: number;
    summariesAdded: number;
    compacted: number;
    skipped: Record<string, number>;
  };
  passages: { letta: number; added: number; alreadyPresent: number };
  limitations: string[];
  durationMs: number;
}

export async function runMigration(options: MigrateOptions): Promise<MigrationReport> {
  const started = Date.now();
  const { source } = options;
  const pageSize = options.pageSize ?? 100;
  const dryRun = options.dryRun ?? false;

  // 1. read what we need before writing anything
  const agent = await source.agent();
  const lettaBlocks = await source.blocks();
  const baseInstructions = stripMemorySection(agent.system ?? '');

  const report: MigrationReport = {
    source: source.description,
    agent: { id: agent.id, name: agent.name ?? null },
    dryRun,
    baseInstructions: { chars: charCount(baseInstructions), action: baseInstructions ? (dryRun ? 'would set' : 'set') : 'none in Letta' },
    blocks: [],
    messages: {
      included: options.messages, lettaItems: 0, lettaRows: 0, lettaByType: {}, converted: 0, added: 0, alreadyPresent: 0,
      byRole: { user: 0, assistant: 0, system: 0 }, events: {}, toolCalls: 0, toolResults: 0, syntheticResults: 0,
      summaries: 0, summariesAdded: 0, compacted: 0, skipped: {},
    },
    passages: { letta: 0, added: 0, alreadyPresent: 0 },
    limitations: [...source.limitations],
    durationMs: 0,
  };
  if (!options.messages) report.limitations.push('the message history was not copied (set MIGRATE_MESSAGES=true or pass --messages)');

  let store: MemoryStore | undefined;
  if (!dryRun) {
    if (!options.openStore) throw new Error('runMigration needs openStore unless dryRun is set');
    store = await options.openStore();
  }

  // 2. base instructions and blocks
  if (store && baseInstructions) {
    const current = await store.getMeta(BASE_INSTRUCTIONS_META);
    if (current === baseInstructions) report.baseInstructions.action = 'unchanged';
    else await store.setMeta(BASE_INSTRUCTIONS_META, baseInstructions);
  }
  for (const b of lettaBlocks) report.blocks.push(await copyBlock(b, store, options.overwriteBlocks ?? false));

  // 3. the message history, page by page
  const converter = new LettaHistoryConverter({ refPrefix: source.refPrefix });
  if (options.messages) {
    const existingSummaries = store ? new Set((await store.listSummaries()).map((s) => s.sourceRef).filter((r): r is string => r !== null)) : new Set<string>();
    const compaction = { boundary: undefined as number | undefined };
    let pages = 0;
    const importPage = async (out: ReturnType<LettaHistoryConverter['push']>) => {
      report.messages.converted += out.messages.length;
      if (!store || out.messages.length === 0 && out.summaries.length === 0) return;
      const result = await store.importBatch({ messages: out.messages.map((m) => ({ ...m, conversationId: DEFAULT_CONVERSATION })) });
      report.messages.added += result.messagesAdded;
      report.messages.alreadyPresent += result.skippedExisting;
      if (compaction.boundary === undefined && out.messages.length > 0) {
        compaction.boundary = (await store.findMessageBySourceRef(out.messages[0].sourceRef))?.id;
      }
      for (const summary of out.summaries) await importSummary(store, summary, source.refPrefix, existingSummaries, compaction, report);
    };
    try {
      for await (const page of source.messagePages(pageSize)) {
        pages++;
        await importPage(converter.push(page));
        options.onProgress?.({ phase: 'messages', items: converter.stats.lettaItems, pages, added: report.messages.added, ratePerSecond: converter.stats.lettaItems / Math.max(0.001, (Date.now() - started) / 1000) });
      }
    } catch (error) {
      if (store && pages > 0 && error instanceof LaresError) {
        throw new LaresError(error.code, `${error.message}\nEverything read before that is saved (${fmtCount(report.messages.added)} messages added in this run); running lares migrate again resumes without duplicates.`, { cause: error });
      }
      throw error;
    }
    await importPage(converter.finish());
    const s = converter.stats;
    Object.assign(report.messages, {
      lettaItems: s.lettaItems, lettaRows: s.lettaRows, lettaByType: s.byLettaType, byRole: s.messagesByRole, events: s.events,
      toolCalls: s.toolCalls, toolResults: s.toolResults, syntheticResults: s.syntheticResults, summaries: s.summaries, skipped: s.skipped,
    });
  }

  // 4. archival memory
  let passagePages = 0;
  for await (const page of source.passagePages(pageSize)) {
    passagePages++;
    report.passages.letta += page.length;
    if (store) {
      const result = await store.importBatch({
        passages: page.map((p) => ({ text: p.text, tags: p.tags ?? [], createdAt: p.created_at ? new Date(p.created_at).toISOString() : undefined, sourceRef: `${source.refPrefix}:passage:${p.id}` })),
      });
      report.passages.added += result.passagesAdded;
      report.passages.alreadyPresent += result.skippedExisting;
    }
    options.onProgress?.({ phase: 'passages', items: report.passages.letta, pages: passagePages, added: report.passages.added, ratePerSecond: 0 });
  }

  if (store) await store.setMeta('letta_migration', JSON.stringify({ agentId: agent.id, source: source.description, finishedAt: new Date().toISOString() }));
  report.durationMs = Date.now() - started;
  return report;
}

function fmtCount(n: number): string { return n.toLocaleString('en-US'); }

async function copyBlock(b: LettaBlock, store: MemoryStore | undefined, overwrite: boolean): Promise<MigrationReport['blocks'][number]> {
  const wanted = { label: b.label, content: b.value ?? '', description: b.description ?? '', charLimit: b.limit ?? Math.max(5000, charCount(b.value ?? '')), readOnly: b.read_only ?? false };
  const entry = { label: wanted.label, chars: charCount(wanted.content), limit: wanted.charLimit, readOnly: wanted.readOnly, description: wanted.description, action: 'would copy' as BlockAction };
  if (!store) return entry;
  const current = await store.getBlock(b.label);
  if (current && current.content === wanted.content && current.description === wanted.description && current.charLimit === wanted.charLimit && current.readOnly === wanted.readOnly) {
    return { ...entry, action: 'unchanged' };
  }
  if (current && !overwrite) {
    // replace only what nobody changed in Lares: the defaults of a fresh install or an earlier migration
    const history = await store.blockHistory(b.label);
    const touched = history.some((v) => v.actor !== 'init' && v.actor !== MIGRATION_ACTOR);
    if (touched) return { ...entry, action: 'kept: changed in Lares since (use --overwrite-blocks)' };
  }
  await store.putBlock(wanted, MIGRATION_ACTOR);
  return { ...entry, action: current ? 'updated' : 'created' };
}

/**
 * A Letta summary alert replaced the messages before it in Letta's context, so it becomes a
 * Lares summary that compacts the migrated messages since the previous one (never deleted,
 * still searchable). Idempotent by the summary's source_ref.
 */
async function importSummary(store: MemoryStore, summary: ConvertedSummary, refPrefix: string, existing: Set<string>, compaction: { boundary: number | undefined }, report: MigrationReport): Promise<void> {
  const alert = await store.findMessageBySourceRef(summary.messageRef);
  if (!alert) return;
  const start = compaction.boundary ?? alert.id;
  compaction.boundary = alert.id;
  if (existing.has(summary.summaryRef)) return;
  // only messages from this Letta agent: a later run can find messages written in direct mode
  // between two of its rows (migrate, use Lares, roll back, migrate again), and Letta's summary
  // knows nothing of those
  // ids only: with few summaries in a long history one alert covers most of it
  const covered = alert.id > start ? await store.uncompactedIdsInRange(start, alert.id - 1, DEFAULT_CONVERSATION, `${refPrefix}:`) : [];
  if (covered.length > 0) {
    await store.compact({ summary: summary.summary, startMessageId: covered[0], endMessageId: covered.at(-1)!, createdAt: summary.createdAt, sourceRef: summary.summaryRef, conversationId: DEFAULT_CONVERSATION }, covered);
  } else {
    await store.importBatch({ summaries: [{ summary: summary.summary, startMessageId: null, endMessageId: null, createdAt: summary.createdAt, sourceRef: summary.summaryRef, conversationId: DEFAULT_CONVERSATION }] });
  }
  existing.add(summary.summaryRef);
  report.messages.summariesAdded++;
  report.messages.compacted += covered.length;
}
