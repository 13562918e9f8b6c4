// The Embedder interface: turns text into vectors for the dense side of recall.
// One file per embedder beside this one; `open-embedder.ts` picks one from the config.
import { LaresError } from '../errors.ts';

/** What the text is for: some models embed a question differently from a passage. */
export type EmbedKind = 'query' | 'document';

export interface Embedder {
  /**
   * Names the model and its settings, e.g. `local:<model>` or `ollama:nomic-embed-text`.
   * Stored with every vector: a vector whose model differs from the current embedder's is stale.
   */
  readonly model: string;
  /** Largest batch one `embed` call should get. */
  readonly batchSize: number;
  /** One unit-length vector per text, in order. Throws LaresError('EMBEDDING_ERROR') naming the service and what to do. */
  embed(texts: string[], kind: EmbedKind): Promise<Float32Array[]>;
  close?(): Promise<void>;
}

export function embeddingError(message: string, cause?: unknown): LaresError {
  return new LaresError('EMBEDDING_ERROR', message, cause === undefined ? undefined : { cause });
}

/** Scales a vector to unit length (cosine similarity becomes a dot product). */
export function normalize(vector: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(vector);
  let norm = 0;
  for (let i = 0; i < out.length; i++) norm += out[i] * out[i];
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

/** "connect ECONNREFUSED", "getaddrinfo ENOTFOUND" …: what fetch's TypeError("fetch failed") hides in its cause (an SDK may wrap it once more). */
export function networkReason(error: unknown): string {
  let cause = (error as { cause?: unknown })?.cause as { code?: string; syscall?: string; message?: string; cause?: unknown } | undefined;
  while (cause && !cause.code && cause.cause) cause = cause.cause as typeof cause;
  if (cause?.code) return [cause.syscall, cause.code].filter(Boolean).join(' ');
  return cause?.message ?? (error as Error)?.message ?? String(error);
}

/** A URL fit for messages: any user:password@ removed. */
export function withoutCredentials(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//');
}
