// The tool loop of direct mode. One turn:
//   store the person's message → [build context → compact if needed → call the model →
//   store the reply → run its tool calls (in parallel) → store their results] × until done.
// Every step is stored before the next is acted on, so a crash at any point leaves a
// history the API accepts (a dangling tool_use is answered with an "interrupted" error
// result at the start of the next turn).
import { LaresError, errorMessage } from '../errors.ts';
import type { ContentBlock, ToolResultBlock, ToolUseBlock } from '../llm/content.ts';
import { LlmError, type ModelProvider, type ModelResponse } from '../llm/provider.ts';
import { log } from '../log.ts';
import { DEFAULT_CONVERSATION, type MemoryBlock, type MemoryStore, type StoredMessage } from '../memory/store.ts';
import type { ToolRouter } from '../tools/tool-router.ts';
import type { TurnEvents, TurnInput, TurnResult } from './types.ts';
import { buildContext, type BuiltContext } from './context.ts';
import type { CompactionResult, Compactor } from './compaction.ts';
import type { TokenCalibration } from './tokens.ts';
import { isBackground, type Budget, type BudgetStatus } from './budget.ts';
import { processGone, processIdentity } from '../process-alive.ts';

export interface OrchestratorSettings {
  model: string;
  maxTokens: number;
  maxToolIterations: number;
  caching: boolean;
  /**
   * When memory edits reach the system prompt. 'turn' (default): at the next turn.
   * 'compaction': at the next compaction (or restart); until then the model sees the edit in
   * its tool result, and the cached prefix is not invalidated by every edit.
   */
  memoryFold: 'turn' | 'compaction';
  contextLimit: number;
}

/** A model and the provider that serves it. */
export interface ModelRoute { provider: ModelProvider; model: string }

/** The model a turn talks to, and what the turn is for (stored with its usage). */
interface TurnRoute extends ModelRoute {
  source: string;
  /** a background model's own window, when smaller: its requests are trimmed to it, the stored history is not compacted for it */
  limit?: number;
}

export interface OrchestratorDeps {
  store: MemoryStore;
  /** the conversation model's provider (its model is settings.model) */
  provider: ModelProvider;
  /** perch and job turns: another (cheaper, local) model; default the conversation model */
  background?: ModelRoute;
  /** the daily spending cap, when one is set */
  budget?: Budget;
  /**
   * The tokens a route's model holds, less room for the reply, when its provider knows (a local
   * server). Asked at every turn, so a server that was down at start is fitted once it is up.
   */
  routeLimit?(route: ModelRoute): Promise<number | undefined>;
  tools: ToolRouter;
  compactor: Compactor;
  calibration: TokenCalibration;
  settings: OrchestratorSettings;
  baseInstructions: () => Promise<string>;
}

export const CALIBRATION_META_KEY = 'token_calibration';
/** what the last perch turn had seen (newest message id and memory edit), so an idle tick costs nothing */
export const PERCH_SEEN_META_KEY = 'perch_seen';

/** The parts of the system prompt fixed for a whole turn. */
interface FrozenPrompt { blocks: MemoryBlock[]; baseInstructions: string }

/** Set while a message's turn runs (to the running process): one left behind means its worker died mid-turn. */
const openTurnKey = (messageId: number) => `turn_open.${messageId}`;

const INTERRUPTED = 'This tool call was interrupted (Lares stopped before it returned a result); it may or may not have run. Check before retrying.';

export class Orchestrator {
  private readonly deps: OrchestratorDeps;

  constructor(deps: OrchestratorDeps) {
    this.deps = deps;
  }

  async runTurn(input: TurnInput, events: TurnEvents = {}): Promise<TurnResult> {
    const conversationId = input.conversationId ?? DEFAULT_CONVERSATION;
    const { store } = this.deps;
    // several workers on one shared database: one turn of a conversation at a time, across
    // processes; the duplicate check below then sees a message another worker already answered
    return store.withConversationLock
      ? store.withConversationLock(conversationId, () => this.runTurnLocked(conversationId, input, events))
      : this.runTurnLocked(conversationId, input, events);
  }

