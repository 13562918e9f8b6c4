// `lares doctor`'s model checks: for each provider the configuration uses (conversation, perch
// and compaction models), is it configured, does it answer (--live for paid APIs), and for
// Ollama: is the model pulled, how large is its context, does it take tools.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describeModel, type Config, type ProviderKind } from '../config/config.ts';
import { errorMessage } from '../errors.ts';
import { apiMessage } from '../llm/openai/map-openai-error.ts';
import { detectOllama, ollamaModelFacts, ollamaWindow } from '../llm/openai/ollama-model.ts';
import { fail, ok, skip, type DoctorCheck } from './doctor-check.ts';

/** Lares's tools and memory blocks alone take a few thousand tokens; below this a conversation hardly fits. */
const SMALLEST_USEFUL_WINDOW = 8192;

export async function checkModels(config: Config, live: boolean, timeoutMs: number): Promise<DoctorCheck[]> {
  // Letta mode talks to Letta's model; the Anthropic key is only the rollback path
  if (config.mode === 'letta') return checkAnthropic(config, config.anthropic.model, live, timeoutMs);
  const byKind = new Map<ProviderKind, string[]>();
  for (const choice of [config.models.conversation, config.models.perch, config.models.compaction]) {
    const models = byKind.get(choice.provider) ?? [];
    if (!models.includes(choice.model)) models.push(choice.model);
    byKind.set(choice.provider, models);
  }
  const checks: DoctorCheck[] = [ok('models', `models: conversation ${describeModel(config.models.conversation)}, perch ${describeModel(config.models.perch)}, compaction ${describeModel(config.models.compaction)}`)];
  for (const [kind, models] of byKind) {
    if (kind === 'anthropic') checks.push(...await checkAnthropic(config, models[0], live, timeoutMs));
    else checks.push(...await checkOpenAICompatible(config, kind, models, live, timeoutMs));
  }
  return checks;
}

async function checkOpenAICompatible(config: Config, kind: Exclude<ProviderKind, 'anthropic'>, models: string[], live: boolean, timeoutMs: number): Promise<DoctorCheck[]> {
  const baseUrl = kind === 'ollama' ? `${config.ollama.baseUrl.replace(/\/+$/, '')}/v1` : config.openai.baseUrl;
  const where = baseUrl ?? 'the OpenAI API';
  const variable = kind === 'ollama' ? 'OLLAMA_BASE_URL' : 'OPENAI_BASE_URL';
  if (kind === 'openai' && !baseUrl && !config.openai.apiKey) {
    return [fail(kind, 'OPENAI_API_KEY is not set', 'put OPENAI_API_KEY=sk-… in .env (platform.openai.com → API keys), or set OPENAI_BASE_URL to a local server')];
  }
  const checks: DoctorCheck[] = [ok(kind, `${kind} provider: ${where}, model${models.length > 1 ? 's' : ''} ${models.join(', ')}`)];
  const client = new OpenAI({ apiKey: config.openai.apiKey ?? 'not-needed', baseURL: baseUrl, maxRetries: 0, timeout: timeoutMs });
  // a local server is asked without --live (it costs nothing); a paid API only with it
  if (baseUrl) {
    let root: string | undefined;
    try {
      root = await detectOllama(baseUrl, timeoutMs);
    } catch (error) {
      checks.push(fail(`${kind}_reachable`, `nothing answers at ${baseUrl}: ${errorMessage(error)}`, `start the server (\`ollama serve\`, llama-server, vllm serve …) or fix ${variable}`));
      return checks;
    }
    if (root) {
      for (const model of models) checks.push(...await checkOllamaModel(root, model, config.contextWindow));
    } else {
      checks.push(...await checkListedModels(client, where, models));
    }
  } else if (!live) {
    checks.push(skip(`${kind}_live`, 'OpenAI API not called (add --live to make one tiny request)'));
  }
  if (live) checks.push(...await checkCompletion(client, where, models[0], !baseUrl));
  return checks;
}

async function checkOllamaModel(root: string, model: string, configuredWindow: number | undefined): Promise<DoctorCheck[]> {
  let facts;
  try {
    facts = await ollamaModelFacts(root, model);
  } catch (error) {
    return [fail('ollama_model', errorMessage(error), `ollama pull ${model}`)];
  }
  const checks = [ok('ollama_model', `Ollama at ${root} has ${model}${facts.trainedContext ? ` (trained for ${facts.trainedContext} tokens)` : ''}`)];
  const window = ollamaWindow(facts, configuredWindow);
  if (window.tokens < SMALLEST_USEFUL_WINDOW) {
    // Lares's tools and memory alone take about 5,000 tokens: below this no turn can be sent at all
    checks.push(fail('ollama_context', `${model}'s context is ${window.tokens} tokens (${window.source}); Lares's memory and tools need more`, window.warning ?? `give the model a context of at least ${SMALLEST_USEFUL_WINDOW} tokens (OLLAMA_CONTEXT_LENGTH or PARAMETER num_ctx), then set LARES_CONTEXT_WINDOW`));
  } else if (window.warning) {
    checks.push(fail('ollama_context', `${model}: context ${window.tokens} tokens (${window.source})`, window.warning, false));
  } else {
    checks.push(ok('ollama_context', `${model}: context ${window.tokens} tokens (${window.source}); Lares keeps every request inside it`));
  }
  checks.push(facts.tools
    ? ok('ollama_tools', `${model} takes tools`)
    : fail('ollama_tools', `${model} does not take tools: Lares will run it without memory edits or actions`, 'pick a model with tool support (ollama.com/search?c=tools), e.g. qwen3:8b or llama3.1:8b', false));
  return checks;
}

