// PostgreSQL schema of the recall index (src/recall/), kept apart from schema.ts for its length.
/**
 * The recall index's keyword side (migration 3): what SQLite's FTS5 does with 'porter unicode61
 * remove_diacritics 2', rebuilt from PostgreSQL text search so that both stores find and rank
 * the same documents (the ranking itself is PostgresStore.recallKeyword):
 * - lares_recall_text() splits words as unicode61 does (punctuation, symbols, emoji and spaces
 *   separate; letters, digits and marks make words; code-point ranges, as PostgreSQL's regex
 *   classes depend on the database's locale), so PostgreSQL's parser never sees e-mails,
 *   URLs, paths, hyphenated words or decimals as tokens of their own;
 * - lares_fold_accents() (migration 6, accentFoldingMigration) folds accents as remove_diacritics 2
 *   does, in plain SQL, before the words are split: no extension needed, the same letters folded
 *   (ä → a, but ß, æ, ø kept) on every server; the configuration lares_recall stems with
 *   Snowball's original Porter stemmer, the algorithm of FTS5's porter tokenizer ('english' is
 *   Porter2: on 15,000 words, it stems 3% of them unlike FTS5; 'porter' 0.2%), and keeps every word: no stopwords, so
 *   that a query of stopwords finds them and document lengths count every word;
 * - each kind has a side table: a tsvector per column (a message's own text; its neighbours'
 *   words, "context", set later by the indexer), the columns' word counts, a GIN index, and a
 *   copy of what the filters look at (conversation, role, date, tags), so that ranking reads
 *   nothing else;
 *   recall_totals holds each kind's document and word totals (BM25's N and average length),
 *   kept by statement triggers on the side tables; whole sessions have a side table too;
 * - known differences: Snowball's Porter also stems words of one or two letters (is → i, as → a)
 *   which FTS5 leaves whole, and lacks FTS5's -logi/-bli rules (technology → technologi); a
 *   tsvector keeps at most 256 positions of one word and none past the 16,383rd (rarer counts in
 *   very long texts); only a text's first 250,000 characters are indexed (a tsvector holds at
 *   most 1 MB).
 */
export const RECALL_KINDS = [
  { kind: 'message', table: 'messages', fts: 'message_recall_fts', text: (r: string) => `${r}.content`, copied: { conversation_id: 'TEXT', role: 'TEXT', created_at: 'TEXT' } },
  { kind: 'summary', table: 'summaries', fts: 'summary_recall_fts', text: (r: string) => `${r}.summary`, copied: { conversation_id: 'TEXT', created_at: 'TEXT' } },
  // a passage's tags are words too, as in SQLite
  { kind: 'passage', table: 'archival_passages', fts: 'passage_recall_fts', text: (r: string) => `${r}.text || ' ' || ${r}.tags`, copied: { tags: 'JSONB', created_at: 'TEXT' } },
] as const;

type RecallKindSchema = (typeof RECALL_KINDS)[number];

/** INSERT of the side-table rows of the documents in `source` (aliased `s`), contexts left empty. */
function indexRows(kind: RecallKindSchema, source: string): string {
  const copied = Object.entries(kind.copied);
  return `INSERT INTO ${kind.fts}(id, body, body_tokens${copied.map(([column]) => `, ${column}`).join('')})
    SELECT s.id, d.vector, d.tokens${copied.map(([column, type]) => `, s.${column}${type === 'JSONB' ? '::jsonb' : ''}`).join('')}
    FROM ${source} s, lares_recall_doc(${kind.text('s')}) d;`;
}

/** Indexes every document of the kind (its side table must be empty), contexts left empty. */
export function recallBackfill(kind: RecallKindSchema): string {
  return indexRows(kind, kind.table);
}

/** Every keyword side table with its recall_totals kind: the three kinds of documents, and whole sessions. */
export const RECALL_SIDE_TABLES = [...RECALL_KINDS.map(({ kind, fts }) => ({ kind: kind as string, fts: fts as string })), { kind: 'session', fts: 'session_recall_fts' }];

