// The accents PostgreSQL's recall index folds (lares_fold_accents, recall-schema.ts) are exactly
// those SQLite's FTS5 folds with 'unicode61 remove_diacritics 2', read off SQLite over every code
// point of the first two planes (none past them folds), with what each becomes.
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { accentFolds } from '../../src/memory/postgres/recall-schema.ts';

test('accentFolds() is what FTS5 remove_diacritics 2 folds, character for character', () => {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE VIRTUAL TABLE folded USING fts5(b, tokenize='unicode61 remove_diacritics 2');
    CREATE VIRTUAL TABLE kept USING fts5(b, tokenize='unicode61 remove_diacritics 0');
    CREATE VIRTUAL TABLE folded_terms USING fts5vocab(folded, 'instance');
    CREATE VIRTUAL TABLE kept_terms USING fts5vocab(kept, 'instance');`);
  const insert = [db.prepare('INSERT INTO folded(rowid, b) VALUES (?, ?)'), db.prepare('INSERT INTO kept(rowid, b) VALUES (?, ?)')];
  db.exec('BEGIN');
  // after a letter, so that a combining mark is part of a word
  for (let cp = 0x80; cp <= 0x1FFFF; cp++) if (cp < 0xD800 || cp > 0xDFFF) for (const i of insert) i.run(cp, `a${String.fromCodePoint(cp)}`);
  db.exec('COMMIT');
  const words = (table: string) => new Map((db.prepare(`SELECT doc, group_concat(term, ' ') AS t FROM (SELECT doc, term FROM ${table} ORDER BY doc, offset) GROUP BY doc`)
    .all() as Array<{ doc: number; t: string }>).map((r) => [Number(r.doc), r.t]));
  const [folded, kept] = [words('folded_terms'), words('kept_terms')];
  const sqlite = new Map<string, string>();
  for (const [cp, word] of folded) if (kept.get(cp) !== word) sqlite.set(String.fromCodePoint(cp), word);
  const ours = new Map([...accentFolds()].map(([char, base]) => [char, `a${base}`]));
  assert.ok(sqlite.size > 500, `SQLite folds ${sqlite.size} characters`);
  assert.deepEqual(ours, sqlite);
  db.close();
});
