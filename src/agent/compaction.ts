// Compaction: when the next request would pass COMPACT_THRESHOLD × CONTEXT_LIMIT, the oldest
// uncompacted messages are summarised until the context is near TARGET_AFTER_COMPACT × CONTEXT_LIMIT.
// Cuts never split a tool_use from its tool_result. The summary is stored with its range and the
// messages are marked compacted in one transaction: nothing is ever deleted, and
// conversation_search still finds every message. A long backlog is summarised in chunks,
// each folding in the previous summary (recursive summaries), each committed on its own.
import { blocksToText, type TextBlock, type ToolUseBlock } from '../llm/content.ts';
import { LlmError, type ModelProvider, type ModelRequest, type ModelResponse, type ModelTool } from '../llm/provider.ts';
import type { MemoryStore, StoredMessage, Summary } from '../memory/store.ts';
import { log } from '../log.ts';
import { estimateBlocksTokens, estimateRequestTokens, estimateTextTokens, type TokenCalibration } from './tokens.ts';

export interface CompactionSettings {
  /** the model that writes summaries (LARES_MODEL_COMPACTION; default the conversation model) */
  model: string;
  /** the conversation's context limit: the threshold and target are fractions of it */
  contextLimit: number;
  /** what the summary model's own context holds (less room for its reply), when its provider knows */
  summaryContextLimit?: () => Promise<number | undefined>;
  threshold: number;
  target: number;
}

export interface CompactionPlan {
  /** messages to summarise, oldest first */
  messages: StoredMessage[];
  tokensBefore: number;
  tokensAfter: number;
}

export interface CompactionResult {
  summaries: Summary[];
  messagesCompacted: number;
  tokensBefore: number;
  tokensAfter: number;
}

const SUMMARY_GUIDELINES = [
  'Write ONE updated summary that replaces the previous one. Keep, as compact bullet points under headings:',
  '- Facts about the person (name, preferences, people, routines, health, work, projects).',
  '- Decisions made and commitments or promises (who, what, by when).',
  '- Open tasks and questions still unresolved.',
  '- What was tried (tools used, what worked, what failed and why).',
  '- Lookup hints: distinctive keywords, names, dates and message ids that conversation_search can find later.',
  'Write in the first person as Lares. Be specific (names, dates, numbers). Do not invent anything.',
].join('\n');

const SUMMARY_SYSTEM = [
  'You maintain the long-term conversation summary of Lares, a personal AI companion.',
  'You will get the previous summary (if any) and a transcript of the next stretch of conversation.',
  SUMMARY_GUIDELINES,
].join('\n');

/**
 * The memory flush: before messages leave the context, the model may save what must outlive them
 * with these tools, in the same request that writes the summary (so it costs output tokens only).
 */
export const FLUSH_TOOLS = ['core_memory_append', 'core_memory_replace', 'memory_insert', 'memory_replace', 'archival_memory_insert'];

export interface MemoryFlush {
  /** definitions of the flush tools that exist, for a request that does not carry the turn's tools */
  definitions(): ModelTool[];
  call(name: string, input: Record<string, unknown>, conversationId: string): Promise<{ isError: boolean }>;
}

const FLUSH_GUIDELINES = [
  'First save what must outlive these messages, in this same reply, with tool calls: durable facts about the person (who they are, people in their life, preferences, plans)',
  'into the memory blocks (core_memory_append or memory_insert; memory_replace to correct), and specific details worth finding later (dates, names, numbers, what happened)',
  'with archival_memory_insert, one fact per passage. Only what is new and not already in the memory blocks; nothing at all is fine. Then write the summary as text.',
].join(' ');

const MAX_CHARS_PER_MESSAGE = 4000;
/** model calls one compaction may make; older chunks beyond this are indexed, not summarised */
const MAX_SUMMARY_CALLS = 4;

export class Compactor {
  private readonly store: MemoryStore;
  private readonly provider: ModelProvider;
  private readonly settings: CompactionSettings;
  private readonly calibration: TokenCalibration;
  private readonly flush: MemoryFlush | undefined;

  /** CONTEXT_LIMIT as configured; settings.contextLimit may be fitted below it to the model's window */
  private readonly configuredLimit: number;
  /** the summary model's limit, as last learned */
  private summaryWindowLimit: number | undefined;

  constructor(store: MemoryStore, provider: ModelProvider, settings: CompactionSettings, calibration: TokenCalibration, flush?: MemoryFlush) {
    this.store = store;
    this.provider = provider;
    this.settings = { ...settings };
    this.configuredLimit = settings.contextLimit;
    this.calibration = calibration;
    this.flush = flush;
  }

