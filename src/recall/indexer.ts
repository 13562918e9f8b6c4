// Keeps the recall index complete: a message's keyword context (its neighbours' words), the
// embedder's vectors of messages, summaries and passages, and the clusters of a large vector
// index. It works in batches, each stored in its own transaction, so it can stop anywhere and
// resume (`lares reindex`, the end of `lares migrate`, and the background loop of a running Lares,
// which never makes a turn wait for it).
import type { Embedder } from '../embeddings/embedder.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import type { MemoryStore, NewVector, RecallKind, StoredMessage } from '../memory/store.ts';
import { IVF_MIN_VECTORS, clusterCount, nearest, trainClusters } from './clustering.ts';
import { gap } from './recall.ts';
import { CONTEXT_TURNS, SESSION_GAP_MS, SESSION_MAX_MESSAGES } from './settings.ts';
import { decodeVector, encodeVector } from './vector-codec.ts';

export type IndexPhase = 'context' | 'message' | 'summary' | 'passage' | 'clusters';

export interface IndexProgress { phase: IndexPhase; done: number; total: number }

export interface IndexReport { contexts: number; embedded: Record<'message' | 'summary' | 'passage', number>; clustered: number; seconds: number }

export interface IndexOptions {
  onProgress?: (progress: IndexProgress) => void;
  signal?: AbortSignal;
  /** for tests: the time "now" (a session still open gets provisional context) */
  now?: () => number;
}

const CONTEXT_BATCH = 500;
/** ids read around a batch to find its neighbours, even with other conversations in between */
const CONTEXT_MARGIN = CONTEXT_TURNS * 20;
const CONTEXT_PART_CHARS = 1000;
const EMBED_TEXT_CHARS = 2000;
/** the turns around a message add meaning to its vector; a little of each is enough, and costs less to embed */
const EMBED_NEIGHBOUR_CHARS = 200;

export class RecallIndexer {
  private readonly store: MemoryStore;
  private readonly embedder: Embedder | undefined;

  constructor(store: MemoryStore, embedder: Embedder | undefined) {
    this.store = store;
    this.embedder = embedder;
  }

  /** Brings the whole index up to date; safe to call again at any time (it only does what is missing). */
  async run(options: IndexOptions = {}): Promise<IndexReport> {
    const started = performance.now();
    const contexts = await this.indexContext(options);
    const report: IndexReport = { contexts, embedded: { message: 0, summary: 0, passage: 0 }, clustered: 0, seconds: 0 };
    if (this.embedder) {
      for (const kind of ['message', 'summary', 'passage'] as const) report.embedded[kind] = await this.embed(kind, options);
      report.clustered = await this.cluster('message', options);
    }
    report.seconds = (performance.now() - started) / 1000;
    return report;
  }

  /** Writes the keyword context of every message whose neighbours are known. */
  private async indexContext(options: IndexOptions): Promise<number> {
    const now = options.now ?? Date.now;
    const stats = await this.store.recallStats(undefined);
    let through = stats.contextThrough;
    const last = stats.lastMessageId;
    let written = 0;
    while (through < last) {
      options.signal?.throwIfAborted();
      const from = through + 1;
      const to = Math.min(last, through + CONTEXT_BATCH);
      const window = await this.store.messagesByIds(range(Math.max(1, from - CONTEXT_MARGIN), to + CONTEXT_MARGIN));
      const byConversation = new Map<string, StoredMessage[]>();
      for (const m of window) {
        const list = byConversation.get(m.conversationId) ?? [];
        list.push(m);
        byConversation.set(m.conversationId, list);
      }
      const known = await this.store.recallSessionsOf(window.filter((m) => m.id < from).map((m) => m.id));
      const rows: Array<{ id: number; context: string; session: number }> = [];
      let finalThrough = to;
      for (const list of byConversation.values()) {
        let session = 0;
        list.forEach((m, i) => {
          // a session starts after a long pause, or when it is full; messages indexed before keep theirs
          session = known.get(m.id) ?? (i === 0 || gap(list[i - 1].createdAt, m.createdAt) || m.id - session >= SESSION_MAX_MESSAGES ? m.id : session);
          if (m.id < from || m.id > to) return;
          const { context, final } = contextOf(list, i, now());
          rows.push({ id: m.id, context, session });
          if (!final) finalThrough = Math.min(finalThrough, m.id - 1);
        });
      }
      // the last messages of an open session get provisional context now and are done again later
      await this.store.setRecallContext(rows, Math.max(through, finalThrough));
      written += rows.length;
      options.onProgress?.({ phase: 'context', done: to, total: last });
      if (finalThrough < to) break;
      through = to;
    }
    return written;
  }

