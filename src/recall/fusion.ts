// Where the rankings meet, so both stores rank alike. A convex combination of normalised scores:
//   BM25 of the message (its text, and its neighbours' at a lower weight) ÷ the query's best,
// + DENSE_WEIGHT × the cosine, rescaled to [0, 1] over the dense candidates,
// + SESSION_WEIGHT × the BM25 of the message's whole session ÷ the query's best session.
// The session term finds the right conversation (who, when) and the message terms the right turn.
// Measured on LoCoMo it beats reciprocal rank fusion, which gives a weak dense ranking as much say
// as a strong keyword one (bench/recall.bench.ts, docs/design.md).
import type { RankedId } from '../memory/store.ts';

export interface FusionInput {
  keyword: RankedId[];
  dense: RankedId[];
  /** sessions ranked by their own BM25, and the session of each candidate */
  sessions: RankedId[];
  sessionOf: Map<number, number>;
}

export function fuseScores(input: FusionInput, weights: { dense: number; session: number }, limit: number): RankedId[] {
  const fused = new Map<number, number>();
  const best = input.keyword[0]?.score ?? 0;
  for (const k of input.keyword) fused.set(k.id, best > 0 ? k.score / best : 0);
  if (input.dense.length > 0) {
    const high = input.dense[0].score;
    const low = input.dense[input.dense.length - 1].score;
    const span = high - low || 1;
    for (const d of input.dense) fused.set(d.id, (fused.get(d.id) ?? 0) + weights.dense * ((d.score - low) / span));
  }
  const bestSession = input.sessions[0]?.score ?? 0;
  if (bestSession > 0) {
    const sessionScore = new Map(input.sessions.map((s) => [s.id, s.score / bestSession]));
    for (const [id, score] of fused) {
      const session = input.sessionOf.get(id);
      if (session !== undefined) fused.set(id, score + weights.session * (sessionScore.get(session) ?? 0));
    }
  }
  return [...fused].map(([id, score]) => ({ id, score }))
    .sort((a, b) => b.score - a.score || b.id - a.id)
    .slice(0, limit);
}
