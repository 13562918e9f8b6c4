// Stored vectors are int8 with one float scale: 4 + d bytes instead of 4·d, and a dot product
// against a float query stays within ~1% of the float one — plenty for ranking 100 candidates.
// Layout: float32 scale (little-endian), then d signed bytes.

export function encodeVector(vector: Float32Array): Uint8Array {
  let max = 0;
  for (const x of vector) max = Math.max(max, Math.abs(x));
  const scale = max === 0 ? 0 : max / 127;
  const out = new Uint8Array(4 + vector.length);
  new DataView(out.buffer).setFloat32(0, scale, true);
  const q = new Int8Array(out.buffer, 4);
  for (let i = 0; i < vector.length; i++) q[i] = scale === 0 ? 0 : Math.round(vector[i] / scale);
  return out;
}

export function decodeVector(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const scale = view.getFloat32(0, true);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset + 4, bytes.byteLength - 4);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scale;
  return out;
}

/** Dot product of a float query with a stored vector; 0 when their sizes differ (another model). */
export function dotStored(query: Float32Array, bytes: Uint8Array): number {
  const length = bytes.byteLength - 4;
  if (length !== query.length) return 0;
  const scale = new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset + 4, length);
  let sum = 0;
  for (let i = 0; i < length; i++) sum += query[i] * q[i];
  return sum * scale;
}
