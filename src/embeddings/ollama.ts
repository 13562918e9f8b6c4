// Embeddings from an Ollama server (POST /api/embed), through the official `ollama` client.
import { Ollama } from 'ollama';
import { LaresError } from '../errors.ts';
import { embeddingError, normalize, type EmbedKind, type Embedder, networkReason, withoutCredentials } from './embedder.ts';

export const OLLAMA_DEFAULT_BASE_URL = 'http://127.0.0.1:11434';
export const OLLAMA_DEFAULT_MODEL = 'nomic-embed-text';

export interface OllamaEmbedderOptions {
  /** Default http://127.0.0.1:11434. */
  baseUrl?: string;
  /** Default nomic-embed-text. */
  model?: string;
  /** Texts per request. Default 32: Ollama embeds a request's inputs in parallel, and a small batch keeps each request well inside the timeout on a CPU. */
  batchSize?: number;
  /** Per request. Default 120 s: the first request also loads the model. */
  timeoutMs?: number;
}

/**
 * The task prefix a model wants, if any. nomic-embed-text (every tag and version, v2 too) was
 * trained with `search_query: ` before questions and `search_document: ` before passages, and
 * retrieves noticeably worse without them; Ollama sends the text as given, so we add them.
 * Other models get the text unchanged.
 */
export function ollamaTaskPrefix(model: string, kind: EmbedKind): string {
  const name = model.split('/').pop() ?? model;
  if (!name.toLowerCase().startsWith('nomic-embed-text')) return '';
  return kind === 'query' ? 'search_query: ' : 'search_document: ';
}

export class OllamaEmbedder implements Embedder {
  readonly model: string;
  readonly batchSize: number;
  readonly #client: Ollama;
  readonly #name: string;
  /** For messages only: credentials stripped. */
  readonly #baseUrl: string;

  constructor(options: OllamaEmbedderOptions = {}) {
    const baseUrl = (options.baseUrl ?? OLLAMA_DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.#baseUrl = withoutCredentials(baseUrl);
    this.#name = options.model ?? OLLAMA_DEFAULT_MODEL;
    this.batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new LaresError('CONFIG_INVALID', `the Ollama embedding batch size must be a positive integer, not ${options.batchSize}`);
    }
    this.model = `ollama:${this.#name}`;
    const timeoutMs = options.timeoutMs ?? 120_000;
    // The client has no timeout of its own: a hung server would hang recall forever.
    const timedFetch: typeof fetch = (input, init) => fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
    this.#client = new Ollama({ host: baseUrl, fetch: timedFetch });
  }

  async embed(texts: string[], kind: EmbedKind): Promise<Float32Array[]> {
    const prefix = ollamaTaskPrefix(this.#name, kind);
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      const batch = texts.slice(start, start + this.batchSize).map((text) => prefix + text);
      vectors.push(...(await this.#embedBatch(batch)));
    }
    return vectors;
  }

  async #embedBatch(input: string[]): Promise<Float32Array[]> {
    let embeddings: unknown;
    try {
      ({ embeddings } = await this.#client.embed({ model: this.#name, input, truncate: true }));
    } catch (error) {
      throw this.#describe(error);
    }
    if (!Array.isArray(embeddings) || embeddings.length !== input.length) {
      const got = Array.isArray(embeddings) ? embeddings.length : 'no';
      throw embeddingError(`Ollama at ${this.#baseUrl} returned ${got} vectors for ${input.length} texts: is ${this.#name} an embedding model, and is Ollama up to date?`);
    }
    return embeddings.map((vector) => {
      if (!Array.isArray(vector) || vector.length === 0) {
        throw embeddingError(`Ollama at ${this.#baseUrl} returned an empty vector from ${this.#name}: is it an embedding model?`);
      }
      return normalize(vector);
    });
  }

  #describe(error: unknown): LaresError {
    const status = (error as { status_code?: unknown })?.status_code;
    const message = (error as Error)?.message ?? String(error);
    if (typeof status === 'number') {
      if (status === 404 && /model\b.*not found/i.test(message)) {
        return embeddingError(`Ollama has no model ${this.#name}: run \`ollama pull ${this.#name}\``, error);
      }
      const hint = status >= 500 ? ': see the Ollama server log' : '';
      return embeddingError(`Ollama at ${this.#baseUrl} failed to embed with ${this.#name} (${status}): ${message}${hint}`, error);
    }
    if ((error as Error)?.name === 'TimeoutError') {
      return embeddingError(`Ollama at ${this.#baseUrl} did not answer in time: is the machine overloaded? Try a smaller batch size`, error);
    }
    return embeddingError(`cannot reach Ollama at ${this.#baseUrl} (${networkReason(error)}): is \`ollama serve\` running? Set OLLAMA_BASE_URL to its address`, error);
  }
}