async function checkListedModels(client: OpenAI, where: string, models: string[]): Promise<DoctorCheck[]> {
  try {
    const listed: string[] = [];
    for await (const model of client.models.list()) listed.push(model.id);
    const missing = models.filter((m) => !listed.includes(m));
    if (missing.length === 0) return [ok('openai_models', `${where} serves ${models.join(', ')}`)];
    return [fail('openai_models', `${where} does not list ${missing.join(', ')} (it lists ${listed.slice(0, 8).join(', ') || 'nothing'}${listed.length > 8 ? ', …' : ''})`, 'set OPENAI_MODEL (or the per-task model) to a name the server lists', false)];
  } catch (error) {
    // some servers have no /models; the live check says more
    return [skip('openai_models', `${where} did not list its models (${error instanceof OpenAI.APIError ? apiMessage(error) : errorMessage(error)})`)];
  }
}

async function checkCompletion(client: OpenAI, where: string, model: string, official: boolean): Promise<DoctorCheck[]> {
  try {
    const reply = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Reply with: ok' }], ...(official ? { max_completion_tokens: 16 } : { max_tokens: 5 }) });
    return [ok('openai_live', `${where} answered with ${reply.model ?? model} (${reply.usage?.total_tokens ?? '?'} tokens)`)];
  } catch (error) {
    const status = error instanceof OpenAI.APIError ? error.status : undefined;
    const fix = status === 401 ? 'the key was refused: check OPENAI_API_KEY'
      : status === 404 ? `the model ${model} was not found: check OPENAI_MODEL (Ollama: ollama pull ${model})`
        : 'check the server, OPENAI_BASE_URL and OPENAI_MODEL';
    return [fail('openai_live', `${where}: ${status ? `HTTP ${status}: ` : ''}${error instanceof OpenAI.APIError ? apiMessage(error) : errorMessage(error)}`, fix)];
  }
}

async function checkAnthropic(config: Config, model: string, live: boolean, timeoutMs: number): Promise<DoctorCheck[]> {
  const required = config.mode === 'direct';
  const key = config.anthropic.apiKey;
  if (!key) {
    if (!required) return [skip('anthropic', 'ANTHROPIC_API_KEY not set (not needed in Letta mode)')];
    return [fail('anthropic', 'ANTHROPIC_API_KEY is not set', 'put ANTHROPIC_API_KEY=sk-ant-… in .env or the EnvironmentFile (console.anthropic.com → API keys)')];
  }
  if (/\s/.test(key)) return [fail('anthropic', 'ANTHROPIC_API_KEY contains spaces or line breaks', 'copy the key again without quotes or spaces', required)];
  const checks = [ok('anthropic', `ANTHROPIC_API_KEY is set (model ${model})`, required)];
  if (!live) {
    checks.push(skip('anthropic_live', 'Anthropic API not called (add --live to make one free count_tokens request)'));
    return checks;
  }
  const client = new Anthropic({ apiKey: key, baseURL: config.anthropic.baseUrl, maxRetries: 0, timeout: timeoutMs });
  try {
    const counted = await client.messages.countTokens({ model: model, messages: [{ role: 'user', content: 'ping' }] });
    checks.push(ok('anthropic_live', `Anthropic API answered (count_tokens: ${counted.input_tokens} tokens for model ${model})`, required));
  } catch (error) {
    const status = (error as { status?: number }).status;
    const fix = status === 401 ? 'the key was refused: create a new one at console.anthropic.com and set ANTHROPIC_API_KEY'
      : status === 404 ? `the model ${model} was not found: set ANTHROPIC_MODEL to a current model`
        : status === 403 ? 'the key may not use this model or API: check the key\'s workspace and permissions'
          : 'check the network and ANTHROPIC_BASE_URL (unset it for api.anthropic.com)';
    checks.push(fail('anthropic_live', `Anthropic API call failed: ${status ? `HTTP ${status}: ` : ''}${errorMessage(error)}`, fix, required));
  }
  return checks;
}
