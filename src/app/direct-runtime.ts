// Composition root of direct mode: config → store, model provider, tools, compaction,
// orchestrator and agent. Channels (terminal, Discord) and commands get everything from here.
import type { Config, ProviderKind } from '../config/config.ts';
import { errorMessage } from '../errors.ts';
import { loadPrices, priceOf } from '../llm/pricing.ts';
import { ProviderSet } from '../llm/providers.ts';
import { Budget } from '../agent/budget.ts';
import type { ModelRoute } from '../agent/orchestrator.ts';
import type { ModelProvider } from '../llm/provider.ts';
import { log } from '../log.ts';
import { ensureDefaultBlocks } from '../memory/default-blocks.ts';
import { openStore } from '../memory/open-store.ts';
import type { MemoryStore } from '../memory/store.ts';
import { LocalToolProvider } from '../tools/local-tools.ts';
import { memoryTools } from '../tools/local/memory-tools.ts';
import { ToolRouter } from '../tools/tool-router.ts';
import type { ToolProvider } from '../tools/types.ts';
import { loadBaseInstructions } from '../agent/base-instructions.ts';
import { Compactor, FLUSH_TOOLS, type MemoryFlush } from '../agent/compaction.ts';
import { DirectAgent } from '../agent/direct-agent.ts';
import { CALIBRATION_META_KEY, Orchestrator } from '../agent/orchestrator.ts';
import { TokenCalibration } from '../agent/tokens.ts';
import { nowIso } from '../time.ts';
import type { Embedder } from '../embeddings/embedder.ts';
import { openEmbedder } from '../embeddings/open-embedder.ts';
import { RecallIndexer } from '../recall/indexer.ts';
import { Recall } from '../recall/recall.ts';

export interface DirectRuntime {
  config: Config;
  store: MemoryStore;
  provider: ModelProvider;
  tools: ToolRouter;
  compactor: Compactor;
  orchestrator: Orchestrator;
  agent: DirectAgent;
  recall: Recall;
  close(): Promise<void>;
}

export interface DirectRuntimeOptions {
  /** tool providers besides the local memory tools (MCP servers, Discord tools) */
  toolProviders?: ToolProvider[];
  /** a model provider to use for the conversation model's provider kind (tests) */
  provider?: ModelProvider;
  /** providers to use instead of the configured ones, by kind (tests) */
  providers?: Partial<Record<ProviderKind, ModelProvider>>;
  /** an already open store */
  store?: MemoryStore;
  /** tell the model about the restart on its first turn (long-running services) */
  announceRestart?: boolean;
  /** inspection commands work without an API key; model calls then fail with the key message */
  modelOptional?: boolean;
  /** an embedder to use instead of the configured one (tests) */
  embedder?: Embedder | null;
  /** let compaction save memory first (default true; benchmarks compare without) */
  memoryFlush?: boolean;
  /** keep the recall index up to date in the background (default true) */
  backgroundIndexing?: boolean;
}

/**
 * What a route's model holds, less room for the reply (a quarter of its window at most), when its
 * provider knows (a local server's window); undefined otherwise, or while the server cannot be
 * asked (it is asked again next time, and the failure is logged once).
 */
function routeLimits(config: Config): (route: ModelRoute) => Promise<number | undefined> {
  const warned = new Set<string>();
  return async (route) => {
    if (!route.provider.contextWindow) return undefined;
    try {
      const window = await route.provider.contextWindow(route.model);
      return window === undefined ? undefined : window - Math.min(config.anthropic.maxTokens, Math.floor(window / 4));
    } catch (error) {
      if (!warned.has(route.model)) log().warn({ event: 'context_window_unknown', model: route.model, err: errorMessage(error) }, `cannot learn ${route.model}'s context window yet (asked again at the next turn): ${errorMessage(error)}`);
      warned.add(route.model);
      return undefined;
    }
  };
}