  private async runTurnLocked(conversationId: string, input: TurnInput, events: TurnEvents): Promise<TurnResult> {
    const { store } = this.deps;
    const content: ContentBlock[] = typeof input.content === 'string' ? [{ type: 'text', text: input.content }] : input.content;
    // blank text is left out of requests: the request would end with Lares's own last reply (a
    // prefill the model continues), or have no messages at all
    if (content.every((b) => b.type === 'text' && b.text.trim() === '')) {
      throw new LaresError('USAGE', 'the message is empty: write some text (or attach an image) to send it to Lares.', { exitCode: 1 });
    }
    const stored = input.sourceRef ? await store.findMessageBySourceRef(input.sourceRef) : undefined;
    // a message stored by a turn that never finished (its worker was killed) is answered now, once
    const resumed = stored && await this.interrupted(stored, conversationId) ? stored : undefined;
    if (stored && !resumed) {
      log().info({ event: 'duplicate_message', sourceRef: input.sourceRef }, 'message already handled; skipped');
      return { reply: '', stopReason: 'duplicate', toolCalls: 0, incomplete: false, pendingApprovals: [] };
    }
    if (resumed) log().warn({ event: 'turn_resumed', sourceRef: input.sourceRef, messageId: resumed.id }, 'a turn interrupted before it was answered is answered now');
    await this.repairDanglingToolUse(conversationId);

    const background = isBackground(input.source);
    if (input.source === 'perch' && input.skipIfIdle && (await this.perchIsIdle(conversationId))) {
      log().info({ event: 'perch_idle' }, 'perch time: nothing new since the last perch turn; no model call');
      return { reply: '', stopReason: 'idle', toolCalls: 0, incomplete: false, pendingApprovals: [] };
    }
    const budget = await this.deps.budget?.status();
    if (budget?.reached && background) {
      log().warn({ event: 'budget_reached', source: input.source, spentUsd: budget.spentUsd, dailyUsd: budget.dailyUsd }, `${input.source} turn skipped: today's spend reached LARES_DAILY_BUDGET_USD`);
      return { reply: '', stopReason: 'budget_reached', toolCalls: 0, incomplete: true, pendingApprovals: [] };
    }
    const route = await this.turnRoute(input.source, background);

    const [userMessage] = resumed ? [resumed] : await store.appendMessages([{
      conversationId, role: 'user', blocks: content, sourceRef: input.sourceRef ?? null,
      metadata: { source: input.source, ...(input.replyToMessageId ? { replyTo: input.replyToMessageId } : {}), ...input.metadata },
    }]);

    // the turn is marked open until it returns: a worker killed in between leaves the mark, and the
    // next delivery of the message (a catch-up after the failover) answers it
    await store.setMeta(openTurnKey(userMessage.id), processIdentity());
    try {
      return await this.answer(conversationId, input, events, userMessage, route, background, budget);
    } finally {
      await store.deleteMeta(openTurnKey(userMessage.id)).catch(() => undefined);
    }
  }