  /** A summary may take a tenth of the summary model's context (256 to 2,048 tokens), so it never crowds out the history. */
  get summaryMaxTokens(): number {
    return Math.min(2048, Math.max(256, Math.floor(this.summaryLimit * 0.1)));
  }

  /** Lowers the context limit to what the conversation model holds (a local server's window, learned late). */
  fitContextLimit(limit: number): void {
    const fitted = Math.min(this.configuredLimit, limit);
    if (fitted === this.settings.contextLimit) return;
    log().info({ event: 'context_limit_fitted', model: this.settings.model, contextLimit: fitted }, `compaction keeps requests under ${fitted} tokens (the model's window; CONTEXT_LIMIT is ${this.configuredLimit})`);
    this.settings.contextLimit = fitted;
  }

  /** CONTEXT_LIMIT, or less when the conversation model's window is smaller */
  get contextLimit(): number {
    return this.settings.contextLimit;
  }

  private get summaryLimit(): number {
    return Math.min(this.settings.contextLimit, this.summaryWindowLimit ?? Infinity);
  }

  get thresholdTokens(): number {
    return Math.floor(this.settings.contextLimit * this.settings.threshold);
  }

  get targetTokens(): number {
    return Math.floor(this.settings.contextLimit * this.settings.target);
  }

  messageTokens(message: StoredMessage): number {
    return this.calibration.tokens(message.tokenCount ?? estimateBlocksTokens(message.blocks));
  }

  /**
   * Picks the oldest messages to summarise so that `fixedTokens` (tools, system, summary)
   * plus what remains is at most `targetTokens`. Messages from `protectFromId` on (the turn in
   * progress) are never taken. A cut only falls before a message that is not a tool result.
   */
  plan(messages: StoredMessage[], fixedTokens: number, protectFromId: number | undefined, targetTokens = this.targetTokens): CompactionPlan {
    const sizes = messages.map((m) => (m.role === 'system' ? 0 : this.messageTokens(m)));
    const total = fixedTokens + sizes.reduce((a, b) => a + b, 0);
    if (total <= targetTokens) return { messages: [], tokensBefore: total, tokensAfter: total };
    let remaining = total;
    let bestCut = 0;
    let bestRemaining = total;
    for (let cut = 1; cut <= messages.length; cut++) {
      if (protectFromId !== undefined && messages[cut - 1].id >= protectFromId) break;
      remaining -= sizes[cut - 1];
      if (isSafeCut(messages, cut)) {
        bestCut = cut;
        bestRemaining = remaining;
        if (remaining <= targetTokens) break;
      }
    }
    return { messages: messages.slice(0, bestCut), tokensBefore: total, tokensAfter: bestRemaining };
  }

