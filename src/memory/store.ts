// The memory store interface. SQLite (default) and PostgreSQL implement it; the agent only sees this.
import type { ContentBlock } from '../llm/content.ts';

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
}

export interface StoredUsage extends Required<Omit<UsageRecord, 'conversationId' | 'lastMessageId' | 'requestTokens' | 'kind'>> {
  kind: 'turn' | 'compaction';
  id: number;
  conversationId: string;
  requestTokens: number;
  lastMessageId: number | null;
}

export interface ImportBatch {
  messages?: NewMessage[];
  summaries?: NewSummary[];
  passages?: NewPassage[];
}

export interface ImportResult { messagesAdded: number; summariesAdded: number; passagesAdded: number; skippedExisting: number }

export interface StoreCounts { blocks: number; messages: number; compactedMessages: number; summaries: number; passages: number }

export interface MemoryStore {
  readonly kind: 'sqlite' | 'postgres';

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

  // usage of model calls
  recordUsage(usage: UsageRecord): Promise<void>;
  /** the last turn request's usage (compaction calls are not "the last request") */
  lastUsage(conversationId?: string): Promise<StoredUsage | undefined>;
  /** every call, compaction included: what the conversation cost */
  usageTotals(conversationId?: string): Promise<{ calls: number; inputTokens: number; cacheReadTokens: number; cacheWriteTokens: number; outputTokens: number }>;

  // small key/value state (last seen Discord message, last start time, base instructions...)
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /** Sets the key only if it is absent, atomically: true when this call set it (a claim among workers). */
  claimMeta(key: string, value: string): Promise<boolean>;

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
