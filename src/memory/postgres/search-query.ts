// Turns what a person or the model typed into PostgreSQL text-search input with the same
// semantics as the SQLite store: the words (letters, digits, _) only, so operators and quotes
// in the text are plain text; all words must match, and the caller may retry with any.
export function searchWords(input: string): string[] {
  const words = input.match(/[\p{L}\p{N}_]+/gu);
  // no lowercasing here: to_tsvector and the tsquery functions normalise case the same way
  return words ? [...new Set(words)] : [];
}

/**
 * The SQL expression and its parameter for a text-search query over the 'simple' configuration:
 * 'all' → plainto_tsquery (every word), 'any' → websearch_to_tsquery with the words joined by `or`.
 */
export function tsQuery(input: string, mode: 'all' | 'any'): { sql: string; param: string } | undefined {
  const words = searchWords(input);
  if (words.length === 0) return undefined;
  if (mode === 'all') return { sql: "plainto_tsquery('simple', $QUERY)", param: words.join(' ') };
  // `or` between words is websearch syntax; a literal word "or" is searched as itself elsewhere
  return { sql: "websearch_to_tsquery('simple', $QUERY)", param: words.filter((w) => w.toLowerCase() !== 'or').join(' or ') || words.join(' ') };
}
