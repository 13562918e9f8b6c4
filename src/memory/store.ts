// The memory store interface. SQLite (default) and PostgreSQL implement it; the agent only sees this.
import type { ContentBlock } from '../llm/content.ts';
import type { ToolStateStore } from './tool-state.ts';

export const DEFAULT_CONVERSATION = 'default';

export interface MemoryBlock {
  label: string;
  content: string;
  description: string;
  charLimit: number;
  readOnly: boolean;
  updatedAt: string;
}

export interface BlockVersion {
  id: number;
  label: string;
  content: string;
  /** who made the change: 'agent:<tool>', 'migration', 'user', 'init' ... */
  actor: string;
  createdAt: string;
}

/**
 * role 'user' and 'assistant' are API messages replayed to the model.
 * role 'system' is an event kept for the record (a Letta heartbeat, a restart note)
 * and never shown to the model as the person speaking.
 */
export type MessageRole = 'user' | 'assistant' | 'system';

export interface NewMessage {
  conversationId?: string;
  role: MessageRole;
  blocks: ContentBlock[];
  /** readable text; derived from blocks when omitted */
  content?: string;
  createdAt?: string;
  sourceRef?: string | null;
  /** extra facts kept with the message (Letta reasoning, message type, Discord author...) */
  metadata?: Record<string, unknown> | null;
  tokenCount?: number | null;
}

export interface StoredMessage {
  id: number;
  conversationId: string;
  role: MessageRole;
  content: string;
  blocks: ContentBlock[];
  createdAt: string;
  tokenCount: number | null;
  compactedBy: number | null;
  sourceRef: string | null;
  metadata: Record<string, unknown> | null;
}

export interface Summary {
  id: number;
  conversationId: string;
  summary: string;
  startMessageId: number | null;
  endMessageId: number | null;
  tokenCount: number | null;
  createdAt: string;
  sourceRef: string | null;
}

export interface NewSummary {
  conversationId?: string;
  summary: string;
  startMessageId: number | null;
  endMessageId: number | null;
  tokenCount?: number | null;
  createdAt?: string;
  sourceRef?: string | null;
}

export interface Passage {
  id: number;
  text: string;
  tags: string[];
  createdAt: string;
  sourceRef: string | null;
}

export interface NewPassage { text: string; tags?: string[]; createdAt?: string; sourceRef?: string | null }

export interface SearchHit { id: number; role: MessageRole; content: string; createdAt: string; score: number; compacted: boolean }
export interface PassageHit extends Passage { score: number }

export interface MessageSearchOptions {
  conversationId?: string;
  roles?: MessageRole[];
  limit?: number;
  startDate?: string;
  endDate?: string;
}

/** What the recall index holds: conversation messages, compaction summaries, archival passages. */
export type RecallKind = 'message' | 'summary' | 'passage';

export interface RecallFilters {
  /** default: the default conversation; '*': every conversation */
  conversationId?: string;
  /** messages only */
  roles?: MessageRole[];
  startDate?: string;
  endDate?: string;
  /** passages only: every one of these tags */
  tags?: string[];
}

/** A document's id and its score in one ranking (higher is better). */
export interface RankedId { id: number; score: number }

/** A stored vector (see src/recall/vector-codec.ts for the encoding). */
export interface VectorRow { id: number; vector: Uint8Array }

/** A document the current embedder has no vector for yet. */
export interface PendingDoc { id: number; text: string; conversationId: string | null }

export interface NewVector { id: number; vector: Uint8Array; cluster: number | null; conversationId: string | null }

export interface RecallStats { messages: number; summaries: number; passages: number; embedded: number; stale: number; contextThrough: number; lastMessageId: number }

export interface UsageRecord {
  conversationId?: string;
  /** a turn's request (default) or a compaction summary call */
  kind?: 'turn' | 'compaction';
  model: string;
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  /** tokens of the request as the API counted them (input + cache read + cache write) */
  requestTokens?: number;
  /** the message id the request ended with, so later estimates only count what is new */
  lastMessageId?: number | null;
  createdAt?: string;
  /** who served the call: 'anthropic', 'openai' (any OpenAI-compatible server) ... */
  provider?: string;
  /** what the call was for: the turn's source ('terminal', 'discord', 'perch', 'job', 'approval', 'system') */
  source?: string;
}

