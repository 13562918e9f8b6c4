// The dense ranking: the query's vector against stored vectors of the same embedder model.
// Small indexes are read whole; large ones (IVF_MIN_VECTORS and up) only in the clusters whose
// centres are nearest to the query.
import type { MemoryStore, RankedId, RecallFilters, RecallKind } from '../memory/store.ts';
import { dotStored } from './vector-codec.ts';

/** Clusters read per query: about 2% of a 1,000-cluster index; measured in bench/recall.bench.ts. */
export const PROBES = 24;

export async function denseRanking(store: MemoryStore, kind: RecallKind, model: string, query: Float32Array, filters: RecallFilters, limit: number): Promise<RankedId[]> {
  const centres = await store.recallCentroids(kind, model);
  let clusters: number[] | undefined;
  if (centres.length > 0) {
    clusters = centres.map((c, cluster) => ({ cluster, score: dotStored(query, c) }))
      .sort((a, b) => b.score - a.score).slice(0, PROBES).map((c) => c.cluster);
  }
  const rows = await store.recallVectors(kind, model, filters, clusters);
  const scored: RankedId[] = rows.map((row) => ({ id: row.id, score: dotStored(query, row.vector) }));
  return scored.sort((a, b) => b.score - a.score || b.id - a.id).slice(0, limit);
}