  /**
   * Summarises the planned messages; throws if the model call fails (the history is then untouched).
   * With `current` (the request the turn was about to send) the summary is asked for at the end of
   * that same request, so nearly all of its input is read from the prompt cache; otherwise (a
   * forced compaction, a backlog larger than the context) the messages go as a transcript.
   */
  async run(conversationId: string, plan: CompactionPlan, current?: ModelRequest): Promise<CompactionResult> {
    const summaries: Summary[] = [];
    let previous = await this.store.latestSummary(conversationId);
    this.summaryWindowLimit = (await this.settings.summaryContextLimit?.()) ?? this.summaryWindowLimit;
    if (current && plan.messages.length > 0 && this.fitsWithSummary(current)) {
      const text = await this.summariseInContext(conversationId, current).catch((error: unknown) => {
        // a summary model with a smaller window than it says (or than Lares knew): the transcript path fits it
        if (error instanceof LlmError && error.kind === 'context_exceeded') return '';
        throw error;
      });
      if (text) {
        const last = plan.messages[plan.messages.length - 1];
        const summary = await this.store.compact({
          conversationId, summary: text, startMessageId: previous?.startMessageId ?? plan.messages[0].id, endMessageId: last.id,
          tokenCount: this.calibration.tokens(estimateTextTokens(text)),
        }, plan.messages.map((m) => m.id));
        return this.done(conversationId, plan, [summary]);
      }
      log().warn({ event: 'compaction_in_context_empty', conversationId }, 'the in-context summary came back empty; summarising a transcript instead');
    }
    // a chunk's transcript shares the summary request with the previous summary, the memory blocks
    // and the flush tools: on a small summary model those take much of the window
    const overhead = this.calibration.tokens(estimateTextTokens(SUMMARY_SYSTEM) + estimateTextTokens(previous?.summary ?? '') + (this.flush ? await this.flushOverhead() : 0)) + this.summaryMaxTokens + (this.flush ? 1024 : 0) + 200;
    const chunkBudget = Math.max(500, Math.min(Math.floor(this.summaryLimit * 0.5), this.summaryLimit - overhead));
    // chunks are committed one by one: a chunk may only end where a cut is safe, or a failed later
    // chunk would leave a tool_result whose tool_use was already compacted
    const all = [...chunks(plan.messages, (m) => estimateTextTokens(renderForSummary(m)), chunkBudget, (i) => isSafeCut(plan.messages, i))];
    // a huge backlog (an imported history, a long outage of compaction) would cost one model call
    // per chunk: only the newest chunks are summarised; the older ones are indexed without a call
    // (kept in full, found by conversation_search), so one compaction costs at most a few calls
    const unsummarised = all.slice(0, Math.max(0, all.length - MAX_SUMMARY_CALLS)).flat();
    if (unsummarised.length > 0) {
      const text = indexNote(previous?.summary, unsummarised);
      previous = await this.store.compact({
        conversationId, summary: text, startMessageId: previous?.startMessageId ?? unsummarised[0].id,
        endMessageId: unsummarised[unsummarised.length - 1].id, tokenCount: this.calibration.tokens(estimateTextTokens(text)),
      }, unsummarised.map((m) => m.id));
      summaries.push(previous);
    }
    for (const chunk of all.slice(-MAX_SUMMARY_CALLS)) {
      const text = await this.summarise(conversationId, previous?.summary, chunk);
      const summary = await this.store.compact({
        conversationId,
        summary: text,
        startMessageId: previous?.startMessageId ?? chunk[0].id,
        endMessageId: chunk[chunk.length - 1].id,
        tokenCount: this.calibration.tokens(estimateTextTokens(text)),
      }, chunk.map((m) => m.id));
      summaries.push(summary);
      previous = summary;
    }
    return this.done(conversationId, plan, summaries);
  }

  /** What the memory blocks and the flush tools' definitions add to a transcript summary request. */
  private async flushOverhead(): Promise<number> {
    const blocks = (await this.store.listBlocks()).reduce((sum, b) => sum + estimateTextTokens(b.content) + 10, 0);
    return blocks + estimateRequestTokens({ tools: this.flush?.definitions() ?? [], system: [], messages: [] }).total;
  }

  private done(conversationId: string, plan: CompactionPlan, summaries: Summary[]): CompactionResult {
    const result = { summaries, messagesCompacted: plan.messages.length, tokensBefore: plan.tokensBefore, tokensAfter: plan.tokensAfter };
    log().info({ event: 'compaction', conversationId, ...result, summaries: summaries.map((s) => s.id) }, `compacted ${plan.messages.length} messages into ${summaries.length} summary step(s)`);
    return result;
  }

  /** The current request plus the summary's reply still fit the context. */
  private fitsWithSummary(request: ModelRequest): boolean {
    return this.calibration.tokens(estimateRequestTokens(request).total) + this.summaryMaxTokens + 500 <= this.summaryLimit;
  }

  /** Asks for the summary at the end of the turn's own request (its prefix is in the prompt cache). */
  private async summariseInContext(conversationId: string, current: ModelRequest): Promise<string> {
    const instruction: TextBlock = { type: 'text', text: [
      '[compaction] My context is nearly full. Before going on, I write the updated long-term summary of this conversation;',
      'it replaces the <conversation_summary> in my system prompt, and the older messages leave my context (they stay searchable with conversation_search).',
      SUMMARY_GUIDELINES,
      this.flush ? FLUSH_GUIDELINES : '',
      `At most about ${Math.floor(this.summaryMaxTokens * 0.7)} words. Do not answer the person now${this.flush ? ', and call no tool but the memory tools named above' : ' and do not call any tool'}: reply with the summary text.`,
    ].filter(Boolean).join('\n') };
    const messages = current.messages.map((m) => ({ ...m, content: [...m.content] }));
    const last = messages[messages.length - 1];
    if (last?.role === 'user') last.content.push(instruction);
    else messages.push({ role: 'user', content: [instruction] });
    // the compaction model may differ from the turn's (LARES_MODEL_COMPACTION)
    const response = await this.provider.createMessage({ ...current, model: this.settings.model, maxTokens: this.summaryMaxTokens + (this.flush ? 1024 : 0), messages });
    await this.recordUsage(conversationId, response);
    await this.saveFlushed(conversationId, response);
    return response.content.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('\n').trim();
  }

