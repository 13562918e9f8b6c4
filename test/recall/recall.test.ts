// Hybrid recall on a real SQLite store: the keyword side (stemming, OR ranking, neighbours'
// words), the indexer (context, vectors, resumable, model changes), the dense side and the
// fusion, hits with their context, filters, and search that survives a failing embedder.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { normalize, type EmbedKind, type Embedder } from '../../src/embeddings/embedder.ts';
import { SqliteStore } from '../../src/memory/sqlite/sqlite-store.ts';
import type { NewMessage } from '../../src/memory/store.ts';
import { kMeans, trainClusters } from '../../src/recall/clustering.ts';
import { denseRanking } from '../../src/recall/dense-search.ts';
import { RecallIndexer } from '../../src/recall/indexer.ts';
import { Recall } from '../../src/recall/recall.ts';
import { decodeVector, encodeVector } from '../../src/recall/vector-codec.ts';

/** Words of one meaning share a dimension, so the fake embedder knows synonyms that keywords do not. */
const CONCEPTS: Record<string, number> = { car: 1, automobile: 1, vehicle: 1, sad: 2, unhappy: 2, gloomy: 2, doctor: 3, physician: 3, dog: 4, puppy: 4 };

class ConceptEmbedder implements Embedder {
  readonly batchSize = 4;
  calls = 0;
  failing = false;
  readonly model: string;
  constructor(model = 'test:concepts') { this.model = model; }
  async embed(texts: string[], _kind: EmbedKind): Promise<Float32Array[]> {
    if (this.failing) throw new Error('the embedder is down');
    this.calls++;
    return texts.map((text) => {
      const v = new Float32Array(8).fill(0.01);
      for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) if (CONCEPTS[word]) v[CONCEPTS[word]] += 1;
      return normalize(v);
    });
  }
}

function freshStore(t: TestContext): SqliteStore {
  const dir = mkdtempSync(join(tmpdir(), 'lares-recall-'));
  const store = new SqliteStore(join(dir, 'lares.db'));
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  return store;
}

const at = (day: number, minute = 0) => new Date(Date.UTC(2026, 0, day, 10, minute)).toISOString();
const say = (role: NewMessage['role'], text: string, createdAt: string): NewMessage => ({ role, blocks: [{ type: 'text', text }], createdAt });

test('keywords: stemmed, stopwords ignored, OR-ranked (more query words first), punctuation is plain text', async (t) => {
  const store = freshStore(t);
  await store.appendMessages([
    say('user', 'I planted tomatoes.', at(1)),
    say('user', 'Gardening makes me happy; the tomatoes are red.', at(2)),
    say('user', 'The weather was nice.', at(3)),
  ]);
  const recall = new Recall(store, undefined);
  const hits = await recall.searchMessages('What did I say about gardening and tomatoes?');
  assert.deepEqual(hits.map((h) => h.content), ['Gardening makes me happy; the tomatoes are red.', 'I planted tomatoes.']);
  assert.equal((await recall.searchMessages('gardens'))[0]?.content, 'Gardening makes me happy; the tomatoes are red.', 'stemming: gardens → garden, gardening');
  for (const hostile of ['"', "' OR 1=1 --", 'tomato* AND NEAR(', ';;', '()']) await recall.searchMessages(hostile);
  assert.deepEqual(await recall.searchMessages('   '), []);
});

test('the indexer writes each message\'s neighbours into the keyword index: a name said just before lifts the answer', async (t) => {
  const store = freshStore(t);
  await store.appendMessages([
    say('assistant', 'Hey Caroline, what have you been up to?', at(1, 0)),
    say('user', 'Researching adoption agencies, it has been a dream.', at(1, 1)),
    say('user', 'I did some research on adoption law for work.', at(9, 0)),
  ]);
  const recall = new Recall(store, undefined);
  const report = await new RecallIndexer(store, undefined).run({ now: () => Date.parse(at(20)) });
  assert.equal(report.contexts, 3);
  assert.equal((await store.recallStats(undefined)).contextThrough, 3);
  const order = (await recall.searchMessages('What did Caroline research about adoption?')).map((h) => h.content);
  assert.ok(order.indexOf('Researching adoption agencies, it has been a dream.') < order.indexOf('I did some research on adoption law for work.'), order.join(' | '));
  // the neighbour across a session break (eight days later) is not context
  const [other] = await recall.searchMessages('research adoption law');
  assert.deepEqual(other.before, []);
});

