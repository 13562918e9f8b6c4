// The numbers that shape recall, in one place so that both stores and the benchmark use the same.
// They were chosen on the LoCoMo development split (bench/recall.bench.ts), by whole-set recall,
// not per question; see docs/design.md.

/** BM25 weight of a message's neighbours next to its own text (1.0): names and topics said just before or after. */
export const CONTEXT_WEIGHT = 0.4;
/** Neighbours on each side that make a message's keyword context (same conversation and session). */
export const CONTEXT_TURNS = 2;
/** Neighbours on each side shown with a hit (kept small: every search result is sent to the model). */
export const HIT_CONTEXT_TURNS = 1;
/** A pause longer than this starts a new session: neighbours across it are not context. */
export const SESSION_GAP_MS = 30 * 60_000;
/**
 * ...and a session never holds more messages than this (counted by id): a history without pauses
 * (an imported one, a chat that never stops) would otherwise be one session whose keyword document
 * is rebuilt, whole, with every batch. LoCoMo's longest session has 43 turns.
 */
export const SESSION_MAX_MESSAGES = 200;
/** Weights next to the message's keyword score (1.0) in the fusion (src/recall/fusion.ts). */
export const DENSE_WEIGHT = 0.5;
export const SESSION_WEIGHT = 0.6;
/**
 * A query word found in more messages than this counts like a stopword when the query has rarer
 * words: it adds little to BM25 (its IDF is low) but would make every search score that many rows.
 * Only large histories have such words, so small ones rank exactly as without this.
 */
export const COMMON_TERM_DOCS = 5_000;
/** Sessions ranked per query for the session term. */
export const SESSION_CANDIDATES = 50;
/** How deep each ranking is read before fusing. */
export const CANDIDATES = 100;
