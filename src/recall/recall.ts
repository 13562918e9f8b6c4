// Hybrid recall: the keyword ranking (stemmed BM25 over a message and its neighbours) fused with
// the dense ranking (the embedder's vectors), then each hit dressed with what the model needs to
// use it: its date, who said it, and the turns around it. Used by `lares search`,
// conversation_search and archival_memory_search. With no embedder (LARES_EMBEDDER=none), or when
// the embedder fails, it is the keyword ranking alone; a message not embedded yet is still found
// by its keywords.
import type { Embedder } from '../embeddings/embedder.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import type { MemoryStore, MessageRole, Passage, RankedId, RecallFilters, RecallKind, StoredMessage } from '../memory/store.ts';
import { denseRanking } from './dense-search.ts';
import { fuseScores } from './fusion.ts';
import { queryTerms } from './query-terms.ts';
import { CANDIDATES, COMMON_TERM_DOCS, DENSE_WEIGHT, HIT_CONTEXT_TURNS, SESSION_CANDIDATES, SESSION_GAP_MS, SESSION_WEIGHT } from './settings.ts';

export interface ContextTurn { id: number; role: MessageRole; content: string; createdAt: string }

export interface MessageHit {
  id: number;
  role: MessageRole;
  content: string;
  createdAt: string;
  score: number;
  compacted: boolean;
  sourceRef: string | null;
  /** the turns just before and after it in the same session, shortened */
  before: ContextTurn[];
  after: ContextTurn[];
}

export interface SummaryHit { id: number; summary: string; createdAt: string; startMessageId: number | null; endMessageId: number | null; score: number }
export interface PassageRecallHit extends Passage { score: number }

export type RecallMode = 'hybrid' | 'keyword' | 'dense';

export interface RecallOptions extends RecallFilters {
  limit?: number;
  /** attach neighbouring turns (default true) */
  withContext?: boolean;
  /** for benchmarks: one side alone */
  mode?: RecallMode;
}

const CONTEXT_CHARS = 200;

export class Recall {
  private readonly store: MemoryStore;
  private readonly embedder: Embedder | undefined;
  private embedderFailed = false;

  constructor(store: MemoryStore, embedder: Embedder | undefined) {
    this.store = store;
    this.embedder = embedder;
  }

  get embedderModel(): string | undefined {
    return this.embedder?.model;
  }

  async searchMessages(query: string, options: RecallOptions = {}): Promise<MessageHit[]> {
    const limit = options.limit ?? 10;
    const ranked = await this.rank('message', query, options, limit);
    const messages = await this.store.messagesByIds(ranked.map((r) => r.id));
    const scores = new Map(ranked.map((r) => [r.id, r.score]));
    const hits: MessageHit[] = [];
    for (const m of messages) {
      const around = options.withContext === false ? { before: [], after: [] } : await this.neighbours(m);
      hits.push({ id: m.id, role: m.role, content: m.content, createdAt: m.createdAt, score: scores.get(m.id) ?? 0, compacted: m.compactedBy !== null, sourceRef: m.sourceRef, ...around });
    }
    return hits;
  }

  async searchSummaries(query: string, options: RecallOptions = {}): Promise<SummaryHit[]> {
    const ranked = await this.rank('summary', query, options, options.limit ?? 5);
    const scores = new Map(ranked.map((r) => [r.id, r.score]));
    return (await this.store.summariesByIds(ranked.map((r) => r.id))).map((s) => ({
      id: s.id, summary: s.summary, createdAt: s.createdAt, startMessageId: s.startMessageId, endMessageId: s.endMessageId, score: scores.get(s.id) ?? 0,
    }));
  }

  async searchPassages(query: string, options: RecallOptions = {}): Promise<PassageRecallHit[]> {
    const ranked = await this.rank('passage', query, options, options.limit ?? 5);
    const scores = new Map(ranked.map((r) => [r.id, r.score]));
    return (await this.store.passagesByIds(ranked.map((r) => r.id))).map((p) => ({ ...p, score: scores.get(p.id) ?? 0 }));
  }

  private async rank(kind: RecallKind, query: string, options: RecallOptions, limit: number): Promise<RankedId[]> {
    const mode = options.mode ?? 'hybrid';
    const depth = Math.max(CANDIDATES, limit);
    const terms = mode === 'dense' ? [] : await this.withoutCommonTerms(kind, queryTerms(query));
    const keyword = mode === 'dense' ? [] : await this.store.recallKeyword(kind, terms, options, depth);
    const dense = mode === 'keyword' ? [] : await this.dense(kind, query, options, depth);
    const sessions = kind === 'message' && mode !== 'dense' ? await this.store.recallSessionKeyword(terms, options, SESSION_CANDIDATES) : [];
    const candidates = [...new Set([...keyword, ...dense].map((r) => r.id))];
    const sessionOf = sessions.length > 0 ? await this.store.recallSessionsOf(candidates) : new Map<number, number>();
    return fuseScores({ keyword, dense, sessions, sessionOf }, { dense: DENSE_WEIGHT, session: SESSION_WEIGHT }, limit);
  }

  /** Drops words that are in very many messages, when rarer ones are left (see COMMON_TERM_DOCS). */
  private async withoutCommonTerms(kind: RecallKind, terms: string[]): Promise<string[]> {
    if (terms.length < 2) return terms;
    const counts = await this.store.recallTermCounts(kind, terms, COMMON_TERM_DOCS + 1);
    const rare = terms.filter((_, i) => counts[i] <= COMMON_TERM_DOCS);
    return rare.length > 0 ? rare : terms;
  }

  private async dense(kind: RecallKind, query: string, filters: RecallFilters, depth: number): Promise<RankedId[]> {
    if (!this.embedder || query.trim() === '') return [];
    try {
      const [vector] = await this.embedder.embed([query], 'query');
      this.embedderFailed = false;
      return await denseRanking(this.store, kind, this.embedder.model, vector, filters, depth);
    } catch (error) {
      // search still answers from the keyword index; say so once per outage, not per query
      if (!this.embedderFailed) log().warn({ event: 'recall_embedder_failed', err: errorMessage(error) }, `semantic search is off until the embedder answers again: ${errorMessage(error)}`);
      this.embedderFailed = true;
      return [];
    }
  }

  /** Up to HIT_CONTEXT_TURNS turns on each side, same conversation, no session break between. */
  private async neighbours(m: StoredMessage): Promise<{ before: ContextTurn[]; after: ContextTurn[] }> {
    const span = HIT_CONTEXT_TURNS * 8;
    const around = await this.store.messagesInRange(m.id - span, m.id + span, m.conversationId);
    const at = around.findIndex((x) => x.id === m.id);
    const turn = (x: StoredMessage): ContextTurn => ({ id: x.id, role: x.role, createdAt: x.createdAt, content: shorten(x.content, CONTEXT_CHARS) });
    const before: ContextTurn[] = [];
    for (let i = at - 1; i >= 0 && before.length < HIT_CONTEXT_TURNS; i--) {
      if (gap(around[i].createdAt, around[i + 1].createdAt)) break;
      before.unshift(turn(around[i]));
    }
    const after: ContextTurn[] = [];
    for (let i = at + 1; i < around.length && after.length < HIT_CONTEXT_TURNS; i++) {
      if (gap(around[i - 1].createdAt, around[i].createdAt)) break;
      after.push(turn(around[i]));
    }
    return { before, after };
  }
}

export function gap(earlier: string, later: string): boolean {
  return Date.parse(later) - Date.parse(earlier) > SESSION_GAP_MS;
}

export function shorten(value: string, max: number): string {
  const flat = value.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