  private async embed(kind: RecallKind, options: IndexOptions): Promise<number> {
    const embedder = this.embedder!;
    const stats = await this.store.recallStats(embedder.model);
    const total = { message: stats.messages, summary: stats.summaries, passage: stats.passages }[kind];
    let centres = (await this.store.recallCentroids(kind, embedder.model)).map(decodeVector);
    let done = 0;
    let afterId = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      let pending = await this.store.recallPending(kind, embedder.model, embedder.batchSize, afterId);
      // a message is embedded with the turns around it, so only once they are known
      if (kind === 'message') pending = pending.filter((d) => d.id <= stats.contextThrough);
      if (pending.length === 0) break;
      const texts = kind === 'message' ? await this.messageTexts(pending.map((d) => d.id)) : pending.map((d) => embeddingText(d.text));
      const vectors = await embedder.embed(texts, 'document');
      if (centres.length === 0 && kind === 'message') centres = (await this.store.recallCentroids(kind, embedder.model)).map(decodeVector);
      const rows: NewVector[] = pending.map((d, i) => ({ id: d.id, conversationId: d.conversationId, vector: encodeVector(vectors[i]), cluster: centres.length > 0 ? nearest(vectors[i], centres) : null }));
      await this.store.putRecallVectors(kind, embedder.model, rows);
      done += rows.length;
      afterId = pending[pending.length - 1].id;
      options.onProgress?.({ phase: kind, done, total: Math.max(total, done) });
    }
    return done;
  }

  /**
   * A message's embedding text: the turn before it, itself, and the turn after it (same session).
   * Measured on LoCoMo, a turn embedded alone is found half as often: "Researching adoption
   * agencies" only means something next to the question it answers.
   */
  private async messageTexts(ids: number[]): Promise<string[]> {
    const window = await this.store.messagesByIds(range(Math.max(1, ids[0] - CONTEXT_MARGIN), ids[ids.length - 1] + CONTEXT_MARGIN));
    const byConversation = new Map<string, StoredMessage[]>();
    for (const m of window) byConversation.set(m.conversationId, [...(byConversation.get(m.conversationId) ?? []), m]);
    const texts = new Map<number, string>();
    for (const list of byConversation.values()) {
      list.forEach((m, i) => {
        const before = i > 0 && !gap(list[i - 1].createdAt, m.createdAt) ? list[i - 1].content.slice(0, EMBED_NEIGHBOUR_CHARS) : '';
        const after = i + 1 < list.length && !gap(m.createdAt, list[i + 1].createdAt) ? list[i + 1].content.slice(0, EMBED_NEIGHBOUR_CHARS) : '';
        texts.set(m.id, [before, m.content.slice(0, EMBED_TEXT_CHARS), after].filter(Boolean).join('\n'));
      });
    }
    return ids.map((id) => embeddingText(texts.get(id) ?? ''));
  }

  /** Builds (or rebuilds, when the index has grown 4×) the clusters of a large vector index. */
  private async cluster(kind: RecallKind, options: IndexOptions): Promise<number> {
    const model = this.embedder!.model;
    const count = (await this.store.recallStats(model)).embedded;
    if (count < IVF_MIN_VECTORS) return 0;
    const existing = (await this.store.recallCentroids(kind, model)).length;
    const k = clusterCount(count);
    if (existing > 0 && k < existing * 2) return 0;
    const all = { conversationId: '*' };
    // a sample spread over the whole index trains the centres; then every vector is assigned
    const stride = Math.max(1, Math.floor(count / 20_000));
    const sample: Float32Array[] = [];
    const page = 5_000;
    let seen = 0;
    for (let afterId = 0; ;) {
      const rows = await this.store.recallVectors(kind, model, all, undefined, { afterId, limit: page });
      if (rows.length === 0) break;
      for (const row of rows) if (seen++ % stride === 0) sample.push(decodeVector(row.vector));
      afterId = rows[rows.length - 1].id;
    }
    const trained = trainClusters(sample, k);
    const assignments: Array<{ id: number; cluster: number }> = [];
    for (let afterId = 0; ;) {
      options.signal?.throwIfAborted();
      const rows = await this.store.recallVectors(kind, model, all, undefined, { afterId, limit: page });
      if (rows.length === 0) break;
      for (const row of rows) assignments.push({ id: row.id, cluster: trained.assign(decodeVector(row.vector)) });
      afterId = rows[rows.length - 1].id;
      options.onProgress?.({ phase: 'clusters', done: assignments.length, total: count });
    }
    await this.store.setRecallCentroids(kind, model, trained.centres.map(encodeVector), assignments);
    log().info({ event: 'recall_clusters', kind, vectors: count, clusters: trained.centres.length }, `clustered ${count} vectors around ${trained.centres.length} centres`);
    return assignments.length;
  }

  /**
   * Indexes in the background: soon after start, then every `intervalMs`, and soon after
   * `notify()`. Runs never overlap; a failure (an embedder that is down) is logged once per
   * outage and retried on the next run; `stop()` waits for the run in progress to end.
   */
  startBackground(options: { delayMs?: number; intervalMs?: number } = {}): { notify(): void; stop(): Promise<void> } {
    const delayMs = options.delayMs ?? 1_000;
    const intervalMs = options.intervalMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> | undefined;
    let stopped = false;
    let failing = false;
    const controller = new AbortController();
    const schedule = (ms: number) => {
      if (stopped) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(runOnce, ms).unref();
    };
    const runOnce = () => {
      timer = undefined;
      if (stopped || running) return;
      running = this.run({ signal: controller.signal })
        .then((report) => {
          failing = false;
          const embedded = report.embedded.message + report.embedded.summary + report.embedded.passage;
          if (embedded > 0 || report.clustered > 0) log().debug({ event: 'recall_indexed', ...report }, `indexed ${embedded} for recall`);
        })
        .catch((error) => {
          if (stopped || failing) return;
          failing = true;
          log().warn({ event: 'recall_index_failed', err: errorMessage(error) }, `recall indexing failed (keyword search still works; retrying every ${intervalMs / 1000} s): ${errorMessage(error)}`);
        })
        .finally(() => { running = undefined; schedule(intervalMs); });
    };
    schedule(delayMs);
    return {
      notify: () => { if (!running) schedule(delayMs); },
      stop: async () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        controller.abort();
        await running;
      },
    };
  }
}