test('hits carry their date, role and the turns around them (same session only), and filters apply', async (t) => {
  const store = freshStore(t);
  const [, answer] = await store.appendMessages([
    say('assistant', 'How was the weekend?', at(1, 0)),
    say('user', 'We adopted a puppy called Biscuit.', at(1, 1)),
    say('assistant', 'Biscuit is a great name!', at(1, 2)),
    say('user', 'Biscuit chewed my shoes.', at(5, 0)),
  ]);
  const recall = new Recall(store, undefined);
  const [hit] = await recall.searchMessages('adopted puppy Biscuit', { limit: 1 });
  assert.equal(hit.id, answer.id);
  assert.equal(hit.createdAt, at(1, 1));
  assert.equal(hit.role, 'user');
  assert.deepEqual(hit.before.map((b) => b.content), ['How was the weekend?']);
  assert.deepEqual(hit.after.map((b) => b.content), ['Biscuit is a great name!']);
  assert.deepEqual((await recall.searchMessages('Biscuit', { roles: ['assistant'] })).map((h) => h.content), ['Biscuit is a great name!']);
  assert.deepEqual((await recall.searchMessages('Biscuit', { startDate: at(3) })).map((h) => h.content), ['Biscuit chewed my shoes.']);
});

test('hybrid: the dense side finds what shares no keyword; a message not embedded yet is still found by keywords', async (t) => {
  const store = freshStore(t);
  await store.appendMessages([
    say('user', 'My automobile broke down on the highway.', at(1)),
    say('user', 'I felt gloomy all week.', at(2)),
  ]);
  const embedder = new ConceptEmbedder();
  const recall = new Recall(store, embedder);
  // nothing embedded yet: keywords still work, meaning does not
  assert.deepEqual((await recall.searchMessages('automobile')).map((h) => h.content), ['My automobile broke down on the highway.']);
  assert.deepEqual(await recall.searchMessages('car trouble'), []);
  const report = await new RecallIndexer(store, embedder).run({ now: () => Date.parse(at(30)) });
  assert.equal(report.embedded.message, 2);
  assert.equal((await recall.searchMessages('car trouble'))[0]?.content, 'My automobile broke down on the highway.');
  assert.equal((await recall.searchMessages('when was I unhappy'))[0]?.content, 'I felt gloomy all week.');
  assert.equal((await recall.searchMessages('car', { mode: 'keyword' })).length, 0);
});

test('indexing is resumable and incremental; a new embedder model re-embeds; summaries and passages are embedded too', async (t) => {
  const store = freshStore(t);
  await store.appendMessages([say('user', 'The doctor said rest.', at(1)), say('user', 'Walked the dog.', at(2))]);
  await store.insertPassage({ text: 'Physician: Dr. Ana Silva, Tuesdays.', tags: ['health'] });
  const first = new ConceptEmbedder('test:v1');
  const now = () => Date.parse(at(30));
  const r1 = await new RecallIndexer(store, first).run({ now });
  assert.deepEqual(r1.embedded, { message: 2, summary: 0, passage: 1 });
  const r2 = await new RecallIndexer(store, first).run({ now });
  assert.deepEqual(r2.embedded, { message: 0, summary: 0, passage: 0 }, 'nothing twice');
  await store.appendMessages([say('user', 'My puppy is sad.', at(3))]);
  assert.equal((await new RecallIndexer(store, first).run({ now })).embedded.message, 1);
  const second = new ConceptEmbedder('test:v2');
  const r3 = await new RecallIndexer(store, second).run({ now });
  assert.equal(r3.embedded.message, 3, 'vectors of another model are stale');
  const stats = await store.recallStats('test:v2');
  assert.equal(stats.embedded, 4);
  assert.equal(stats.stale, 0);
  const passages = await new Recall(store, second).searchPassages('which doctor do I see', { tags: ['health'] });
  assert.equal(passages[0]?.text, 'Physician: Dr. Ana Silva, Tuesdays.');
});

