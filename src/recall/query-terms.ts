// What a search query asks for, as keywords: words and numbers, lower-cased, without the words
// that every message has ("what", "did", "the"). Ranked retrieval is OR-ed over these terms
// (BM25 weighs rare ones up), so a question finds the turn that answers it even though the
// turn shares only a few of its words. Stemming happens in the index (FTS5 porter, PostgreSQL
// 'english'), so the same terms serve both stores.

const STOPWORDS = new Set(`a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or
other our ours ourselves out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while who whom whose why will
with would you your yours yourself yourselves s t don doesn didn isn wasn aren weren ll ve re d m also ever likely might
may must shall tell told know think something anything thing things get got much many way`.split(/\s+/));

/** The distinct keywords of a query, in order; empty when it has none (only stopwords or punctuation). */
export function queryTerms(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const terms: string[] = [];
  for (const word of words) {
    if (STOPWORDS.has(word) || (word.length < 2 && !/\d/.test(word))) continue;
    if (!terms.includes(word)) terms.push(word);
  }
  // a query of nothing but stopwords still means something ("who is she"): search for those words
  if (terms.length === 0) for (const word of words) if (!terms.includes(word)) terms.push(word);
  return terms.slice(0, 32);
}

/** FTS5 MATCH expression: each term quoted (so AND, NEAR, * and quotes are plain text), OR-ed. */
export function fts5OrQuery(terms: string[]): string | undefined {
  return terms.length === 0 ? undefined : terms.map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
}