  /** The model calls and tool rounds of a turn whose message is stored. */
  private async answer(conversationId: string, input: TurnInput, events: TurnEvents, userMessage: StoredMessage, route: TurnRoute, background: boolean, initialBudget: BudgetStatus | undefined): Promise<TurnResult> {
    const { store, settings } = this.deps;
    let budget = initialBudget;
    // the system prompt is fixed for the whole turn (cache-friendly); memory edits made during
    // the turn are shown in their tool results and folded into the prompt at the next turn
    const blocks = await this.promptBlocks(conversationId);
    const baseInstructions = await this.deps.baseInstructions();
    const texts: string[] = [];
    const pendingApprovals: string[] = [];
    let toolCalls = 0;
    let stopReason: string;
    let incomplete = false;

    if (budget?.reached && budget.mode === 'hard') {
      // the person's message is stored (nothing is lost); the model is not called
      const notice = (await this.deps.budget!.notice(budget))!;
      log().warn({ event: 'budget_reached', source: input.source, spentUsd: budget.spentUsd, dailyUsd: budget.dailyUsd }, 'turn not sent to the model: today\'s spend reached LARES_DAILY_BUDGET_USD (hard)');
      return { reply: notice, stopReason: 'budget_reached', toolCalls: 0, incomplete: true, pendingApprovals: [] };
    }

    for (let iteration = 1; ; iteration++) {
      if (iteration > 1 && this.deps.budget && (background || budget?.mode === 'hard')) {
        budget = await this.deps.budget.status();
        if (budget.reached) {
          // the history ends with the tool results: a request the API accepts, when the cap resets
          if (!background) texts.push((await this.deps.budget.notice(budget))!);
          stopReason = 'budget_reached';
          incomplete = true;
          break;
        }
      }
      const response = await this.callModel(conversationId, userMessage.id, { blocks, baseInstructions }, route, events);
      let replyBlocks = response.content.filter((b) => !(b.type === 'text' && b.text.trim() === ''));
      // a refusal is always stored, so the context builder can leave the refused turn out
      if (response.stopReason === 'refusal' && replyBlocks.length === 0) replyBlocks = [{ type: 'text', text: '(declined)' }];
      const [assistant] = replyBlocks.length > 0
        ? await store.appendMessages([{ conversationId, role: 'assistant', blocks: replyBlocks, metadata: { stopReason: response.stopReason, model: response.model, responseId: response.id } }])
        : [undefined];
      stopReason = response.stopReason;
      const text = replyBlocks.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('\n').trim();
      if (text) texts.push(text);
      const uses = replyBlocks.filter((b): b is ToolUseBlock => b.type === 'tool_use');

      if (uses.length > 0) {
        const cutOff = stopReason === 'max_tokens' || stopReason === 'model_context_window_exceeded';
        const results = cutOff
          ? uses.map((u): ToolResultBlock => ({ type: 'tool_result', tool_use_id: u.id, is_error: true, content: 'Your reply was cut off before this tool call was complete, so it was not run. Make the call again, shorter if needed.' }))
          : await this.runTools(uses, conversationId, input.replyToMessageId, events, pendingApprovals);
        toolCalls += uses.length;
        await store.appendMessages([{ conversationId, role: 'user', blocks: results, metadata: { source: 'tool_results', replyTo: assistant?.id } }]);
        if (iteration >= settings.maxToolIterations) {
          const note = `I stopped after ${iteration} rounds of tool calls (the limit, LARES_MAX_TOOL_ITERATIONS=${settings.maxToolIterations}) before finishing. Ask me to continue if you want me to go on.`;
          await store.appendMessages([{ conversationId, role: 'assistant', blocks: [{ type: 'text', text: note }], metadata: { stopReason: 'tool_iteration_limit' } }]);
          texts.push(note);
          incomplete = true;
          stopReason = 'tool_iteration_limit';
          break;
        }
        continue;
      }
      if (stopReason === 'pause_turn' && assistant && iteration < settings.maxToolIterations) continue;
      if (stopReason === 'max_tokens' || stopReason === 'model_context_window_exceeded') {
        texts.push(stopReason === 'max_tokens'
          ? '[My reply was cut off: it reached the maximum length (LARES_MAX_TOKENS). Ask me to continue.]'
          : '[My reply was cut off: the conversation reached the model\'s context window. Ask me to continue.]');
        incomplete = true;
      } else if (stopReason === 'refusal') {
        if (text === '(declined)') texts.pop(); // our placeholder, not the model's words
        texts.push('[The model declined to answer this request. That exchange is kept in the history but left out of what the model sees from now on; rephrase to try again.]');
        incomplete = true;
      } else if (stopReason === 'pause_turn') {
        incomplete = true;
      }
      break;
    }
    if (this.deps.budget && !background) {
      const notice = await this.deps.budget.notice(await this.deps.budget.status());
      if (notice && !texts.includes(notice)) texts.push(notice);
    }
    // a perch turn the budget cut short has not seen everything: the next tick runs
    if (input.source === 'perch' && stopReason !== 'budget_reached') await this.store.setMeta(PERCH_SEEN_META_KEY, await this.perchSignature(conversationId));
    return { reply: texts.join('\n\n'), stopReason, toolCalls, incomplete, pendingApprovals };
  }

