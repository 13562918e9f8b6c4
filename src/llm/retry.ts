// Retries a model call on errors that can pass (429, 529, 5xx, timeouts, dropped connections)
// with exponential backoff and jitter, honouring the server's retry-after. Spend limits,
// bad requests and bad keys are not retried.
import { LlmError } from './provider.ts';

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 4, baseDelayMs: 1000, maxDelayMs: 60_000 };

export async function withRetries<T>(
  call: () => Promise<T>,
  toError: (error: unknown) => LlmError,
  policy: RetryPolicy,
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (raw) {
      const error = toError(raw);
      if (!error.retryable || attempt >= policy.maxRetries || signal?.aborted) throw error;
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      const delayMs = Math.round(Math.min(policy.maxDelayMs, error.retryAfterMs ?? backoff));
      onRetry?.({ attempt: attempt + 1, delayMs, reason: error.message });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** The wait a 429/503 asks for: `retry-after-ms`, or `retry-after` in seconds or as an HTTP date. */
export function retryAfterFromHeaders(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const seconds = headers.get('retry-after');
  if (!seconds) return undefined;
  if (Number.isFinite(Number(seconds))) return Number(seconds) * 1000;
  const date = Date.parse(seconds);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
