// The dense ranking: the query's vector against stored vectors of the same embedder model.
// Small indexes are read whole; large ones (IVF_MIN_VECTORS and up) only in the clusters whose
// centres are nearest to the query.
import type { MemoryStore, RankedId, RecallFilters, RecallKind } from '../memory/store.ts';
import { dotStored } from './vector-codec.ts';

/**
 * Vectors a query reads in a clustered index: the nearest clusters until about this many, at least
 * 4 and at most 32 clusters (bench/recall-scale.bench.ts measures the latency).
 */
export const PROBED_VECTORS = 8_000;

export async function denseRanking(store: MemoryStore, kind: RecallKind, model: string, query: Float32Array, filters: RecallFilters, limit: number): Promise<RankedId[]> {
  const centres = await store.recallCentroids(kind, model);
  let clusters: number[] | undefined;
  if (centres.length > 0) {
    // an index of n vectors has about √n clusters of about √n vectors each (clustering.ts)
    const probes = Math.min(32, Math.max(4, Math.ceil(PROBED_VECTORS / centres.length)));
    clusters = centres.map((c, cluster) => ({ cluster, score: dotStored(query, c) }))
      .sort((a, b) => b.score - a.score).slice(0, probes).map((c) => c.cluster);
  }
  const rows = await store.recallVectors(kind, model, filters, clusters);
  const scored: RankedId[] = rows.map((row) => ({ id: row.id, score: dotStored(query, row.vector) }));
  return scored.sort((a, b) => b.score - a.score || b.id - a.id).slice(0, limit);
}