/** Sets recall_totals from the side tables. */
export const RECALL_TOTALS_FROM_INDEX = `UPDATE recall_totals t SET docs = x.docs, tokens = x.tokens FROM (
  ${RECALL_SIDE_TABLES.map(({ kind, fts }) => `SELECT '${kind}' AS kind, COUNT(*) AS docs, COALESCE(SUM(tokens), 0) AS tokens FROM ${fts}`).join('\n  UNION ALL ')}
  ) x WHERE t.kind = x.kind;`;

// characters that separate words: what unicode61 does not count as a letter, a digit or a mark
const SEPARATORS = [
  '\\u0001-\\u002F', '\\u003A-\\u0040', '\\u005B-\\u0060', '\\u007B-\\u00A9', '\\u00AB-\\u00B1', '\\u00B4', '\\u00B6-\\u00B8',
  '\\u00BB', '\\u00BF', '\\u00D7', '\\u00F7', '\\u2000-\\u206F', '\\u20A0-\\u20CF', '\\u2190-\\u245F', '\\u2500-\\u2775',
  '\\u2794-\\u2BFF', '\\u2E00-\\u2E7F', '\\u3000-\\u3004', '\\u3008-\\u3020', '\\u3030', '\\u303D-\\u303F', '\\uFE00-\\uFE1F',
  '\\uFE30-\\uFE6F', '\\uFF01-\\uFF0F', '\\uFF1A-\\uFF20', '\\uFF3B-\\uFF40', '\\uFF5B-\\uFF65', '\\U0001F000-\\U0001F0FF',
  '\\U0001F10D-\\U0001FAFF',
].join('');

