// lares reindex: brings the recall index of an existing database up to date (keyword context,
// the embedder's vectors, clusters), resumable at any point; --full rebuilds the keyword index,
// --embeddings also every vector.
import type { Command } from 'commander';
import { openEmbedder } from '../embeddings/open-embedder.ts';
import { openStore } from '../memory/open-store.ts';
import { RecallIndexer, type IndexProgress, type IndexReport } from '../recall/indexer.ts';
import { loadCommandConfig } from './context-helpers.ts';
import { requireExistingDatabase } from './migrate.ts';
import { action, printJson } from './run.ts';

interface ReindexFlags { full?: boolean; embeddings?: boolean; json?: boolean }

export function registerReindexCommand(program: Command): void {
  program.command('reindex')
    .description('Bring the search index up to date: keyword context and the embedder\'s vectors (LARES_EMBEDDER) for every message, summary and passage. Safe to stop and run again: it goes on where it stopped.')
    .option('--full', 'rebuild the keyword index from the stored text first')
    .option('--embeddings', 'also compute every vector again (implies --full)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExamples:\n  lares reindex\n  LARES_EMBEDDER=ollama lares reindex --embeddings')
    .action(action(async (flags: ReindexFlags) => {
      const config = loadCommandConfig({ quiet: true });
      requireExistingDatabase(config, 'lares reindex');
      const store = await openStore(config);
      const embedder = await openEmbedder(config);
      const progress = progressLine();
      const controller = new AbortController();
      const onInterrupt = () => controller.abort();
      process.once('SIGINT', onInterrupt);
      try {
        if (flags.full || flags.embeddings) await store.resetRecallIndex(flags.embeddings ? 'all' : 'keywords');
        const report = await new RecallIndexer(store, embedder).run({ onProgress: progress.update, signal: controller.signal });
        progress.done();
        const stats = await store.recallStats(embedder?.model);
        const answer = { embedder: embedder?.model ?? 'none', ...report, messages: stats.messages, vectors: stats.embedded };
        if (flags.json) return printJson(answer);
        const embedded = report.embedded.message + report.embedded.summary + report.embedded.passage;
        process.stdout.write(`${formatReport(report, embedded)}\nIndex: ${stats.messages} messages, ${stats.embedded} vectors (${embedder?.model ?? 'no embedder: keyword search only'}).\n`);
      } catch (error) {
        progress.done();
        if (controller.signal.aborted) {
          process.stderr.write('lares reindex: interrupted; what was indexed is saved. Run lares reindex again to go on.\n');
          process.exitCode = 130;
          return;
        }
        throw error;
      } finally {
        process.off('SIGINT', onInterrupt);
        await embedder?.close?.();
        await store.close();
      }
    }));
}

function formatReport(r: IndexReport, embedded: number): string {
  return `Indexed in ${r.seconds.toFixed(1)} s: keyword context for ${r.contexts} messages; ${embedded} new vectors `
    + `(${r.embedded.message} messages, ${r.embedded.summary} summaries, ${r.embedded.passage} passages)`
    + `${embedded > 0 ? `, ${(embedded / r.seconds).toFixed(0)}/s` : ''}${r.clustered > 0 ? `; ${r.clustered} vectors clustered` : ''}.`;
}

/** One line on stderr, redrawn on a terminal, every few seconds otherwise (journald, pipes). */
export function progressLine(): { update(p: IndexProgress): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let started = performance.now();
  let phase = '';
  let last = 0;
  let open = false;
  return {
    update(p) {
      const now = performance.now();
      if (p.phase !== phase) { phase = p.phase; started = now; }
      const rate = p.done / Math.max(0.001, (now - started) / 1000);
      const line = `indexing ${p.phase}: ${p.done.toLocaleString('en-US')}/${p.total.toLocaleString('en-US')} (${rate.toFixed(0)}/s)`;
      if (tty) { process.stderr.write(`\r\u001b[2K${line}`); open = true; return; }
      if (now - last > 5000) { process.stderr.write(`${line}\n`); last = now; }
    },
    done() {
      if (open) process.stderr.write('\n');
      open = false;
    },
  };
}