export interface StoredUsage extends Required<Omit<UsageRecord, 'conversationId' | 'lastMessageId' | 'requestTokens' | 'kind' | 'provider' | 'source'>> {
  kind: 'turn' | 'compaction';
  id: number;
  conversationId: string;
  requestTokens: number;
  lastMessageId: number | null;
  /** null for calls recorded before these were kept */
  provider: string | null;
  source: string | null;
}

/** Model calls of one UTC day, provider, model, kind and source, added up (MemoryStore.usageSummary). */
export interface UsageGroup {
  /** UTC day of the calls, YYYY-MM-DD */
  day: string;
  provider: string | null;
  model: string;
  kind: 'turn' | 'compaction';
  source: string | null;
  calls: number;
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
}

/** Stored UTC ISO times: since inclusive, until exclusive. */
export interface UsageRange { since?: string; until?: string }

export interface ImportBatch {
  messages?: NewMessage[];
  summaries?: NewSummary[];
  passages?: NewPassage[];
}

export interface ImportResult { messagesAdded: number; summariesAdded: number; passagesAdded: number; skippedExisting: number }

export interface StoreCounts { blocks: number; messages: number; compactedMessages: number; summaries: number; passages: number }

export interface MemoryStore {
  readonly kind: 'sqlite' | 'postgres';
  /** the approval queue, events, jobs, shell allowlist, workers and leases (tool-state.ts) */
  readonly toolState: ToolStateStore;

  // memory blocks
  listBlocks(): Promise<MemoryBlock[]>;
  getBlock(label: string): Promise<MemoryBlock | undefined>;
  /** Create or replace a block (definition and content); records a version. */
  putBlock(block: Omit<MemoryBlock, 'updatedAt'> & { updatedAt?: string }, actor: string): Promise<MemoryBlock>;
  /** Change only a block's content; records a version. Throws if the block does not exist. */
  setBlockContent(label: string, content: string, actor: string): Promise<MemoryBlock>;
  blockHistory(label: string): Promise<BlockVersion[]>;

  // messages: appended in one transaction, ids increase with insertion order
  appendMessages(messages: NewMessage[]): Promise<StoredMessage[]>;
  getMessage(id: number): Promise<StoredMessage | undefined>;
  /** Messages not yet compacted, oldest first (the context's recent history). */
  uncompactedMessages(conversationId?: string): Promise<StoredMessage[]>;
  /** Messages by id range (inclusive), oldest first. */
  messagesInRange(startId: number, endId: number, conversationId?: string): Promise<StoredMessage[]>;
  /**
   * Ids (only) of the uncompacted messages in an id range, oldest first, optionally only those whose
   * source_ref starts with `sourceRefPrefix`: a range can span most of a long history, so no rows.
   */
  uncompactedIdsInRange(startId: number, endId: number, conversationId?: string, sourceRefPrefix?: string): Promise<number[]>;
  /** The newest messages, newest first. */
  recentMessages(limit: number, conversationId?: string): Promise<StoredMessage[]>;
  searchMessages(query: string, options?: MessageSearchOptions): Promise<SearchHit[]>;
  findMessageBySourceRef(sourceRef: string): Promise<StoredMessage | undefined>;
  setMessageTokenCount(id: number, tokenCount: number): Promise<void>;

  // summaries: writing one marks its range compacted, in the same transaction; nothing is deleted
  compact(summary: NewSummary, messageIds: number[]): Promise<Summary>;
  latestSummary(conversationId?: string): Promise<Summary | undefined>;
  listSummaries(conversationId?: string): Promise<Summary[]>;

  // archival memory
  insertPassage(passage: NewPassage): Promise<Passage>;
  searchPassages(query: string, options?: { tags?: string[]; limit?: number }): Promise<PassageHit[]>;
  listPassages(): Promise<Passage[]>;
  /** Deletes a passage with its search index entries and vector (the owner's choice); false when there is none. */
  deletePassage(id: number): Promise<boolean>;

