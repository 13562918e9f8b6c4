// Maps an error from the official openai SDK (OpenAI, Ollama, vLLM, llama.cpp, OpenRouter, …) to
// an LlmError that says what happened and what to do. Local servers answer errors as
// `{error: {message}}`, as `{error: "text"}` or as plain text; all three are read.
import OpenAI from 'openai';
import { LlmError } from '../provider.ts';
import { retryAfterFromHeaders as retryAfter } from '../retry.ts';

export interface EndpointLabel {
  /** "the OpenAI API", "Ollama at http://127.0.0.1:11434", … */
  name: string;
  /** the variables a user checks, e.g. "OPENAI_BASE_URL" */
  urlVariable: string;
}

export function mapOpenAIError(error: unknown, endpoint: EndpointLabel): LlmError {
  if (error instanceof LlmError) return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new LlmError('timeout', `${endpoint.name} did not answer in time`, { retryable: true, cause: error });
  }
  if (error instanceof OpenAI.APIUserAbortError) {
    return new LlmError('other', 'the model call was cancelled', { retryable: false, cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new LlmError('connection', `cannot reach ${endpoint.name} (${causeText(error)}). Is the server running? Check ${endpoint.urlVariable}.`, { retryable: true, cause: error });
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status ?? 0;
    const message = apiMessage(error);
    const code = String(error.code ?? '');
    const retryAfterMs = retryAfter(error.headers);
    if (status === 401) return new LlmError('authentication', `${endpoint.name} rejected the key: check OPENAI_API_KEY. (${message})`, { status, retryable: false, cause: error });
    if (status === 403) return new LlmError('permission', `${endpoint.name} refused this request: ${message}`, { status, retryable: false, cause: error });
    if (status === 404) return new LlmError('not_found', `${endpoint.name} does not know this model or route: ${message}. Check OPENAI_MODEL (for Ollama: \`ollama pull <model>\`) and ${endpoint.urlVariable} (it usually ends in /v1).`, { status, retryable: false, cause: error });
    if (code === 'insufficient_quota' || /insufficient.quota|billing|credit/i.test(message) || status === 402) {
      return new LlmError('spend_limit', `${endpoint.name} cannot pay for more requests: ${message}. Add credit or raise the limit, then try again.`, { status, retryable: false, cause: error });
    }
    // a server without tool support (Ollama, llama.cpp without --jinja, vLLM without a tool parser)
    // says so in its own words, sometimes as a 500: not worth a retry, the provider drops the tools
    if (isToolsUnsupported(message)) return new LlmError('invalid_request', `${endpoint.name} rejected the request (${status}): ${message}`, { status, retryable: false, cause: error });
    if (code === 'context_length_exceeded' || /context length|context window|maximum context|too many tokens|prompt is too long|context size|exceed_context_size/i.test(message)) {
      return new LlmError('context_exceeded', `the request is larger than the model's context window: ${message}`, { status, retryable: false, cause: error });
    }
    if (status === 429) return new LlmError('rate_limit', `rate limited by ${endpoint.name}: ${message}`, { status, retryable: true, retryAfterMs, cause: error });
    if (status === 408 || status === 409 || status >= 500) return new LlmError('server', `${endpoint.name} failed (${status}): ${message}`, { status, retryable: true, retryAfterMs, cause: error });
    // an error event inside a stream that had already answered 200 has no status
    if (status === 0) return new LlmError('server', `${endpoint.name} failed during the reply: ${message}`, { retryable: true, retryAfterMs, cause: error });
    return new LlmError('invalid_request', `${endpoint.name} rejected the request (${status}): ${message}`, { status, retryable: false, cause: error });
  }
  return new LlmError('other', `the model call failed: ${(error as Error)?.message ?? String(error)}`, { retryable: false, cause: error });
}

/** A server's way of saying the model (or the server as started) takes no tools. */
export function isToolsUnsupported(message: string): boolean {
  return /does not support tools|tools? (are|is) not supported|tool.?use is not supported|tools param requires --jinja|tool choice requires|enable-auto-tool-choice/i.test(message);
}

/** The server's own words: `{error: {message}}`, `{error: "…"}` or a plain-text body. */
export function apiMessage(error: InstanceType<typeof OpenAI.APIError>): string {
  const body = error.error as unknown;
  if (typeof body === 'string') return body.trim();
  const nested = (body as { message?: unknown } | undefined)?.message;
  if (typeof nested === 'string') return nested.trim();
  return error.message.replace(/^\d{3}\s+/, '').trim() || `status ${error.status ?? 'unknown'}`;
}

function causeText(error: Error): string {
  const cause = (error as { cause?: { code?: string; message?: string; cause?: { code?: string } } }).cause;
  return cause?.code ?? cause?.cause?.code ?? cause?.message ?? error.message;
}