/** The words around message i of one conversation's list: its session neighbours, and whether they are all known yet. */
function contextOf(list: StoredMessage[], i: number, now: number): { context: string; final: boolean } {
  const parts: string[] = [];
  for (let j = i - 1; j >= 0 && i - j <= CONTEXT_TURNS && !gap(list[j].createdAt, list[j + 1].createdAt); j--) parts.push(part(list[j].content));
  let following = 0;
  let closed = false;
  for (let j = i + 1; j < list.length && following < CONTEXT_TURNS; j++) {
    if (gap(list[j - 1].createdAt, list[j].createdAt)) { closed = true; break; }
    parts.push(part(list[j].content));
    following++;
  }
  const lastKnown = list[Math.min(list.length - 1, i + following)];
  const final = following === CONTEXT_TURNS || closed || now - Date.parse(lastKnown.createdAt) > SESSION_GAP_MS;
  return { context: parts.join('\n'), final };
}

function part(content: string): string {
  return content.length <= CONTEXT_PART_CHARS ? content : content.slice(0, CONTEXT_PART_CHARS);
}

/** What is embedded for a document: its text, cut where small models stop reading anyway. */
export function embeddingText(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat === '' ? '(empty)' : flat.slice(0, EMBED_TEXT_CHARS);
}

function range(from: number, to: number): number[] {
  const ids: number[] = [];
  for (let id = from; id <= to; id++) ids.push(id);
  return ids;
}