/** Migration 3: the recall index, existing documents indexed (with empty contexts). */
export function recallIndexMigration(): string {
  return `
  -- the old 'simple' full-text columns give way to the recall index
  ALTER TABLE messages DROP COLUMN content_tsv;
  ALTER TABLE archival_passages DROP COLUMN search_tsv;

  -- accents were folded here by the unaccent extension when it could be created; migration 6
  -- (accentFoldingMigration) folds them in plain SQL instead, the same on every server
  CREATE TEXT SEARCH DICTIONARY lares_porter (TEMPLATE = snowball, LANGUAGE = porter);
  CREATE TEXT SEARCH CONFIGURATION lares_recall (COPY = simple);
  ${RECALL_CONFIGURATION_MAPPING}

  -- text → its words separated by single spaces. No SET clause on these SQL functions, so that
  -- queries inline them and the planner folds a query term into a constant
  CREATE FUNCTION lares_recall_text(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT btrim(regexp_replace(left(t, 250000), '[${SEPARATORS}]+', ' ', 'g'), ' ') $$;
  -- a document column: its stemmed words with their positions, and how many words it has
  CREATE FUNCTION lares_recall_doc(t TEXT, OUT vector TSVECTOR, OUT tokens INTEGER) LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_tsvector('lares_recall', w), CASE WHEN w = '' THEN 0 ELSE length(w) - length(replace(w, ' ', '')) + 1 END
      FROM lares_recall_text(t) AS w $$;
  -- a query term: its tsquery (a phrase, should PostgreSQL split it in several words) and its lexemes
  CREATE FUNCTION lares_recall_query(term TEXT) RETURNS TSQUERY LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT phraseto_tsquery('lares_recall', lares_recall_text(term)) $$;
  CREATE FUNCTION lares_recall_lexemes(term TEXT) RETURNS TEXT[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT tsvector_to_array(to_tsvector('lares_recall', lares_recall_text(term))) $$;

  CREATE TABLE recall_totals (
    kind TEXT PRIMARY KEY CHECK (kind IN ('message', 'summary', 'passage', 'session')),
    docs BIGINT NOT NULL,
    tokens BIGINT NOT NULL
  );
  INSERT INTO recall_totals(kind, docs, tokens) VALUES ${RECALL_SIDE_TABLES.map(({ kind }) => `('${kind}', 0, 0)`).join(', ')};

  -- sessions (a conversation's messages without a long pause), named by their first message and
  -- written by the indexer with the contexts; a session's document is all its messages' text
  CREATE TABLE recall_sessions (
    message_id BIGINT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    session_id BIGINT NOT NULL
  );
  CREATE INDEX recall_sessions_session ON recall_sessions(session_id, message_id);
  CREATE TABLE session_recall_fts (
    id BIGINT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    body TSVECTOR NOT NULL,
    body_tokens INTEGER NOT NULL,
    tokens INTEGER GENERATED ALWAYS AS (body_tokens) STORED
  );
  CREATE INDEX session_recall_fts_words ON session_recall_fts USING GIN (body);
  ${RECALL_KINDS.map((k) => `
  CREATE TABLE ${k.fts} (
    id BIGINT PRIMARY KEY,${Object.entries(k.copied).map(([column, type]) => `
    ${column} ${type} NOT NULL,`).join('')}
    body TSVECTOR NOT NULL,
    body_tokens INTEGER NOT NULL,${k.kind === 'message' ? `
    context TSVECTOR NOT NULL DEFAULT ''::tsvector,
    context_tokens INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER GENERATED ALWAYS AS (body_tokens + context_tokens) STORED` : `
    tokens INTEGER GENERATED ALWAYS AS (body_tokens) STORED`}
  );
  -- a new document is indexed by the statement that inserts it; the trigger locks the document
  -- table, so nothing is written there between the backfill below and the end of the migration
  CREATE FUNCTION lares_index_${k.table}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  BEGIN
    ${indexRows(k, 'new_rows')}
    RETURN NULL;
  END $$;
  CREATE TRIGGER ${k.table}_recall AFTER INSERT ON ${k.table} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lares_index_${k.table}();
  ${recallBackfill(k)}
  ALTER TABLE ${k.fts} ADD FOREIGN KEY (id) REFERENCES ${k.table}(id) ON DELETE CASCADE;
  CREATE INDEX ${k.fts}_words ON ${k.fts} USING GIN (${k.kind === 'message' ? 'body, context' : 'body'});
  ANALYZE ${k.fts};`).join('')}
  ${RECALL_TOTALS_FROM_INDEX}

  -- BM25's N and average length follow whatever writes the side tables
  CREATE FUNCTION lares_recall_totals() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      UPDATE recall_totals t SET docs = t.docs + n.docs, tokens = t.tokens + n.tokens
        FROM (SELECT COUNT(*) AS docs, COALESCE(SUM(tokens), 0) AS tokens FROM new_rows) n WHERE t.kind = TG_ARGV[0] AND n.docs > 0;
    ELSIF TG_OP = 'UPDATE' THEN
      UPDATE recall_totals t SET tokens = t.tokens + c.tokens
        FROM (SELECT (SELECT COALESCE(SUM(tokens), 0) FROM new_rows) - (SELECT COALESCE(SUM(tokens), 0) FROM old_rows) AS tokens) c
        WHERE t.kind = TG_ARGV[0] AND c.tokens <> 0;
    ELSE
      UPDATE recall_totals t SET docs = t.docs - o.docs, tokens = t.tokens - o.tokens
        FROM (SELECT COUNT(*) AS docs, COALESCE(SUM(tokens), 0) AS tokens FROM old_rows) o WHERE t.kind = TG_ARGV[0] AND o.docs > 0;
    END IF;
    RETURN NULL;
  END $$;
  ${RECALL_SIDE_TABLES.map(({ kind, fts }) => `
  CREATE TRIGGER ${fts}_added AFTER INSERT ON ${fts} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lares_recall_totals('${kind}');
  CREATE TRIGGER ${fts}_changed AFTER UPDATE ON ${fts} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lares_recall_totals('${kind}');
  CREATE TRIGGER ${fts}_removed AFTER DELETE ON ${fts} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lares_recall_totals('${kind}');`).join('')}

  -- embedding vectors (src/recall/vector-codec.ts) with their model, cluster (-1: none yet) and
  -- conversation, and the cluster centres
  CREATE TABLE recall_vectors (
    kind TEXT NOT NULL CHECK (kind IN ('message', 'summary', 'passage')),
    id BIGINT NOT NULL,
    model TEXT NOT NULL,
    cluster INTEGER NOT NULL DEFAULT -1,
    conversation_id TEXT,
    vector BYTEA NOT NULL,
    PRIMARY KEY (kind, id)
  );
  -- vectors do not compress: never try
  ALTER TABLE recall_vectors ALTER COLUMN vector SET STORAGE EXTERNAL;
  CREATE INDEX recall_vectors_cluster ON recall_vectors(kind, model, cluster, id);
  CREATE TABLE recall_centroids (
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    cluster INTEGER NOT NULL,
    vector BYTEA NOT NULL,
    PRIMARY KEY (kind, model, cluster)
  );
  `;
}