  private get store(): MemoryStore { return this.deps.store; }

  /**
   * Whether a stored message's turn was cut off: its turn is still marked open, and no process can
   * be running it — where turns are locked across processes (PostgreSQL) we hold the lock; on a
   * SQLite file (one machine) the process that marked it is gone.
   */
  private async interrupted(message: StoredMessage, conversationId: string): Promise<boolean> {
    if (message.conversationId !== conversationId || message.role !== 'user') return false;
    const mark = await this.store.getMeta(openTurnKey(message.id));
    if (mark === undefined) return false;
    return this.store.withConversationLock ? true : processGone(mark);
  }

  /** The model of this turn; fits the compaction limit to the conversation model's window once it is known. */
  private async turnRoute(source: string, background: boolean): Promise<TurnRoute> {
    const { deps } = this;
    const conversation: ModelRoute = { provider: deps.provider, model: deps.settings.model };
    const limit = await deps.routeLimit?.(conversation);
    if (limit !== undefined) deps.compactor.fitContextLimit(limit);
    if (!background || !deps.background) return { ...conversation, source };
    const own = await deps.routeLimit?.(deps.background);
    return { ...deps.background, source, ...(own !== undefined && own < deps.compactor.contextLimit ? { limit: own } : {}) };
  }

  /** The newest message and memory edit: when neither changed since the last perch turn, there is nothing to reflect on. */
  private async perchSignature(conversationId: string): Promise<string> {
    const [newest] = await this.store.recentMessages(1, conversationId);
    const blocks = await this.store.listBlocks();
    const edited = blocks.reduce((latest, b) => (b.updatedAt > latest ? b.updatedAt : latest), '');
    return `${newest?.id ?? 0}|${blocks.length}|${edited}`;
  }

  private async perchIsIdle(conversationId: string): Promise<boolean> {
    const seen = await this.store.getMeta(PERCH_SEEN_META_KEY);
    return seen !== undefined && seen === (await this.perchSignature(conversationId));
  }

  private blockSnapshot: { conversationId: string; summaryId: number | undefined; blocks: MemoryBlock[] } | undefined;

  /** The memory blocks the system prompt shows this turn (see OrchestratorSettings.memoryFold). */
  private async promptBlocks(conversationId: string): Promise<MemoryBlock[]> {
    const { store, settings } = this.deps;
    if (settings.memoryFold === 'turn') return store.listBlocks();
    const summaryId = (await store.latestSummary(conversationId))?.id;
    const snapshot = this.blockSnapshot;
    if (snapshot && snapshot.conversationId === conversationId && snapshot.summaryId === summaryId) return snapshot.blocks;
    const blocks = await store.listBlocks();
    this.blockSnapshot = { conversationId, summaryId, blocks };
    return blocks;
  }

  /** The request the next turn would start from (for `lares context`). */
  async previewContext(conversationId = DEFAULT_CONVERSATION): Promise<BuiltContext> {
    const frozen = { blocks: await this.promptBlocks(conversationId), baseInstructions: await this.deps.baseInstructions() };
    return this.context(conversationId, frozen);
  }

  /** Compacts by hand (`lares compact`): summarises down to the target whatever the threshold. */
  async compactNow(conversationId = DEFAULT_CONVERSATION): Promise<CompactionResult | undefined> {
    const context = await this.previewContext(conversationId);
    const messages = await this.deps.store.uncompactedMessages(conversationId);
    const fixed = this.deps.calibration.tokens(context.estimate.tools + context.estimate.system);
    const plan = this.deps.compactor.plan(messages, fixed, undefined);
    if (plan.messages.length === 0) return undefined;
    return this.deps.compactor.run(conversationId, plan, context.request);
  }