test('an embedder that fails leaves search working on keywords, and indexing retries later', async (t) => {
  const store = freshStore(t);
  await store.appendMessages([say('user', 'The car needs new tyres.', at(1))]);
  const embedder = new ConceptEmbedder();
  await new RecallIndexer(store, embedder).run({ now: () => Date.parse(at(30)) });
  embedder.failing = true;
  const recall = new Recall(store, embedder);
  assert.equal((await recall.searchMessages('tyres'))[0]?.content, 'The car needs new tyres.');
  await store.appendMessages([say('user', 'The automobile is fixed.', at(2))]);
  await assert.rejects(new RecallIndexer(store, embedder).run({ now: () => Date.parse(at(30)) }), /down/);
  embedder.failing = false;
  assert.equal((await new RecallIndexer(store, embedder).run({ now: () => Date.parse(at(30)) })).embedded.message, 1);
});

test('the last messages of an open session get their context again once the session goes on', async (t) => {
  const store = freshStore(t);
  await store.appendMessages([say('user', 'Planning a trip.', at(1, 0))]);
  const indexer = new RecallIndexer(store, undefined);
  await indexer.run({ now: () => Date.parse(at(1, 1)) });
  assert.equal((await store.recallStats(undefined)).contextThrough, 0, 'still open: provisional');
  await store.appendMessages([say('assistant', 'Where to? Lisbon?', at(1, 2))]);
  await indexer.run({ now: () => Date.parse(at(10)) });
  assert.equal((await store.recallStats(undefined)).contextThrough, 2);
  const [hit] = await new Recall(store, undefined).searchMessages('trip Lisbon', { roles: ['user'] });
  assert.equal(hit.content, 'Planning a trip.', 'found through the reply\'s words');
});

test('vectors: int8 encoding keeps dot products; clustered search finds what a full scan finds', async (t) => {
  const random = (seed: number) => () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  const next = random(42);
  const vectors = Array.from({ length: 600 }, () => normalize(Float32Array.from({ length: 16 }, next)));
  const decoded = decodeVector(encodeVector(vectors[0]));
  let dot = 0;
  for (let i = 0; i < 16; i++) dot += decoded[i] * vectors[0][i];
  assert.ok(Math.abs(dot - 1) < 0.01);
  assert.equal(kMeans(vectors, 8).length, 8);

  const store = freshStore(t);
  const messages = await store.appendMessages(vectors.map((_, i) => say('user', `message ${i}`, at(1, i))));
  await store.putRecallVectors('message', 'm', messages.map((m, i) => ({ id: m.id, conversationId: m.conversationId, vector: encodeVector(vectors[i]), cluster: null })));
  const query = vectors[123];
  const full = await denseRanking(store, 'message', 'm', query, {}, 5);
  const trained = trainClusters(vectors, 16);
  await store.setRecallCentroids('message', 'm', trained.centres.map(encodeVector), messages.map((m, i) => ({ id: m.id, cluster: trained.assign(vectors[i]) })));
  assert.equal((await store.recallCentroids('message', 'm')).length, trained.centres.length);
  const clustered = await denseRanking(store, 'message', 'm', query, {}, 5);
  assert.equal(clustered[0].id, full[0].id);
  assert.equal(clustered[0].id, messages[123].id);
});

test('a history without pauses is cut into sessions of at most SESSION_MAX_MESSAGES, across indexing batches', async (t) => {
  const store = freshStore(t);
  // 1,100 messages a second apart: one endless "session" by the pause rule alone
  const start = Date.parse(at(1));
  const messages = Array.from({ length: 1100 }, (_, i) => say(i % 2 ? 'assistant' : 'user', `message ${i} about tea`, new Date(start + i * 1000).toISOString()));
  const stored = await store.appendMessages(messages);
  await new RecallIndexer(store, undefined).run({ now: () => Date.parse(at(10)) });
  const sessions = await store.recallSessionsOf(stored.map((m) => m.id));
  const sizes = new Map<number, number>();
  for (const session of sessions.values()) sizes.set(session, (sizes.get(session) ?? 0) + 1);
  assert.equal(sessions.size, 1100, 'every message has its session');
  assert.deepEqual([...sizes.values()], [200, 200, 200, 200, 200, 100]);
});