  /** Carries out the memory tool calls of a compaction reply (each stored with its history); others are ignored. */
  private async saveFlushed(conversationId: string, response: ModelResponse): Promise<void> {
    if (!this.flush) return;
    const calls = response.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
    if (calls.length === 0) return;
    let saved = 0;
    const refused: string[] = [];
    for (const call of calls) {
      if (!FLUSH_TOOLS.includes(call.name)) { refused.push(call.name); continue; }
      const outcome = await this.flush.call(call.name, call.input, conversationId);
      if (!outcome.isError) saved++;
    }
    log().info({ event: 'memory_flush', conversationId, calls: calls.length, saved, refused }, `memory flush before compaction: ${saved} of ${calls.length} memory edits saved`);
  }

  private async recordUsage(conversationId: string, response: ModelResponse): Promise<void> {
    const { estimated: _estimated, ...usage } = response.usage;
    await this.store.recordUsage({ conversationId, kind: 'compaction', provider: this.provider.name, model: response.model, ...usage, requestTokens: usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens });
  }

  private async summarise(conversationId: string, previous: string | undefined, messages: StoredMessage[]): Promise<string> {
    const transcript = messages.map(renderForSummary).join('\n');
    const prompt = [
      previous ? `<previous_summary>\n${previous}\n</previous_summary>` : '<previous_summary>(none yet)</previous_summary>',
      `<transcript messages="${messages[0].id}-${messages[messages.length - 1].id}">\n${transcript}\n</transcript>`,
      this.flush ? `${FLUSH_GUIDELINES}\n<memory_blocks>\n${(await this.store.listBlocks()).map((b) => `<${b.label}>${b.content}</${b.label}>`).join('\n')}\n</memory_blocks>` : '',
      `Write the updated summary now, in at most about ${Math.floor(this.summaryMaxTokens * 0.7)} words.`,
    ].filter(Boolean).join('\n\n');
    const response = await this.provider.createMessage({
      model: this.settings.model,
      maxTokens: this.summaryMaxTokens + (this.flush ? 1024 : 0),
      system: [{ type: 'text', text: SUMMARY_SYSTEM }],
      tools: this.flush?.definitions() ?? [],
      messages: [{ role: 'user', content: [{ type: 'text', text: prompt }] }],
    });
    await this.recordUsage(conversationId, response);
    await this.saveFlushed(conversationId, response);
    const text = response.content.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('\n').trim();
    if (!text) throw new Error('the summary came back empty');
    return text;
  }
}

/** The summary of a stretch too old and long to summarise now: where it is and how to find it. */
function indexNote(previous: string | undefined, messages: StoredMessage[]): string {
  const first = messages[0];
  const last = messages[messages.length - 1];
  const note = `Earlier conversation not summarised in detail: ${messages.length} messages (#${first.id}–#${last.id}, ${first.createdAt} to ${last.createdAt}). They are kept in full: use conversation_search to look things up there.`;
  return previous ? `${previous}\n\n${note}` : note;
}

/**
 * A cut before index `cut` is safe when it does not separate a tool_use from its result. At the
 * end of the list, a last tool_use is still waiting for its result (a crash, or a turn running in
 * another process): compacting it would orphan the result stored later.
 */
function isSafeCut(messages: StoredMessage[], cut: number): boolean {
  const next = messages.slice(cut).find((m) => m.role !== 'system');
  if (!next) {
    const last = messages.slice(0, cut).findLast((m) => m.role !== 'system');
    return !last?.blocks.some((b) => b.type === 'tool_use');
  }
  return !next.blocks.some((b) => b.type === 'tool_result');
}

function renderForSummary(m: StoredMessage): string {
  const body = m.content || blocksToText(m.blocks);
  const clipped = body.length > MAX_CHARS_PER_MESSAGE ? `${body.slice(0, MAX_CHARS_PER_MESSAGE)} …[${body.length - MAX_CHARS_PER_MESSAGE} chars omitted]` : body;
  const who = m.role === 'system' ? 'event' : m.role === 'user' ? 'person' : 'Lares';
  return `[#${m.id} ${m.createdAt} ${who}] ${clipped}`;
}

function* chunks<T>(items: T[], size: (item: T) => number, budget: number, canCutBefore: (index: number) => boolean): Generator<T[]> {
  let current: T[] = [];
  let used = 0;
  for (const [index, item] of items.entries()) {
    const s = size(item);
    if (current.length > 0 && used + s > budget && canCutBefore(index)) {
      yield current;
      current = [];
      used = 0;
    }
    current.push(item);
    used += s;
  }
  if (current.length > 0) yield current;
}