export async function createDirectRuntime(config: Config, options: DirectRuntimeOptions = {}): Promise<DirectRuntime> {
  const providers = new ProviderSet(config, { ...options.providers, ...(options.provider ? { [config.models.conversation.provider]: options.provider } : {}) }, { keyOptional: options.modelOptional });
  const conversation = providers.route(config.models.conversation);
  const provider = conversation.provider;
  const compaction = providers.route(config.models.compaction);
  const background = providers.route(config.models.perch);
  // a local server's model holds only so much (Ollama shortens longer prompts silently): the
  // compaction threshold and target are fractions of what really fits
  const routeLimit = routeLimits(config);
  const contextLimit = Math.min(config.contextLimit, (await routeLimit(conversation)) ?? Infinity);
  const store = options.store ?? (await openStore(config));
  let embedder: Embedder | undefined;
  try {
    embedder = options.embedder === undefined ? await openEmbedder(config) : options.embedder ?? undefined;
    const recall = new Recall(store, embedder);
    if (await ensureDefaultBlocks(store)) log().info({ event: 'memory_initialised' }, 'created the default memory blocks (persona, human, state, ideas)');
    const calibration = new TokenCalibration(Number(await store.getMeta(CALIBRATION_META_KEY)) || 1);
    const tools = new ToolRouter([new LocalToolProvider('local', memoryTools(store, recall)), ...(options.toolProviders ?? [])]);
    await tools.refresh();
    const flush: MemoryFlush = {
      definitions: () => tools.definitions().filter((t) => FLUSH_TOOLS.includes(t.name)).map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema })),
      call: (name, input, conversationId) => tools.call(name, input, { conversationId }),
    };
    const compactor = new Compactor(store, compaction.provider, {
      model: compaction.model, contextLimit, threshold: config.compactThreshold, target: config.targetAfterCompact,
      summaryContextLimit: () => routeLimit(compaction),
    }, calibration, options.memoryFlush === false ? undefined : flush);
    const prices = config.budget.dailyUsd === undefined ? undefined : loadPrices(config.pricesFile);
    const budget = prices && new Budget(store, prices, { dailyUsd: config.budget.dailyUsd!, mode: config.budget.mode });
    const unpriced = prices ? [conversation, compaction, background].map((r) => r.model).filter((m, i, all) => all.indexOf(m) === i && !priceOf(m, prices)) : [];
    if (unpriced.length > 0) log().warn({ event: 'budget_unpriced_models', models: unpriced }, `LARES_DAILY_BUDGET_USD cannot count ${unpriced.join(', ')}: no price is known (add it to LARES_PRICES_FILE, 0 for a free local model)`);
    const orchestrator = new Orchestrator({
      store, provider, tools, compactor, calibration, budget, routeLimit,
      background: background.provider === provider && background.model === conversation.model ? undefined : background,
      settings: { model: conversation.model, maxTokens: config.anthropic.maxTokens, maxToolIterations: config.maxToolIterations, caching: config.anthropic.promptCaching, memoryFold: config.memoryFold, contextLimit },
      baseInstructions: () => loadBaseInstructions(store, config.baseInstructionsFile),
    });
    let restartNote: string | undefined;
    if (options.announceRestart) {
      const previous = await store.getMeta('last_started_at');
      const now = nowIso();
      await store.setMeta('last_started_at', now);
      if (previous) restartNote = `[System note: Lares restarted at ${now}; it was last started at ${previous}. Anything in progress before the restart may not have finished.]`;
    }
    const agent = new DirectAgent(orchestrator, { restartNote });
    // new messages get their keyword context and vectors a little after they are stored; a turn never waits
    const indexing = options.backgroundIndexing === false ? undefined : new RecallIndexer(store, embedder).startBackground();
    return {
      config, store, provider, tools, compactor, orchestrator, agent, recall,
      async close() {
        await agent.close();
        await indexing?.stop();
        await tools.close();
        await embedder?.close?.();
        if (!options.store) await store.close();
      },
    };
  } catch (error) {
    await embedder?.close?.();
    if (!options.store) await store.close();
    throw error;
  }
}
