// One model provider per kind, made on first use from the configuration: `anthropic` (Claude),
// `openai` (OPENAI_BASE_URL: OpenAI, vLLM, llama.cpp, OpenRouter…) and `ollama` (Ollama's
// OpenAI endpoint at OLLAMA_BASE_URL/v1). Conversation, perch and compaction each pick one.
import type { Config, ModelChoice, ProviderKind } from '../config/config.ts';
import { LaresError } from '../errors.ts';
import { AnthropicProvider } from './anthropic/anthropic-provider.ts';
import { OpenAIProvider } from './openai/openai-provider.ts';
import type { ModelProvider } from './provider.ts';

export function missingApiKeyError(): LaresError {
  return new LaresError('MISSING_API_KEY', [
    'ANTHROPIC_API_KEY is not set, so Lares cannot talk to Claude.',
    'Create a key at https://console.anthropic.com/settings/keys, then either:',
    `  echo 'ANTHROPIC_API_KEY=sk-ant-...' >> ${process.cwd()}/.env`,
    '  or: export ANTHROPIC_API_KEY=sk-ant-...',
    'Or use another model: see "Choosing a model" in the README (LARES_PROVIDER=openai or ollama).',
  ].join('\n'));
}

export function missingOpenAIKeyError(): LaresError {
  return new LaresError('MISSING_API_KEY', [
    'OPENAI_API_KEY is not set, so Lares cannot talk to the OpenAI API.',
    'Create a key at https://platform.openai.com/api-keys and put OPENAI_API_KEY=sk-... in .env,',
    'or point OPENAI_BASE_URL at a local OpenAI-compatible server (Ollama, llama.cpp, vLLM), which needs no key.',
  ].join('\n'));
}

/** A provider whose every call fails with `error`: inspection commands run without a key. */
function failingProvider(name: string, error: () => Error): ModelProvider {
  const fail = async (): Promise<never> => { throw error(); };
  return { name, createMessage: fail, countTokens: fail };
}

export function createProvider(kind: ProviderKind, config: Config, options: { keyOptional?: boolean } = {}): ModelProvider {
  const retry = { maxRetries: config.anthropic.maxRetries, baseDelayMs: config.anthropic.retryBaseMs };
  switch (kind) {
    case 'anthropic':
      if (!config.anthropic.apiKey) {
        if (options.keyOptional) return failingProvider('anthropic', missingApiKeyError);
        throw missingApiKeyError();
      }
      return new AnthropicProvider({ apiKey: config.anthropic.apiKey, baseUrl: config.anthropic.baseUrl, retry });
    case 'openai':
      if (!config.openai.apiKey && !config.openai.baseUrl) {
        if (options.keyOptional) return failingProvider('openai', missingOpenAIKeyError);
        throw missingOpenAIKeyError();
      }
      return new OpenAIProvider({ apiKey: config.openai.apiKey, baseUrl: config.openai.baseUrl, contextWindow: config.contextWindow, retry });
    case 'ollama':
      return new OpenAIProvider({ name: 'ollama', baseUrl: `${config.ollama.baseUrl.replace(/\/+$/, '')}/v1`, contextWindow: config.contextWindow, retry });
  }
}

/** The providers a runtime uses, each made once; `overrides` replace them (tests). */
export class ProviderSet {
  private readonly made = new Map<ProviderKind, ModelProvider>();
  private readonly config: Config;
  private readonly keyOptional: boolean;

  constructor(config: Config, overrides: Partial<Record<ProviderKind, ModelProvider>> = {}, options: { keyOptional?: boolean } = {}) {
    this.config = config;
    this.keyOptional = options.keyOptional ?? false;
    for (const [kind, provider] of Object.entries(overrides)) if (provider) this.made.set(kind as ProviderKind, provider);
  }

  get(kind: ProviderKind): ModelProvider {
    let provider = this.made.get(kind);
    if (!provider) {
      provider = createProvider(kind, this.config, { keyOptional: this.keyOptional });
      this.made.set(kind, provider);
    }
    return provider;
  }

  route(choice: ModelChoice): { provider: ModelProvider; model: string } {
    return { provider: this.get(choice.provider), model: choice.model };
  }
}