  /** If the last stored API message is an assistant tool_use with no results (a crash), answer it. */
  async repairDanglingToolUse(conversationId: string): Promise<number> {
    const recent = (await this.deps.store.recentMessages(5, conversationId)).filter((m) => m.role !== 'system');
    const last = recent[0];
    if (!last || last.role !== 'assistant') return 0;
    const uses = last.blocks.filter((b): b is ToolUseBlock => b.type === 'tool_use');
    if (uses.length === 0) return 0;
    const results: ToolResultBlock[] = uses.map((u) => ({ type: 'tool_result', tool_use_id: u.id, is_error: true, content: INTERRUPTED }));
    await this.deps.store.appendMessages([{ conversationId, role: 'user', blocks: results, metadata: { source: 'repair', repairs: last.id } }]);
    log().warn({ event: 'history_repaired', conversationId, messageId: last.id, toolCalls: uses.length }, 'answered tool calls interrupted by a crash');
    return uses.length;
  }

  private async runTools(uses: ToolUseBlock[], conversationId: string, replyTo: string | undefined, events: TurnEvents, pending: string[]): Promise<ToolResultBlock[]> {
    return Promise.all(uses.map(async (use): Promise<ToolResultBlock> => {
      events.onToolCall?.({ id: use.id, name: use.name, input: use.input });
      const outcome = await this.deps.tools.call(use.name, use.input ?? {}, { conversationId, replyToMessageId: replyTo });
      if (outcome.pendingApprovalId) pending.push(outcome.pendingApprovalId);
      const content = typeof outcome.content === 'string' ? (outcome.content || '(no output)') : outcome.content;
      const preview = typeof content === 'string' ? content : content.map((b) => (b.type === 'text' ? b.text : '[image]')).join('\n');
      events.onToolResult?.({ id: use.id, name: use.name, isError: outcome.isError, pendingApprovalId: outcome.pendingApprovalId, content: preview });
      log().info({ event: 'tool_call', tool: use.name, isError: outcome.isError, pendingApproval: outcome.pendingApprovalId }, `tool ${use.name}${outcome.isError ? ' failed' : ''}`);
      return { type: 'tool_result', tool_use_id: use.id, content, ...(outcome.isError ? { is_error: true } : {}) };
    }));
  }

  /** Builds the context (compacting first when it would pass the threshold) and calls the model. */
  private async callModel(conversationId: string, protectFromId: number, frozen: FrozenPrompt, route: TurnRoute, events: TurnEvents): Promise<ModelResponse> {
    const { compactor } = this.deps;
    let context = await this.context(conversationId, frozen, route.model);
    if (this.tokens(context) > compactor.thresholdTokens) {
      context = await this.compactAndRebuild(conversationId, protectFromId, frozen, context, false);
    }
    if (route.limit !== undefined) context = await this.fitWindow(context, route.limit);
    try {
      return await this.send(conversationId, context, route.provider, events, route.source);
    } catch (error) {
      if (!(error instanceof LlmError) || error.kind !== 'context_exceeded') throw this.userFacing(error);
      if (route.limit !== undefined) {
        // a smaller background model: send it less, never compact the conversation for it
        log().warn({ event: 'context_exceeded', conversationId, model: route.model }, 'the background model\'s window is too small for this request; trimming it and retrying once');
        context = await this.fitWindow(context, Math.floor(this.tokens(context) / 2));
      } else {
        log().warn({ event: 'context_exceeded', conversationId }, 'the API said the context is too large; compacting and retrying once');
        context = await this.compactAndRebuild(conversationId, protectFromId, frozen, context, true);
      }
      try {
        return await this.send(conversationId, context, route.provider, events, route.source);
      } catch (retryError) {
        throw this.userFacing(retryError);
      }
    }
  }

