// Embeddings from Voyage AI's REST API (POST /v1/embeddings) over plain fetch: the official
// voyageai SDK drags in heavy peer dependencies for one JSON request.
import { LaresError } from '../errors.ts';
import { embeddingError, normalize, type EmbedKind, type Embedder, networkReason } from './embedder.ts';

export const VOYAGE_DEFAULT_BASE_URL = 'https://api.voyageai.com';
export const VOYAGE_DEFAULT_MODEL = 'voyage-3.5-lite';
/** Voyage's limit of inputs per request. */
const MAX_BATCH = 1000;
const MAX_TRIES = 3;
/** A longer retry-after is honoured only up to this; recall should not stall for minutes. */
const MAX_RETRY_DELAY_MS = 30_000;

export interface VoyageEmbedderOptions {
  apiKey: string;
  /** Default https://api.voyageai.com (the endpoint is `${baseUrl}/v1/embeddings`). */
  baseUrl?: string;
  /** Default voyage-3.5-lite. */
  model?: string;
  /** Texts per request, at most 1000. Default 128, which keeps typical chunks under the 120K-token cap of Voyage's large models. */
  batchSize?: number;
  /** Per try. Default 60 s. */
  timeoutMs?: number;
}

export class VoyageEmbedder implements Embedder {
  readonly model: string;
  readonly batchSize: number;
  readonly #apiKey: string;
  readonly #name: string;
  readonly #baseUrl: string;
  /** For messages only: credentials stripped. */
  readonly #shownUrl: string;
  readonly #timeoutMs: number;

  constructor(options: VoyageEmbedderOptions) {
    if (!options.apiKey) throw new LaresError('MISSING_API_KEY', 'Voyage AI embeddings need an API key: set VOYAGE_API_KEY');
    this.#apiKey = options.apiKey;
    this.#baseUrl = (options.baseUrl ?? VOYAGE_DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.#shownUrl = this.#baseUrl.replace(/\/\/[^/@]*@/, '//');
    this.#name = options.model ?? VOYAGE_DEFAULT_MODEL;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.batchSize = options.batchSize ?? 128;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > MAX_BATCH) {
      throw new LaresError('CONFIG_INVALID', `the Voyage AI embedding batch size must be an integer from 1 to ${MAX_BATCH}, not ${options.batchSize}`);
    }
    this.model = `voyage:${this.#name}`;
  }

  async embed(texts: string[], kind: EmbedKind): Promise<Float32Array[]> {
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      vectors.push(...(await this.#embedBatch(texts.slice(start, start + this.batchSize), kind)));
    }
    return vectors;
  }

  async #embedBatch(input: string[], kind: EmbedKind): Promise<Float32Array[]> {
    const url = `${this.#baseUrl}/v1/embeddings`;
    // Voyage prepends its own query/document prompt for input_type; truncation keeps long chunks from failing the batch.
    const body = JSON.stringify({ input, model: this.#name, input_type: kind, truncation: true });
    let response: Response;
    try {
      response = await fetchWithRetries(() => fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.#apiKey}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      }));
    } catch (error) {
      if ((error as Error)?.name === 'TimeoutError') {
        throw embeddingError(`Voyage AI at ${this.#shownUrl} did not answer in time: try again later, or a smaller batch size`, error);
      }
      throw embeddingError(`cannot reach Voyage AI at ${this.#shownUrl} (${networkReason(error)}): check the network and the Voyage base URL`, error);
    }
    if (!response.ok) throw this.#describe(response.status, await readDetail(response));

    let data: unknown;
    try {
      ({ data } = (await response.json()) as { data?: unknown });
    } catch (error) {
      throw embeddingError(`Voyage AI at ${this.#shownUrl} answered with something other than JSON: is the base URL right?`, error);
    }
    if (!Array.isArray(data) || data.length !== input.length) {
      throw embeddingError(`Voyage AI at ${this.#shownUrl} returned ${Array.isArray(data) ? data.length : 'no'} vectors for ${input.length} texts`);
    }
    return [...(data as Array<{ index: number; embedding: unknown }>)].sort((a, b) => a.index - b.index).map(({ embedding }) => {
      if (!Array.isArray(embedding) || embedding.length === 0) throw embeddingError(`Voyage AI at ${this.#shownUrl} returned an empty or malformed vector`);
      return normalize(embedding);
    });
  }

  #describe(status: number, rawDetail: string): LaresError {
    const where = `Voyage AI at ${this.#shownUrl}`;
    const detail = rawDetail.split(this.#apiKey).join('***');
    if (status === 401) return embeddingError(`${where} refused the API key (401): check VOYAGE_API_KEY`);
    if (status === 403) return embeddingError(`${where} refused the request (403): ${detail}: Voyage may block this IP address`);
    if (status === 429) return embeddingError(`${where} is rate-limiting us (429, after ${MAX_TRIES} tries): ${detail}: wait, or lower the batch size`);
    if (status >= 500) return embeddingError(`${where} failed (${status}, after ${MAX_TRIES} tries): ${detail}: try again later`);
    const hint = /tokens/i.test(detail) ? ': lower the embedding batch size' : '';
    return embeddingError(`${where} rejected the request (${status}): ${detail}${hint}`);
  }
}

/** Sends until the answer is neither 429 nor 5xx, at most MAX_TRIES times, waiting as retry-after says or backing off. */
async function fetchWithRetries(send: () => Promise<Response>): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const response = await send();
    if (attempt >= MAX_TRIES || (response.status !== 429 && response.status < 500)) return response;
    await response.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, retryDelayMs(response.headers.get('retry-after'), attempt)));
  }
}

/** retry-after in seconds or as an HTTP date, capped; without one, 1 s then 2 s, with jitter. */
function retryDelayMs(retryAfter: string | null, attempt: number): number {
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), MAX_RETRY_DELAY_MS);
  }
  return 1000 * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5);
}

/** Voyage's errors are `{"detail": "..."}`; anything else (a proxy's page) is shown shortened. */
async function readDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const detail = (JSON.parse(text) as { detail?: unknown }).detail;
    if (detail !== undefined) return typeof detail === 'string' ? detail : JSON.stringify(detail);
  } catch {
    // not JSON: fall through
  }
  return text.trim().slice(0, 300) || response.statusText || 'no details';
}

