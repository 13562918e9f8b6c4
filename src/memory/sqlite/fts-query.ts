// Turns what a person or the model typed into a safe FTS5 query: every word is quoted
// (so `"`, `*`, `AND`, `NEAR(` are plain text), all words must match; the caller may retry with any.
export function ftsQuery(input: string, mode: 'all' | 'any' = 'all'): string | undefined {
  const words = input.match(/[\p{L}\p{N}_]+/gu);
  if (!words || words.length === 0) return undefined;
  const quoted = [...new Set(words.map((w) => w.toLowerCase()))].map((w) => `"${w}"`);
  return quoted.join(mode === 'all' ? ' AND ' : ' OR ');
}