/** The configuration's words: stemmed by Porter, nothing else (accents are folded before, by lares_fold_accents). */
const RECALL_CONFIGURATION_MAPPING = `ALTER TEXT SEARCH CONFIGURATION lares_recall ALTER MAPPING FOR asciiword, word, numword, asciihword, hword,
    hword_asciipart, hword_part, hword_numpart WITH lares_porter;`;

/**
 * The code points that FTS5's unicode61 tokenizer with remove_diacritics 2 folds (fts5_unicode2.c,
 * SQLite 3.53, read off SQLite itself over every code point: test/memory/accent-folding.test.ts
 * checks it again): Latin letters with diacritics, and the combining diacritics it drops.
 * Not folded there, so not here: ß, æ, œ, ø, đ, ł, other scripts' accents (Greek tonos, й),
 * a few letters of two stacked accents (Ǡ), other combining marks.
 */
const FOLDED_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0xC0, 0xC5], [0xC7, 0xCF], [0xD1, 0xD6], [0xD9, 0xDD], [0xE0, 0xE5], [0xE7, 0xEF], [0xF1, 0xF6], [0xF9, 0xFD],
  [0xFF, 0x10F], [0x112, 0x125], [0x128, 0x130], [0x134, 0x137], [0x139, 0x13E], [0x143, 0x148], [0x14C, 0x151],
  [0x154, 0x165], [0x168, 0x17E], [0x1A0, 0x1A1], [0x1AF, 0x1B0], [0x1CD, 0x1DC], [0x1DE, 0x1DF], [0x1E6, 0x1ED],
  [0x1F0, 0x1F0], [0x1F4, 0x1F5], [0x1F8, 0x1FB], [0x200, 0x21B], [0x21E, 0x21F], [0x226, 0x233],
  [0x300, 0x304], [0x306, 0x30C], [0x30F, 0x30F], [0x311, 0x311], [0x31B, 0x31B], [0x323, 0x328], [0x32D, 0x32E],
  [0x330, 0x331], [0x1E00, 0x1E99], [0x1E9B, 0x1E9B], [0x1EA0, 0x1EF9], [0x212B, 0x212B],
];

/**
 * What remove_diacritics 2 makes of each code point it folds: its Unicode decomposition without
 * the marks, lower-cased (FTS5 folds case first: É → é → e), compatibility-normalised (ẛ → ſ → s);
 * a combining diacritic becomes nothing. One character each, so that translate() can do it.
 */
export function accentFolds(): Map<string, string> {
  const folds = new Map<string, string>();
  for (const [first, last] of FOLDED_RANGES) {
    for (let cp = first; cp <= last; cp++) {
      const char = String.fromCodePoint(cp);
      const base = char.normalize('NFD').replace(/\p{M}/gu, '').normalize('NFKC').toLowerCase();
      if ([...base].length > 1) throw new Error(`U+${cp.toString(16)} folds to several characters`);
      folds.set(char, base);
    }
  }
  return folds;
}


