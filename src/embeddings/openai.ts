// Embeddings from OpenAI or any OpenAI-compatible server (Ollama, vLLM, LM Studio … at their
// /v1), through the official `openai` SDK: POST {baseUrl}/embeddings.
import OpenAI from 'openai';
import { LaresError } from '../errors.ts';
import { embeddingError, normalize, type EmbedKind, type Embedder, networkReason, withoutCredentials } from './embedder.ts';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const OPENAI_DEFAULT_MODEL = 'text-embedding-3-small';
/** The API's limit of inputs per request. */
const MAX_BATCH = 2048;

export interface OpenAiEmbedderOptions {
  /** Required for api.openai.com; local servers usually need none. */
  apiKey?: string;
  /** Default https://api.openai.com/v1. */
  baseUrl?: string;
  /** Default text-embedding-3-small. */
  model?: string;
  /** Shortened vectors (text-embedding-3-* only). */
  dimensions?: number;
  /** Texts per request, at most 2048. Default 256. */
  batchSize?: number;
  /** Per request. Default 60 s. */
  timeoutMs?: number;
}

export class OpenAiEmbedder implements Embedder {
  readonly model: string;
  readonly batchSize: number;
  readonly #client: OpenAI;
  readonly #name: string;
  readonly #dimensions?: number;
  /** For messages only: credentials stripped. */
  readonly #baseUrl: string;
  readonly #apiKey?: string;

  constructor(options: OpenAiEmbedderOptions = {}) {
    const baseUrl = (options.baseUrl ?? OPENAI_DEFAULT_BASE_URL).replace(/\/+$/, '');
    if (!URL.canParse(baseUrl)) throw new LaresError('CONFIG_INVALID', `the OpenAI base URL is not a URL: ${withoutCredentials(baseUrl)}`);
    this.#baseUrl = withoutCredentials(baseUrl);
    this.#name = options.model ?? OPENAI_DEFAULT_MODEL;
    this.#dimensions = options.dimensions;
    this.#apiKey = options.apiKey || undefined;
    this.batchSize = options.batchSize ?? 256;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > MAX_BATCH) {
      throw new LaresError('CONFIG_INVALID', `the OpenAI embedding batch size must be an integer from 1 to ${MAX_BATCH}, not ${options.batchSize}`);
    }
    if (!this.#apiKey && new URL(this.#baseUrl).hostname === 'api.openai.com') {
      throw new LaresError('MISSING_API_KEY', 'OpenAI embeddings need an API key: set OPENAI_API_KEY');
    }
    this.model = `openai:${this.#name}${this.#dimensions ? `@${this.#dimensions}` : ''}`;
    this.#client = new OpenAI({
      // Always explicit: left undefined, the SDK would send OPENAI_API_KEY from the environment to
      // whatever server baseUrl names. Local servers ignore the placeholder.
      apiKey: this.#apiKey ?? 'no-key',
      baseURL: baseUrl,
      maxRetries: 2,
      timeout: options.timeoutMs ?? 60_000,
    });
  }

  async embed(texts: string[], _kind: EmbedKind): Promise<Float32Array[]> {
    // OpenAI's models embed queries and documents alike: `kind` changes nothing here.
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      vectors.push(...(await this.#embedBatch(texts.slice(start, start + this.batchSize))));
    }
    return vectors;
  }

  async #embedBatch(input: string[]): Promise<Float32Array[]> {
    let data: Array<{ index: number; embedding: unknown }>;
    try {
      ({ data } = await this.#client.embeddings.create({
        model: this.#name,
        input,
        encoding_format: 'float',
        ...(this.#dimensions ? { dimensions: this.#dimensions } : {}),
      }));
    } catch (error) {
      throw this.#describe(error);
    }
    const where = `the OpenAI-compatible server at ${this.#baseUrl}`;
    if (!Array.isArray(data) || data.length !== input.length) {
      throw embeddingError(`${where} returned ${Array.isArray(data) ? data.length : 'no'} vectors for ${input.length} texts: is ${this.#name} an embedding model?`);
    }
    return [...data].sort((a, b) => a.index - b.index).map(({ embedding }) => {
      if (!Array.isArray(embedding) || embedding.length === 0) throw embeddingError(`${where} returned an empty or malformed vector from ${this.#name}`);
      return normalize(embedding);
    });
  }

  #describe(error: unknown): LaresError {
    const where = `the OpenAI-compatible server at ${this.#baseUrl}`;
    if (error instanceof OpenAI.APIConnectionTimeoutError) {
      return embeddingError(`${where} did not answer in time (after 3 tries): try again later, or a smaller batch size`, error);
    }
    if (error instanceof OpenAI.APIConnectionError) {
      return embeddingError(`cannot reach ${where} (${networkReason(error)}): check OPENAI_BASE_URL and that the server is running`, error);
    }
    if (!(error instanceof OpenAI.APIError) || error.status === undefined) {
      return embeddingError(`${where} failed: ${this.#scrub((error as Error)?.message ?? String(error))}`, error);
    }
    const status = error.status;
    // The server's own words, minus the key (OpenAI's 401 quotes part of it).
    const detail = this.#scrub(String((error.error as { message?: unknown } | undefined)?.message ?? error.message));
    if (status === 401) return embeddingError(`${where} refused the API key (401): check OPENAI_API_KEY`, error);
    if (status === 403) return embeddingError(`${where} denied access (403): ${detail}: check the key's permissions and project`, error);
    if (status === 404 && (error.code === 'model_not_found' || /model/i.test(detail))) {
      return embeddingError(`${where} has no model ${this.#name} (404): ${detail}: check the model name, or pull it on a local server`, error);
    }
    if (status === 404) return embeddingError(`${where} has no embeddings endpoint (404): ${detail}: check OPENAI_BASE_URL (it usually ends in /v1)`, error);
    if (status === 429) return embeddingError(`${where} is rate-limiting us (429, after 3 tries): ${detail}: wait, or lower the batch size`, error);
    if (status >= 500) return embeddingError(`${where} failed (${status}, after 3 tries): ${detail}: try again later`, error);
    return embeddingError(`${where} rejected the request (${status}): ${detail}`, error);
  }

  #scrub(text: string): string {
    return this.#apiKey ? text.split(this.#apiKey).join('***') : text;
  }
}


