// Clusters for the dense index (an inverted-file index): vectors are grouped around k centres,
// and a query reads only the vectors of the few centres nearest to it instead of all of them.
// k-means runs on a sample; all vectors are then assigned through 32 coarse groups first, so
// training a million vectors costs seconds, not the hour a flat assignment to 1,000 centres would.

export const IVF_MIN_VECTORS = 20_000;
const SAMPLE = 20_000;
const ITERATIONS = 6;

/** Deterministic pseudo-random numbers (mulberry32), so an index is built the same way twice. */
export function random(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = Math.imul(x ^ (x >>> 15), 1 | x);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

export function nearest(vector: Float32Array, centres: Float32Array[]): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < centres.length; c++) {
    const score = dot(vector, centres[c]);
    if (score > bestScore) { bestScore = score; best = c; }
  }
  return best;
}

/** Spherical k-means (vectors are unit length: nearest = largest dot product). */
export function kMeans(vectors: Float32Array[], k: number, seed = 1): Float32Array[] {
  const next = random(seed);
  const count = Math.min(k, vectors.length);
  const centres: Float32Array[] = [];
  const picked = new Set<number>();
  while (centres.length < count) {
    const i = Math.floor(next() * vectors.length);
    if (!picked.has(i)) { picked.add(i); centres.push(Float32Array.from(vectors[i])); }
  }
  const dims = vectors[0]?.length ?? 0;
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const sums = centres.map(() => new Float32Array(dims));
    const sizes = new Array<number>(centres.length).fill(0);
    for (const v of vectors) {
      const c = nearest(v, centres);
      sizes[c]++;
      const sum = sums[c];
      for (let i = 0; i < dims; i++) sum[i] += v[i];
    }
    sums.forEach((sum, c) => {
      if (sizes[c] === 0) { centres[c] = Float32Array.from(vectors[Math.floor(next() * vectors.length)]); return; }
      let norm = 0;
      for (const x of sum) norm += x * x;
      norm = Math.sqrt(norm) || 1;
      for (let i = 0; i < dims; i++) sum[i] /= norm;
      centres[c] = sum;
    });
  }
  return centres;
}

/** How many centres an index of n vectors gets: about √n, at most 1,024. */
export function clusterCount(n: number): number {
  return Math.min(1024, Math.max(16, Math.round(Math.sqrt(n))));
}

export interface Trained { centres: Float32Array[]; assign(vector: Float32Array): number }

/** Trains k centres on a sample and returns them with a fast two-level assignment. */
export function trainClusters(sample: Float32Array[], k: number): Trained {
  const next = random(7);
  const picked = sample.length <= SAMPLE ? sample : Array.from({ length: SAMPLE }, () => sample[Math.floor(next() * sample.length)]);
  const coarseCount = Math.min(32, Math.max(1, Math.round(Math.sqrt(k))));
  const coarse = kMeans(picked, coarseCount, 11);
  const groups = coarse.map(() => [] as Float32Array[]);
  for (const v of picked) groups[nearest(v, coarse)].push(v);
  const perGroup = Math.max(1, Math.round(k / coarse.length));
  const fineByGroup = groups.map((group, g) => (group.length === 0 ? [coarse[g]] : kMeans(group, Math.min(perGroup, group.length), 13 + g)));
  const centres = fineByGroup.flat();
  const offsets: number[] = [];
  let offset = 0;
  for (const fine of fineByGroup) { offsets.push(offset); offset += fine.length; }
  return {
    centres,
    assign: (vector) => {
      const g = nearest(vector, coarse);
      return offsets[g] + nearest(vector, fineByGroup[g]);
    },
  };
}