/**
 * lares_fold_accents(text): the text with its accents folded as FTS5's remove_diacritics 2 folds
 * them, in plain SQL (no extension, so the same on a managed server or for a role that may not
 * create extensions). translate() maps each character to its base letter and drops the combining
 * diacritics, but looks every character of the text up in its list: so two lists, Latin-1's letters
 * (French, German, Spanish… need no more) and the rest, each used only when a regular expression
 * finds one of its characters in the text (a text without accents pays for two scans).
 * Needs a UTF-8 database (docs/operations.md); elsewhere it folds nothing.
 */
function foldAccentsFunction(): string {
  const folds = [...accentFolds()];
  const hex = (cp: number): string => `\\u${cp.toString(16).padStart(4, '0')}`;
  const ranges = (chars: string[]): string => {
    const points = chars.map((c) => c.codePointAt(0)!).sort((a, b) => a - b);
    const out: string[] = [];
    for (let i = 0; i < points.length;) {
      let j = i;
      while (j + 1 < points.length && points[j + 1] === points[j] + 1) j++;
      out.push(i === j ? hex(points[i]) : `${hex(points[i])}-${hex(points[j])}`);
      i = j + 1;
    }
    return `'[${out.join('')}]'`;
  };
  // one translate(): its characters (the dropped ones last, past the end of the replacements), when the text has one
  const fold = (text: string, group: Array<[string, string]>): string => {
    const letters = group.filter(([, base]) => base !== '');
    const dropped = group.filter(([, base]) => base === '');
    const from = `E'${[...letters, ...dropped].map(([c]) => hex(c.codePointAt(0)!)).join('')}'`;
    return `CASE WHEN t ~ ${ranges(group.map(([c]) => c))} THEN translate(${text}, ${from}, '${letters.map(([, base]) => base).join('')}') ELSE ${text} END`;
  };
  const latin1 = fold('t', folds.filter(([c]) => c.codePointAt(0)! < 0x100));
  const body = fold(latin1, folds.filter(([c]) => c.codePointAt(0)! >= 0x100));
  return `
  DO $do$
  BEGIN
    IF getdatabaseencoding() = 'UTF8' THEN
      EXECUTE $sql$CREATE FUNCTION lares_fold_accents(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT ${body} $$$sql$;
    ELSE
      RAISE NOTICE 'Lares: the database is not UTF-8 (%): the recall index keeps accents (cafe does not find café)', getdatabaseencoding();
      CREATE FUNCTION lares_fold_accents(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT t $$;
    END IF;
  END
  $do$;`;
}

/**
 * Migration 6: accents folded as SQLite folds them, by lares_fold_accents() rather than the
 * unaccent extension (which migration 3 used when it could create it, and which folds more:
 * ß → ss, æ → ae), so that PostgreSQL finds and ranks as SQLite does on every server. The words
 * of a text are its folded text's words; the recall index is built again from the documents, as
 * `lares reindex --full` does: the contexts and sessions (written by the indexer from the
 * neighbouring messages) are written again by the indexer in the background.
 */
export function accentFoldingMigration(): string {
  const tables = RECALL_SIDE_TABLES.map(({ fts }) => fts);
  return `${foldAccentsFunction()}
  CREATE OR REPLACE FUNCTION lares_recall_text(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT btrim(regexp_replace(lares_fold_accents(left(t, 250000)), '[${SEPARATORS}]+', ' ', 'g'), ' ') $$;
  ${RECALL_CONFIGURATION_MAPPING}

  -- the keyword index again (rebuilt whole: the totals are counted once at the end, not by the triggers)
  ${tables.map((table) => `ALTER TABLE ${table} DISABLE TRIGGER USER;`).join('\n  ')}
  TRUNCATE ${tables.join(', ')}, recall_sessions;
  ${RECALL_KINDS.map((kind) => recallBackfill(kind)).join('\n  ')}
  ${RECALL_TOTALS_FROM_INDEX}
  ${tables.map((table) => `ALTER TABLE ${table} ENABLE TRIGGER USER;`).join('\n  ')}
  DELETE FROM meta WHERE key = 'recall_context_through';
  ${RECALL_KINDS.map(({ fts }) => `ANALYZE ${fts};`).join('\n  ')}
  `;
}