  /**
   * Compacts, then rebuilds. Normally down to TARGET_AFTER_COMPACT; when the API itself said the
   * request is too large (`force`), to at most half of what was refused.
   */
  private async compactAndRebuild(conversationId: string, protectFromId: number, frozen: FrozenPrompt, context: BuiltContext, force: boolean): Promise<BuiltContext> {
    const { compactor, store } = this.deps;
    const target = force ? Math.min(compactor.targetTokens, Math.floor(this.tokens(context) / 2)) : compactor.targetTokens;
    const windowLimit = force ? Math.floor(this.tokens(context) / 2) : compactor.thresholdTokens;
    const messages = await store.uncompactedMessages(conversationId);
    const fixed = this.deps.calibration.tokens(context.estimate.tools + context.estimate.system);
    const plan = compactor.plan(messages, fixed, protectFromId, target);
    if (plan.messages.length > 0) {
      try {
        // normally the summary is asked for at the end of the request itself (read from cache);
        // when the API refused that request as too large, a transcript goes instead
        await compactor.run(conversationId, plan, force ? undefined : context.request);
      } catch (error) {
        log().error({ event: 'compaction_failed', conversationId, err: errorMessage(error) }, 'compaction failed; history untouched, sending a shortened window instead');
      }
    }
    // if nothing (more) could be summarised, or the summary failed, send only the newest
    // messages that fit, leaving the stored history as it is
    return this.fitWindow(await this.context(conversationId, frozen, context.request.model), windowLimit);
  }

  /** Drops the oldest messages from the request (not from storage) until it fits under `limit`. */
  private async fitWindow(context: BuiltContext, limit: number): Promise<BuiltContext> {
    if (this.tokens(context) <= limit) return context;
    const { store } = this.deps;
    const stored = await Promise.all(context.messageIds.map((id) => store.getMessage(id)));
    let messages = stored.filter((m): m is StoredMessage => m !== undefined);
    let rebuilt = context;
    while (messages.length > 1 && this.tokens(rebuilt) > limit) {
      // drop from the front up to the next safe start (a message that is not a tool result)
      let drop = 1;
      while (drop < messages.length - 1 && messages[drop].blocks.some((b) => b.type === 'tool_result')) drop++;
      messages = messages.slice(drop);
      rebuilt = buildContext({ ...context.input, messages });
    }
    log().warn({ event: 'context_window_trimmed', kept: messages.length }, 'sending a trimmed window of the recent history');
    return rebuilt;
  }

  private async context(conversationId: string, frozen: FrozenPrompt, model = this.deps.settings.model): Promise<BuiltContext> {
    const { store, settings, tools } = this.deps;
    return buildContext({
      model,
      maxTokens: settings.maxTokens,
      baseInstructions: frozen.baseInstructions,
      blocks: frozen.blocks,
      summary: await store.latestSummary(conversationId),
      messages: await store.uncompactedMessages(conversationId),
      tools: tools.definitions(),
      caching: settings.caching,
    });
  }

  private tokens(context: BuiltContext): number {
    return this.deps.calibration.tokens(context.estimate.total);
  }

  private async send(conversationId: string, context: BuiltContext, provider: ModelProvider, events: TurnEvents, source?: string): Promise<ModelResponse> {
    const { store, calibration } = this.deps;
    const response = await provider.createMessage(context.request, {
      onText: events.onText,
      onRetry: (info) => {
        log().warn({ event: 'llm_retry', ...info }, `model call failed, retrying in ${info.delayMs} ms`);
        events.onRetry?.(info);
      },
    });
    const requestTokens = response.usage.inputTokens + response.usage.cacheReadTokens + response.usage.cacheWriteTokens;
    // an estimate (the server reported nothing) teaches the calibration nothing
    if (!response.usage.estimated) calibration.observe(context.estimate.total, requestTokens);
    const { estimated: _estimated, ...usage } = response.usage;
    await store.recordUsage({
      conversationId, model: response.model, ...usage, requestTokens, provider: provider.name, ...(source ? { source } : {}),
      lastMessageId: context.messageIds[context.messageIds.length - 1] ?? null,
    });
    await store.setMeta(CALIBRATION_META_KEY, String(calibration.ratio));
    log().debug({ event: 'llm_call', ...response.usage, stopReason: response.stopReason }, 'model call');
    return response;
  }

  private userFacing(error: unknown): Error {
    if (error instanceof LaresError) return error;
    return new LaresError('LLM_ERROR', `the model call failed: ${errorMessage(error)}`, { cause: error });
  }
}
