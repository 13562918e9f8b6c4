// What Lares needs to know about a model on an Ollama server before it talks to it through
// Ollama's OpenAI endpoint (/v1): is it pulled, does it take tools and images, and how many
// tokens its context holds. The last matters most: when a prompt is longer than num_ctx,
// Ollama shortens it without an error — it drops the oldest messages, then cuts into the start
// of the prompt, the system prompt that holds Lares's memory. /v1 cannot set num_ctx per request, so Lares reads it and keeps every
// request inside it.
import { Ollama } from 'ollama';
import { LlmError } from '../provider.ts';

/** Ollama's context size when neither the model nor the server sets one (OLLAMA_CONTEXT_LENGTH). */
export const OLLAMA_DEFAULT_CONTEXT = 4096;

export interface OllamaModelFacts {
  host: string;
  model: string;
  /** `num_ctx` from the model's parameters (its Modelfile), when set */
  numCtx?: number;
  /** the context the model was trained for (model_info `<arch>.context_length`) */
  trainedContext?: number;
  tools: boolean;
  vision: boolean;
}

export interface OllamaWindow {
  tokens: number;
  /** where the number came from, for logs and `lares doctor` */
  source: string;
  /** set when Lares had to guess, or when LARES_CONTEXT_WINDOW asks for more than Ollama gives */
  warning?: string;
}

/** The server root of an OpenAI-compatible base URL (`http://host:11434/v1` → `http://host:11434`). */
export function serverRoot(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/**
 * The Ollama root behind `baseUrl`, or undefined when the server there is not Ollama. Throws
 * when nothing answers (so the question is asked again once the server is up).
 */
export async function detectOllama(baseUrl: string, timeoutMs = 5000): Promise<string | undefined> {
  const root = serverRoot(baseUrl);
  let response: Response;
  try {
    response = await fetch(`${root}/api/version`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new LlmError('connection', `cannot reach the model server at ${baseUrl} (${cause}). Is it running? Check OPENAI_BASE_URL (or OLLAMA_BASE_URL with LARES_PROVIDER=ollama).`, { retryable: true, cause: error });
  }
  if (!response.ok) return undefined;
  const body = await response.json().catch(() => undefined) as { version?: unknown } | undefined;
  return typeof body?.version === 'string' ? root : undefined;
}

export async function ollamaModelFacts(host: string, model: string): Promise<OllamaModelFacts> {
  const client = new Ollama({ host });
  let show: Awaited<ReturnType<Ollama['show']>>;
  try {
    show = await client.show({ model });
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (/not found/i.test(message)) {
      throw new LlmError('not_found', `Ollama at ${host} does not have the model ${model}: run \`ollama pull ${model}\` on that machine, or set OPENAI_MODEL to one of \`ollama list\`.`, { status: 404, retryable: false, cause: error });
    }
    throw new LlmError('server', `cannot ask Ollama at ${host} about ${model}: ${message}`, { retryable: true, cause: error });
  }
  const numCtx = /(?:^|\n)\s*num_ctx\s+(\d+)/.exec(show.parameters ?? '')?.[1];
  const info = (show.model_info ?? {}) as unknown as Record<string, unknown>;
  const trained = Object.entries(info).find(([key]) => key.endsWith('.context_length'))?.[1];
  const capabilities = show.capabilities ?? [];
  return {
    host, model,
    numCtx: numCtx ? Number(numCtx) : undefined,
    trainedContext: typeof trained === 'number' ? trained : undefined,
    // servers older than capabilities (before 0.6.4) get the benefit of the doubt
    tools: capabilities.length === 0 || capabilities.includes('tools'),
    vision: capabilities.includes('vision'),
  };
}

/**
 * The context Lares may fill. The model's num_ctx wins (it overrides the server's setting);
 * then LARES_CONTEXT_WINDOW (the person says they raised OLLAMA_CONTEXT_LENGTH); then Ollama's
 * default. The loaded runner's size (/api/ps) is not trusted: another client may have loaded the
 * model with its own num_ctx, and a /v1 request reloads it at the default.
 */
export function ollamaWindow(facts: OllamaModelFacts, configured?: number): OllamaWindow {
  const raise = `raise it: \`OLLAMA_CONTEXT_LENGTH=32768 ollama serve\`, or a model with \`PARAMETER num_ctx 32768\` in its Modelfile (\`ollama create\`), then set LARES_CONTEXT_WINDOW=32768`;
  const known = facts.numCtx;
  if (known !== undefined) {
    const source = `num_ctx ${known} in the model's parameters`;
    if (configured !== undefined && configured > known) {
      return { tokens: known, source, warning: `LARES_CONTEXT_WINDOW=${configured} is more than Ollama gives ${facts.model} (${source}); Lares keeps requests under ${known} tokens. To use more, ${raise}.` };
    }
    return { tokens: configured ?? known, source: configured !== undefined ? 'LARES_CONTEXT_WINDOW' : source };
  }
  if (configured !== undefined) return { tokens: configured, source: 'LARES_CONTEXT_WINDOW' };
  return {
    tokens: OLLAMA_DEFAULT_CONTEXT,
    source: `Ollama's default context (${OLLAMA_DEFAULT_CONTEXT})`,
    warning: `Ollama gives ${facts.model} a context of ${OLLAMA_DEFAULT_CONTEXT} tokens unless told otherwise, which is small for Lares's memory and tools; ${raise}.`,
  };
}
