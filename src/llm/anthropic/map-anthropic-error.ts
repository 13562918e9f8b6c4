// Maps an error from the official SDK to an LlmError that says what happened and what to do.
import Anthropic from '@anthropic-ai/sdk';
import { LlmError } from '../provider.ts';
import { retryAfterFromHeaders as retryAfter } from '../retry.ts';

const SPEND_LIMIT_CODES = new Set(['contract_spend_limit_reached', 'enforced_spend_limit_reached', 'linked_organization_spend_limit_reached', 'ramp_limit_exceeded']);

export function mapAnthropicError(error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new LlmError('timeout', 'the Anthropic API did not answer in time', { retryable: true, cause: error });
  }
  if (error instanceof Anthropic.APIUserAbortError) {
    return new LlmError('other', 'the model call was cancelled', { retryable: false, cause: error });
  }
  if (error instanceof Anthropic.APIConnectionError) {
    return new LlmError('connection', `cannot reach the Anthropic API (${causeText(error)}). Check the network, or ANTHROPIC_BASE_URL if you set one.`, { retryable: true, cause: error });
  }
  if (error instanceof Anthropic.APIError) {
    const status = error.status ?? 0;
    const apiMessage = error.apiMessage ?? error.message;
    const retryAfterMs = retryAfter(error.headers);
    const code = error.errorCode ?? '';
    if (status === 401) return new LlmError('authentication', 'the Anthropic API rejected the key: check ANTHROPIC_API_KEY (create one at console.anthropic.com, then put ANTHROPIC_API_KEY=... in .env).', { status, retryable: false, cause: error });
    if (status === 403) return new LlmError('permission', `the Anthropic API refused this request: ${apiMessage}`, { status, retryable: false, cause: error });
    if (status === 404) return new LlmError('not_found', `the Anthropic API does not know this model or route: ${apiMessage}. Check ANTHROPIC_MODEL.`, { status, retryable: false, cause: error });
    if (error.type === 'billing_error' || SPEND_LIMIT_CODES.has(code) || /spend limit|credit balance|billing/i.test(apiMessage)) {
      return new LlmError('spend_limit', `the Anthropic account cannot pay for more requests: ${apiMessage}. Raise the spend limit or add credit, then try again.`, { status, retryable: false, cause: error });
    }
    if (status === 400 && /prompt is too long|context window|too many tokens|exceeds? (the )?context/i.test(apiMessage)) {
      return new LlmError('context_exceeded', `the request is larger than the model's context window: ${apiMessage}`, { status, retryable: false, cause: error });
    }
    if (status === 429) return new LlmError('rate_limit', `rate limited by the Anthropic API: ${apiMessage}`, { status, retryable: true, retryAfterMs, cause: error });
    if (status === 529) return new LlmError('overloaded', 'the Anthropic API is overloaded', { status, retryable: true, retryAfterMs, cause: error });
    if (status === 408 || status === 409 || status >= 500) return new LlmError('server', `the Anthropic API failed (${status}): ${apiMessage}`, { status, retryable: true, retryAfterMs, cause: error });
    // an error sent mid-stream (an SSE `error` event after HTTP 200) has no status, only its type
    if (status === 0) {
      if (error.type === 'overloaded_error') return new LlmError('overloaded', 'the Anthropic API is overloaded', { retryable: true, retryAfterMs, cause: error });
      if (error.type === 'rate_limit_error') return new LlmError('rate_limit', `rate limited by the Anthropic API: ${apiMessage}`, { retryable: true, retryAfterMs, cause: error });
      if (error.type === 'api_error' || error.type === 'timeout_error') return new LlmError('server', `the Anthropic API failed during the reply: ${apiMessage}`, { retryable: true, retryAfterMs, cause: error });
    }
    return new LlmError('invalid_request', `the Anthropic API rejected the request (${status}): ${apiMessage}`, { status, retryable: false, cause: error });
  }
  return new LlmError('other', `the model call failed: ${(error as Error)?.message ?? String(error)}`, { retryable: false, cause: error });
}

function causeText(error: Error): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? error.message;
}