  /** Messages by id, in the order asked (ids not found are left out). */
  messagesByIds(ids: number[]): Promise<StoredMessage[]>;
  summariesByIds(ids: number[]): Promise<Summary[]>;
  passagesByIds(ids: number[]): Promise<Passage[]>;

  // recall index (src/recall/ builds hybrid search from these; both stores rank alike)
  /** BM25 over the stemmed keyword index (a message's own text, and its neighbours' at a lower weight), OR-ed terms. */
  recallKeyword(kind: RecallKind, terms: string[], filters: RecallFilters, limit: number): Promise<RankedId[]>;
  /**
   * Stored vectors of one embedder model, filtered like the documents; only the given clusters
   * (and vectors not yet in one) when asked; a page (ids above afterId, in id order) when asked.
   */
  recallVectors(kind: RecallKind, model: string, filters: RecallFilters, clusters?: number[], page?: { afterId: number; limit: number }): Promise<VectorRow[]>;
  /** Documents with no vector of this model yet (or one of another model), oldest first, ids above afterId. */
  recallPending(kind: RecallKind, model: string, limit: number, afterId?: number): Promise<PendingDoc[]>;
  putRecallVectors(kind: RecallKind, model: string, rows: NewVector[]): Promise<void>;
  /**
   * The words around each message (its session neighbours) and its session (the id of the
   * session's first message) for the keyword index; the named sessions' own keyword documents
   * (all their messages) are rebuilt; advances contextThrough. One transaction.
   */
  setRecallContext(rows: Array<{ id: number; context: string; session: number }>, contextThrough: number): Promise<void>;
  /** How many documents hold each term (stemmed like the index), counting at most `cap`. */
  recallTermCounts(kind: RecallKind, terms: string[], cap: number): Promise<number[]>;
  /** BM25 of whole sessions (a session = a conversation's messages without a long pause), best first; id = session id. */
  recallSessionKeyword(terms: string[], filters: RecallFilters, limit: number): Promise<RankedId[]>;
  /** The session of each message that has one yet. */
  recallSessionsOf(messageIds: number[]): Promise<Map<number, number>>;
  recallStats(model: string | undefined): Promise<RecallStats>;
  /** Starts the recall index again: the keyword index from the stored text, and with 'all' the vectors too. */
  resetRecallIndex(scope: 'keywords' | 'all'): Promise<void>;
  /** Cluster centres of the vector index (empty before it is large enough to need them). */
  recallCentroids(kind: RecallKind, model: string): Promise<Uint8Array[]>;
  /** Replaces the centres and every vector's cluster in one transaction. */
  setRecallCentroids(kind: RecallKind, model: string, centroids: Uint8Array[], assignments: Array<{ id: number; cluster: number }>): Promise<void>;

  // usage of model calls
  recordUsage(usage: UsageRecord): Promise<void>;
  /** the last turn request's usage (compaction calls are not "the last request") */
  lastUsage(conversationId?: string): Promise<StoredUsage | undefined>;
  /** every call, compaction included: what the conversation cost */
  usageTotals(conversationId?: string): Promise<{ calls: number; inputTokens: number; cacheReadTokens: number; cacheWriteTokens: number; outputTokens: number }>;
  /** every call of every conversation in the range, added up per UTC day, provider, model, kind and source (ordered by those) */
  usageSummary(options: UsageRange): Promise<UsageGroup[]>;

  // small key/value state (last seen Discord message, last start time, base instructions...)
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /** Sets the key only if it is absent, atomically: true when this call set it (a claim among workers). */
  claimMeta(key: string, value: string): Promise<boolean>;
  deleteMeta(key: string): Promise<void>;

  /** Import rows idempotently in one transaction: rows whose sourceRef exists already are skipped. */
  importBatch(batch: ImportBatch): Promise<ImportResult>;

  counts(): Promise<StoreCounts>;
  close(): Promise<void>;

  /**
   * Stores that several processes share (PostgreSQL) serialise a conversation's turns across
   * workers with this; a single SQLite file is served by one process, whose queue suffices.
   */
  withConversationLock?<T>(conversationId: string, fn: () => Promise<T>): Promise<T>;
}
