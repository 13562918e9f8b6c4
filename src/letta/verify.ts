// `lares migrate --verify`: the seed's step-2 checks (blocks with their lengths, the message
// count, the five newest messages) and, when the Letta source is reachable, a comparison with
// it: every block value identical, every message and passage Letta has present in Lares.
import type { MemoryStore } from '../memory/store.ts';
import { LettaHistoryConverter } from './convert.ts';
import { BASE_INSTRUCTIONS_META, charCount } from './migrate.ts';
import type { MigrationSource } from './source.ts';

export interface VerifyReport {
  ok: boolean;
  problems: string[];
  baseInstructions: { chars: number };
  blocks: Array<{ label: string; chars: number; lettaChars?: number; identical?: boolean }>;
  messages: {
    stored: number; compacted: number; summaries: number;
    expectedFromLetta?: number; missing?: number; missingExamples?: string[];
    summariesFromLetta?: number; summariesMissing?: number;
  };
  newest: Array<{ role: string; createdAt: string; preview: string }>;
  passages: { stored: number; letta?: number; missing?: number };
}

export async function verifyMigration(store: MemoryStore, source: MigrationSource | undefined, options: { messages: boolean; pageSize?: number }): Promise<VerifyReport> {
  const problems: string[] = [];
  const counts = await store.counts();
  const blocks = await store.listBlocks();
  const report: VerifyReport = {
    ok: true,
    problems,
    baseInstructions: { chars: charCount((await store.getMeta(BASE_INSTRUCTIONS_META)) ?? '') },
    blocks: blocks.map((b) => ({ label: b.label, chars: charCount(b.content) })),
    messages: { stored: counts.messages, compacted: counts.compactedMessages, summaries: counts.summaries },
    newest: (await store.recentMessages(5)).map((m) => ({ role: m.role, createdAt: m.createdAt, preview: m.content.slice(0, 50) })),
    passages: { stored: counts.passages },
  };
  if (blocks.length === 0) problems.push('no memory blocks in the database');

  if (source) {
    const lettaBlocks = await source.blocks();
    for (const lb of lettaBlocks) {
      const entry = report.blocks.find((b) => b.label === lb.label);
      if (!entry) { problems.push(`block ${lb.label} is in Letta but not in Lares`); continue; }
      const mine = blocks.find((b) => b.label === lb.label)!;
      entry.lettaChars = charCount(lb.value ?? '');
      entry.identical = mine.content === (lb.value ?? '');
      if (!entry.identical) problems.push(`block ${lb.label} differs from Letta (${entry.chars} vs ${entry.lettaChars} characters)`);
    }
    if (options.messages) {
      const converter = new LettaHistoryConverter({ refPrefix: source.refPrefix });
      const summaryRefs = new Set((await store.listSummaries()).map((s) => s.sourceRef));
      let expected = 0;
      let summaries = 0;
      let summariesMissing = 0;
      const missing: string[] = [];
      const check = async (out: ReturnType<LettaHistoryConverter['push']>) => {
        for (const m of out.messages) {
          expected++;
          if (!(await store.findMessageBySourceRef(m.sourceRef))) missing.push(m.sourceRef);
        }
        for (const s of out.summaries) {
          summaries++;
          if (!summaryRefs.has(s.summaryRef)) summariesMissing++;
        }
      };
      for await (const page of source.messagePages(options.pageSize ?? 100)) await check(converter.push(page));
      await check(converter.finish());
      Object.assign(report.messages, { expectedFromLetta: expected, missing: missing.length, summariesFromLetta: summaries, summariesMissing });
      if (missing.length > 0) {
        report.messages.missingExamples = missing.slice(0, 5);
        problems.push(`${missing.length} of ${expected} messages from Letta are missing in Lares (run lares migrate again)`);
      }
      if (summariesMissing > 0) problems.push(`${summariesMissing} of ${summaries} Letta summaries are missing in Lares (run lares migrate again)`);
    }
    const stored = new Set((await store.listPassages()).map((p) => p.sourceRef));
    let letta = 0;
    let missing = 0;
    for await (const page of source.passagePages(options.pageSize ?? 100)) {
      for (const p of page) { letta++; if (!stored.has(`${source.refPrefix}:passage:${p.id}`)) missing++; }
    }
    report.passages.letta = letta;
    report.passages.missing = missing;
    if (missing > 0) problems.push(`${missing} of ${letta} archival passages from Letta are missing in Lares`);
  }
  report.ok = problems.length === 0;
  return report;
}
