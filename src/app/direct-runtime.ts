// Composition root of direct mode: config → store, model provider, tools, compaction,
// orchestrator and agent. Channels (terminal, Discord) and commands get everything from here.
import type { Config } from '../config/config.ts';
import { LaresError } from '../errors.ts';
import { AnthropicProvider } from '../llm/anthropic/anthropic-provider.ts';
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
  /** a model provider to use instead of Anthropic (tests, other providers) */
  provider?: ModelProvider;
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

export function missingApiKeyError(): LaresError {
  return new LaresError('MISSING_API_KEY', [
    'ANTHROPIC_API_KEY is not set, so Lares cannot talk to Claude.',
    'Create a key at https://console.anthropic.com/settings/keys, then either:',
    `  echo 'ANTHROPIC_API_KEY=sk-ant-...' >> ${process.cwd()}/.env`,
    '  or: export ANTHROPIC_API_KEY=sk-ant-...',
  ].join('\n'));
}

export function createModelProvider(config: Config): ModelProvider {
  if (!config.anthropic.apiKey) throw missingApiKeyError();
  return new AnthropicProvider({
    apiKey: config.anthropic.apiKey,
    baseUrl: config.anthropic.baseUrl,
    retry: { maxRetries: config.anthropic.maxRetries, baseDelayMs: config.anthropic.retryBaseMs },
  });
}

function keylessProvider(): ModelProvider {
  const fail = async (): Promise<never> => { throw missingApiKeyError(); };
  return { name: 'anthropic', createMessage: fail, countTokens: fail };
}

export async function createDirectRuntime(config: Config, options: DirectRuntimeOptions = {}): Promise<DirectRuntime> {
  const provider = options.provider ?? (options.modelOptional && !config.anthropic.apiKey ? keylessProvider() : createModelProvider(config));
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
    const compactor = new Compactor(store, provider, {
      model: config.anthropic.model, contextLimit: config.contextLimit, threshold: config.compactThreshold, target: config.targetAfterCompact,
    }, calibration, options.memoryFlush === false ? undefined : flush);
    const orchestrator = new Orchestrator({
      store, provider, tools, compactor, calibration,
      settings: { model: config.anthropic.model, maxTokens: config.anthropic.maxTokens, maxToolIterations: config.maxToolIterations, caching: config.anthropic.promptCaching, memoryFold: config.memoryFold, contextLimit: config.contextLimit },
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
