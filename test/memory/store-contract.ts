// The behaviour every MemoryStore must have. sqlite-store.test.ts and postgres-store.test.ts
// run this same suite, so both backends are held to one contract.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { ContentBlock } from '../../src/llm/content.ts';
import type { MemoryStore, NewMessage, RankedId, RecallFilters, RecallKind } from '../../src/memory/store.ts';
import { queryTerms } from '../../src/recall/query-terms.ts';
import { CONTEXT_WEIGHT } from '../../src/recall/settings.ts';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const text = (value: string): ContentBlock[] => [{ type: 'text', text: value }];
const msg = (role: NewMessage['role'], value: string, extra: Partial<NewMessage> = {}): NewMessage => ({ role, blocks: text(value), ...extra });

/** Keyword recall for a query as a person types it (the terms recall.ts would pass). */
const keyword = (store: MemoryStore, kind: RecallKind, query: string, filters: RecallFilters = {}, limit = 10): Promise<RankedId[]> =>
  store.recallKeyword(kind, queryTerms(query), filters, limit);
const ids = (ranked: Array<{ id: number }>): number[] => ranked.map((r) => r.id);
const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);
const bytes = (...values: number[]) => new Uint8Array(values);

/**
 * SQLite FTS5's bm25() (fts5_aux.c), written out for documents whose words need no stemming
 * (every word a query uses appears in one form only): N and the average length over every
 * document given, IDF = ln((N - n + 0.5) / (n + 0.5)) (1e-6 when not positive), a term's
 * frequency = 1 per occurrence in the text then CONTEXT_WEIGHT per occurrence in the context,
 * k1 = 1.2, b = 0.75, a document's length = the words of its text and its context.
 */
function referenceBm25(docs: Array<{ id: number; body: string; context?: string }>, terms: string[], candidates: number[]): RankedId[] {
  const words = (value = ''): string[] => value.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const parsed = docs.map((d) => ({ id: d.id, body: words(d.body), context: words(d.context) }));
  const avgdl = parsed.reduce((sum, d) => sum + d.body.length + d.context.length, 0) / parsed.length;
  const idf = terms.map((term) => {
    const n = parsed.filter((d) => d.body.includes(term) || d.context.includes(term)).length;
    const value = Math.log((parsed.length - n + 0.5) / (n + 0.5));
    return value <= 0 ? 1e-6 : value;
  });
  const scored = parsed.filter((d) => candidates.includes(d.id)).map((d) => {
    let score = 0;
    terms.forEach((term, i) => {
      let freq = 0;
      for (const word of d.body) if (word === term) freq += 1;
      for (const word of d.context) if (word === term) freq += CONTEXT_WEIGHT;
      const length = d.body.length + d.context.length;
      score += idf[i] * ((freq * (1.2 + 1.0)) / (freq + 1.2 * (1 - 0.75 + 0.75 * length / avgdl)));
    });
    return { id: d.id, score };
  });
  return scored.filter((d) => d.score > 0).sort((a, b) => b.score - a.score);
}

export function runStoreContract(name: string, makeStore: () => Promise<MemoryStore>): void {
  async function fresh(t: TestContext): Promise<MemoryStore> {
    const store = await makeStore();
    t.after(() => store.close());
    return store;
  }

  describe(`${name} store contract`, () => {
    describe('memory blocks', () => {
      test('put, get and list keep insertion order, definitions and read-only flags', async (t) => {
        const store = await fresh(t);
        assert.deepEqual(await store.listBlocks(), []);
        assert.equal(await store.getBlock('persona'), undefined);
        const zeta = await store.putBlock({ label: 'zeta', content: 'last letter', description: 'z', charLimit: 100, readOnly: false }, 'init');
        assert.match(zeta.updatedAt, ISO_MS);
        await store.putBlock({ label: 'alpha', content: 'first letter', description: 'a', charLimit: 200, readOnly: true }, 'init');
        assert.deepEqual((await store.listBlocks()).map((b) => b.label), ['zeta', 'alpha']);
        const alpha = await store.getBlock('alpha');
        assert.deepEqual({ ...alpha, updatedAt: undefined }, { label: 'alpha', content: 'first letter', description: 'a', charLimit: 200, readOnly: true, updatedAt: undefined });
        // replacing a block keeps its place in the list
        await store.putBlock({ label: 'zeta', content: 'changed', description: 'zz', charLimit: 300, readOnly: false, updatedAt: '2026-01-02T03:04:05.006Z' }, 'user');
        const blocks = await store.listBlocks();
        assert.deepEqual(blocks.map((b) => b.label), ['zeta', 'alpha']);
        assert.deepEqual(blocks[0], { label: 'zeta', content: 'changed', description: 'zz', charLimit: 300, readOnly: false, updatedAt: '2026-01-02T03:04:05.006Z' });
      });

      test('setBlockContent changes only the content and every change is in the history, in order', async (t) => {
        const store = await fresh(t);
        await store.putBlock({ label: 'human', content: 'v1', description: 'about them', charLimit: 5000, readOnly: false }, 'init');
        const updated = await store.setBlockContent('human', 'v2', 'agent:memory_replace');
        assert.equal(updated.content, 'v2');
        assert.equal(updated.description, 'about them');
        assert.equal(updated.charLimit, 5000);
        await store.setBlockContent('human', 'v3', 'user');
        const history = await store.blockHistory('human');
        assert.deepEqual(history.map((h) => [h.content, h.actor]), [['v1', 'init'], ['v2', 'agent:memory_replace'], ['v3', 'user']]);
        assert.ok(history.every((h) => h.label === 'human' && ISO_MS.test(h.createdAt)));
        assert.ok(history[0].id < history[1].id && history[1].id < history[2].id);
        assert.deepEqual(await store.blockHistory('nobody'), []);
      });

      test('setBlockContent on a missing block fails with a clear error and records nothing', async (t) => {
        const store = await fresh(t);
        await assert.rejects(store.setBlockContent('missing', 'x', 'user'), (error: any) => error.code === 'MEMORY_TOOL_ERROR' && /missing/.test(error.message));
        assert.deepEqual(await store.blockHistory('missing'), []);
        assert.equal((await store.counts()).blocks, 0);
      });
    });

    describe('messages', () => {
      test('append assigns increasing ids in insertion order and keeps every field', async (t) => {
        const store = await fresh(t);
        const toolBlocks: ContentBlock[] = [
          { type: 'text', text: 'let me look' },
          { type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: '/tmp/a', options: { z: 1, a: [1, 2] } } },
        ];
        const stored = await store.appendMessages([
          msg('user', 'hello there', { sourceRef: 'discord:1', metadata: { author: 'sam', nested: { ok: true } }, tokenCount: 12 }),
          { role: 'assistant', blocks: toolBlocks },
          { role: 'user', blocks: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'file body', is_error: false }], createdAt: '2025-05-05T05:05:05.555Z' },
        ]);
        assert.equal(stored.length, 3);
        assert.ok(stored[0].id < stored[1].id && stored[1].id < stored[2].id);
        assert.equal(stored[0].content, 'hello there');
        assert.equal(stored[0].conversationId, 'default');
        assert.equal(stored[0].sourceRef, 'discord:1');
        assert.deepEqual(stored[0].metadata, { author: 'sam', nested: { ok: true } });
        assert.equal(stored[0].tokenCount, 12);
        assert.equal(stored[0].compactedBy, null);
        assert.match(stored[0].createdAt, ISO_MS);
        // blocks come back exactly, key order included (replayed to the model byte for byte)
        assert.equal(JSON.stringify(stored[1].blocks), JSON.stringify(toolBlocks));
        assert.match(stored[1].content, /\[tool call read_file\]/);
        assert.equal(stored[1].sourceRef, null);
        assert.equal(stored[1].metadata, null);
        assert.equal(stored[1].tokenCount, null);
        assert.equal(stored[2].createdAt, '2025-05-05T05:05:05.555Z');
        assert.deepEqual(await store.getMessage(stored[1].id), stored[1]);
        assert.equal(await store.getMessage(stored[2].id + 1000), undefined);
        const more = await store.appendMessages([msg('user', 'later')]);
        assert.ok(more[0].id > stored[2].id);
        assert.deepEqual(await store.appendMessages([]), []);
      });

      test('a large append returns the messages in the order given', async (t) => {
        const store = await fresh(t);
        const stored = await store.appendMessages(Array.from({ length: 2500 }, (_, i) => msg(i % 2 ? 'assistant' : 'user', `message number ${i}`)));
        assert.equal(stored.length, 2500);
        stored.forEach((m, i) => assert.equal(m.content, `message number ${i}`));
        for (let i = 1; i < stored.length; i++) assert.ok(stored[i].id > stored[i - 1].id);
        assert.equal((await store.counts()).messages, 2500);
      });

      test('explicit content is kept instead of the text derived from blocks', async (t) => {
        const store = await fresh(t);
        const [m] = await store.appendMessages([{ role: 'system', blocks: text('raw'), content: '[heartbeat] restarted' }]);
        assert.equal(m.content, '[heartbeat] restarted');
        assert.equal(m.role, 'system');
      });

      test('messagesInRange is inclusive, oldest first, one conversation only; recentMessages is newest first', async (t) => {
        const store = await fresh(t);
        const a = await store.appendMessages([msg('user', 'a1'), msg('assistant', 'a2'), msg('user', 'a3'), msg('assistant', 'a4')]);
        await store.appendMessages([msg('user', 'other conversation', { conversationId: 'other' })]);
        const range = await store.messagesInRange(a[1].id, a[2].id);
        assert.deepEqual(range.map((m) => m.content), ['a2', 'a3']);
        const everything = await store.messagesInRange(0, a[3].id + 100);
        assert.deepEqual(everything.map((m) => m.content), ['a1', 'a2', 'a3', 'a4']);
        const other = await store.messagesInRange(0, a[3].id + 100, 'other');
        assert.deepEqual(other.map((m) => m.content), ['other conversation']);
        assert.deepEqual((await store.recentMessages(2)).map((m) => m.content), ['a4', 'a3']);
        assert.deepEqual((await store.recentMessages(10)).map((m) => m.content), ['a4', 'a3', 'a2', 'a1']);
        assert.deepEqual((await store.recentMessages(5, 'other')).map((m) => m.content), ['other conversation']);
        assert.deepEqual(await store.recentMessages(5, 'nobody'), []);
      });

      test('findMessageBySourceRef and setMessageTokenCount', async (t) => {
        const store = await fresh(t);
        const [m] = await store.appendMessages([msg('user', 'hi', { sourceRef: 'letta:message-1' })]);
        assert.equal((await store.findMessageBySourceRef('letta:message-1'))?.id, m.id);
        assert.equal(await store.findMessageBySourceRef('letta:none'), undefined);
        await store.setMessageTokenCount(m.id, 42);
        assert.equal((await store.getMessage(m.id))?.tokenCount, 42);
      });

      test('a sourceRef is stored once: appending it again fails and adds nothing', async (t) => {
        const store = await fresh(t);
        await store.appendMessages([msg('user', 'first', { sourceRef: 'discord:99' })]);
        await assert.rejects(store.appendMessages([msg('user', 'other', { sourceRef: 'x' }), msg('user', 'again', { sourceRef: 'discord:99' })]));
        // the whole append was one transaction: the first message of the failed batch is not there either
        assert.equal((await store.counts()).messages, 1);
        assert.equal(await store.findMessageBySourceRef('x'), undefined);
      });
    });

    describe('compaction', () => {
      test('compact writes a summary and marks its messages; nothing is deleted', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([msg('user', 'one'), msg('assistant', 'two'), msg('user', 'three'), msg('assistant', 'four')]);
        const summary = await store.compact({ summary: 'they said one and two', startMessageId: ms[0].id, endMessageId: ms[1].id, tokenCount: 7 }, [ms[0].id, ms[1].id]);
        assert.equal(summary.summary, 'they said one and two');
        assert.equal(summary.conversationId, 'default');
        assert.equal(summary.startMessageId, ms[0].id);
        assert.equal(summary.endMessageId, ms[1].id);
        assert.equal(summary.tokenCount, 7);
        assert.match(summary.createdAt, ISO_MS);
        assert.deepEqual((await store.uncompactedMessages()).map((m) => m.content), ['three', 'four']);
        assert.equal((await store.getMessage(ms[0].id))?.compactedBy, summary.id);
        assert.equal((await store.getMessage(ms[2].id))?.compactedBy, null);
        const counts = await store.counts();
        assert.equal(counts.messages, 4);
        assert.equal(counts.compactedMessages, 2);
        assert.equal(counts.summaries, 1);
        // compacted messages are still readable by range
        assert.deepEqual((await store.messagesInRange(ms[0].id, ms[3].id)).map((m) => m.compactedBy), [summary.id, summary.id, null, null]);
      });

      test('uncompactedIdsInRange gives ids only: inclusive, uncompacted, one conversation, by source_ref prefix', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'a', { sourceRef: 'letta:agent-1:m1' }), msg('assistant', 'b', { sourceRef: 'letta:agent-1:m2' }), msg('user', 'typed in Lares'),
          msg('assistant', 'c', { sourceRef: 'letta:agent-10:m3' }), msg('user', 'd', { sourceRef: 'letta:agent-1:m4' }),
        ]);
        await store.appendMessages([msg('user', 'elsewhere', { conversationId: 'other', sourceRef: 'letta:agent-1:x' })]);
        await store.compact({ summary: 's', startMessageId: ms[0].id, endMessageId: ms[0].id }, [ms[0].id]);
        assert.deepEqual(await store.uncompactedIdsInRange(ms[0].id, ms[4].id), [ms[1].id, ms[2].id, ms[3].id, ms[4].id]);
        assert.deepEqual(await store.uncompactedIdsInRange(ms[0].id, ms[4].id, 'default', 'letta:agent-1:'), [ms[1].id, ms[4].id]);
        assert.deepEqual(await store.uncompactedIdsInRange(ms[1].id, ms[3].id, 'default', 'letta:agent-1:'), [ms[1].id]);
        assert.deepEqual(await store.uncompactedIdsInRange(ms[4].id + 1, ms[4].id + 100), []);
      });

      test('a later compaction does not re-mark messages an earlier one compacted', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([msg('user', 'one'), msg('assistant', 'two'), msg('user', 'three')]);
        const first = await store.compact({ summary: 's1', startMessageId: ms[0].id, endMessageId: ms[0].id }, [ms[0].id]);
        const second = await store.compact({ summary: 's2', startMessageId: ms[0].id, endMessageId: ms[1].id, sourceRef: 'sum:2', createdAt: '2026-02-02T02:02:02.002Z' }, [ms[0].id, ms[1].id]);
        assert.equal((await store.getMessage(ms[0].id))?.compactedBy, first.id);
        assert.equal((await store.getMessage(ms[1].id))?.compactedBy, second.id);
        assert.equal(second.sourceRef, 'sum:2');
        assert.equal(second.createdAt, '2026-02-02T02:02:02.002Z');
        assert.equal((await store.latestSummary())?.id, second.id);
        assert.deepEqual((await store.listSummaries()).map((s) => s.summary), ['s1', 's2']);
        assert.equal(await store.latestSummary('other'), undefined);
        assert.deepEqual(await store.listSummaries('other'), []);
        assert.deepEqual((await store.uncompactedMessages()).map((m) => m.content), ['three']);
      });

      test('conversations are separate: uncompacted messages and summaries per conversation', async (t) => {
        const store = await fresh(t);
        const a = await store.appendMessages([msg('user', 'in a', { conversationId: 'a' })]);
        await store.appendMessages([msg('user', 'in b', { conversationId: 'b' })]);
        await store.compact({ conversationId: 'a', summary: 'sum a', startMessageId: a[0].id, endMessageId: a[0].id }, [a[0].id]);
        assert.deepEqual(await store.uncompactedMessages('a'), []);
        assert.deepEqual((await store.uncompactedMessages('b')).map((m) => m.content), ['in b']);
        assert.deepEqual(await store.uncompactedMessages(), []);
        assert.equal((await store.latestSummary('a'))?.summary, 'sum a');
        assert.equal(await store.latestSummary('b'), undefined);
      });
    });

    describe('full-text search', () => {
      async function seeded(t: TestContext) {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'I planted tomatoes in the garden', { createdAt: '2025-01-10T10:00:00.000Z' }),
          msg('assistant', 'Tomatoes like sun; the garden faces south', { createdAt: '2025-06-10T10:00:00.000Z' }),
          msg('user', 'My sister visits on Sunday', { createdAt: '2025-09-10T10:00:00.000Z' }),
          msg('assistant', 'I will remember your sister Ana', { createdAt: '2026-01-10T10:00:00.000Z' }),
          msg('user', 'tomatoes tomatoes elsewhere', { conversationId: 'other', createdAt: '2025-06-10T10:00:00.000Z' }),
        ]);
        return { store, ms };
      }

      test('finds messages by words, best first, in one conversation only', async (t) => {
        const { store, ms } = await seeded(t);
        const hits = await store.searchMessages('tomatoes garden');
        assert.deepEqual(hits.map((h) => h.id).sort((a, b) => a - b), [ms[0].id, ms[1].id]);
        assert.ok(hits.every((h) => typeof h.score === 'number' && Number.isFinite(h.score)));
        assert.ok(hits[0].score >= hits[1].score);
        const hit = hits.find((h) => h.id === ms[0].id)!;
        assert.deepEqual({ ...hit, score: 0 }, { id: ms[0].id, role: 'user', content: 'I planted tomatoes in the garden', createdAt: '2025-01-10T10:00:00.000Z', score: 0, compacted: false });
        // case does not matter
        assert.equal((await store.searchMessages('SISTER')).length, 2);
        // another conversation is searched only when asked for
        assert.deepEqual((await store.searchMessages('elsewhere')).map((h) => h.id), []);
        assert.deepEqual((await store.searchMessages('elsewhere', { conversationId: 'other' })).map((h) => h.id), [ms[4].id]);
        assert.deepEqual(await store.searchMessages('nothingmatchesthis'), []);
      });

      test('any word is enough; messages with more of the words rank first', async (t) => {
        const { store, ms } = await seeded(t);
        assert.deepEqual((await store.searchMessages('sister Ana')).map((h) => h.id), [ms[3].id, ms[2].id]);
        const any = await store.searchMessages('Ana planted');
        assert.deepEqual(any.map((h) => h.id).sort((a, b) => a - b), [ms[0].id, ms[3].id]);
      });

      test('filters by roles, dates and limit', async (t) => {
        const { store, ms } = await seeded(t);
        assert.deepEqual((await store.searchMessages('tomatoes', { roles: ['assistant'] })).map((h) => h.id), [ms[1].id]);
        assert.equal((await store.searchMessages('tomatoes', { roles: ['user', 'assistant'] })).length, 2);
        assert.deepEqual((await store.searchMessages('tomatoes', { startDate: '2025-03-01T00:00:00.000Z' })).map((h) => h.id), [ms[1].id]);
        assert.deepEqual((await store.searchMessages('tomatoes', { endDate: '2025-03-01T00:00:00.000Z' })).map((h) => h.id), [ms[0].id]);
        assert.deepEqual((await store.searchMessages('sister', { startDate: '2025-09-01T00:00:00.000Z', endDate: '2025-12-31T23:59:59.999Z' })).map((h) => h.id), [ms[2].id]);
        assert.equal((await store.searchMessages('tomatoes', { limit: 1 })).length, 1);
        assert.equal((await store.searchMessages('the tomatoes sister', { limit: 3 })).length, 3);
      });

      test('searches compacted messages too and says they are compacted', async (t) => {
        const { store, ms } = await seeded(t);
        await store.compact({ summary: 'garden talk', startMessageId: ms[0].id, endMessageId: ms[1].id }, [ms[0].id, ms[1].id]);
        const hits = await store.searchMessages('tomatoes');
        assert.equal(hits.length, 2);
        assert.ok(hits.every((h) => h.compacted === true));
        assert.equal((await store.searchMessages('sister'))[0].compacted, false);
      });

      test('SQL- and query-hostile text is stored exactly and searched as plain words', async (t) => {
        const store = await fresh(t);
        const hostile = [
          `Robert'); DROP TABLE messages; --`,
          'quote " unbalanced and NEAR( star* AND OR NOT',
          'percent % underscore _ backslash \\ dollar $1 colon : caret ^ minus -word',
          '{"type":"user_message","message":"json inside"}',
          'null byte free but tab\tand newline\nhere',
        ];
        const stored = await store.appendMessages(hostile.map((h) => msg('user', h)));
        for (let i = 0; i < hostile.length; i++) assert.equal((await store.getMessage(stored[i].id))?.content, hostile[i]);
        for (const query of [...hostile, '"', "'", '*', 'AND', 'NOT', 'NEAR(', '(', ')', '-', '!', '&', '|', ':*', '<->', '\\', '%', '']) {
          await store.searchMessages(query);
        }
        assert.deepEqual((await store.searchMessages('DROP TABLE')).map((h) => h.id), [stored[0].id]);
        assert.deepEqual((await store.searchMessages('"unbalanced')).map((h) => h.id), [stored[1].id]);
        // user_message is the words "user" and "message": the message holding both ranks first,
        // then the one with "messages" (the same stem)
        assert.deepEqual((await store.searchMessages('user_message')).map((h) => h.id), [stored[3].id, stored[0].id]);
        assert.deepEqual(await store.searchMessages('  !!! ... '), []);
        assert.equal((await store.counts()).messages, hostile.length);
      });

      test('unicode text is stored exactly and found', async (t) => {
        const store = await fresh(t);
        const samples = ['Ich mag Käse und Müsli', 'un café très noir', '日本語 のテキスト', 'Привет мир', 'emoji 🎉🏡 party', 'mixed 😀 ünïcödé'];
        const stored = await store.appendMessages(samples.map((s) => msg('assistant', s)));
        for (let i = 0; i < samples.length; i++) assert.equal((await store.getMessage(stored[i].id))?.content, samples[i]);
        assert.deepEqual((await store.searchMessages('Käse')).map((h) => h.id), [stored[0].id]);
        assert.deepEqual((await store.searchMessages('café')).map((h) => h.id), [stored[1].id]);
        assert.deepEqual((await store.searchMessages('привет')).map((h) => h.id), [stored[3].id]);
        assert.deepEqual((await store.searchMessages('party 🎉')).map((h) => h.id), [stored[4].id]);
        assert.deepEqual((await store.searchMessages('日本語')).map((h) => h.id), [stored[2].id]);
      });
    });

    describe('idempotent import', () => {
      test('rows whose sourceRef exists are skipped; re-import adds nothing', async (t) => {
        const store = await fresh(t);
        const batch = {
          summaries: [{ summary: 'old summary', startMessageId: null, endMessageId: null, sourceRef: 'letta:sum-1', createdAt: '2024-01-01T00:00:00.000Z' }],
          messages: [
            msg('user', 'imported hello', { sourceRef: 'letta:m1', createdAt: '2024-01-01T00:00:01.000Z' }),
            msg('assistant', 'imported answer', { sourceRef: 'letta:m2', createdAt: '2024-01-01T00:00:02.000Z', metadata: { reasoning: 'be kind' } }),
          ],
          passages: [{ text: 'archived fact about bees', tags: ['nature'], sourceRef: 'letta:p1', createdAt: '2024-01-01T00:00:03.000Z' }],
        };
        assert.deepEqual(await store.importBatch(batch), { messagesAdded: 2, summariesAdded: 1, passagesAdded: 1, skippedExisting: 0 });
        assert.deepEqual(await store.importBatch(batch), { messagesAdded: 0, summariesAdded: 0, passagesAdded: 0, skippedExisting: 4 });
        const counts = await store.counts();
        assert.deepEqual({ m: counts.messages, s: counts.summaries, p: counts.passages }, { m: 2, s: 1, p: 1 });
        const m2 = await store.findMessageBySourceRef('letta:m2');
        assert.deepEqual(m2?.metadata, { reasoning: 'be kind' });
        assert.equal(m2?.createdAt, '2024-01-01T00:00:02.000Z');
        // partly new: only the new row is added
        const next = await store.importBatch({ messages: [msg('user', 'imported hello', { sourceRef: 'letta:m1' }), msg('user', 'new one', { sourceRef: 'letta:m3' })] });
        assert.deepEqual(next, { messagesAdded: 1, summariesAdded: 0, passagesAdded: 0, skippedExisting: 1 });
        // rows without a sourceRef cannot be matched and are always added
        await store.importBatch({ messages: [msg('user', 'no ref')] });
        await store.importBatch({ messages: [msg('user', 'no ref')] });
        assert.equal((await store.counts()).messages, 5);
        const ids = (await store.messagesInRange(0, 1e9)).map((m) => m.id);
        assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
      });

      test('a message appended live is not imported again under the same sourceRef', async (t) => {
        const store = await fresh(t);
        await store.appendMessages([msg('user', 'live', { sourceRef: 'discord:7' })]);
        const result = await store.importBatch({ messages: [msg('user', 'live', { sourceRef: 'discord:7' })] });
        assert.equal(result.messagesAdded, 0);
        assert.equal(result.skippedExisting, 1);
        assert.equal((await store.counts()).messages, 1);
      });
    });

    describe('archival passages', () => {
      test('insert, list, search by words and filter by tags', async (t) => {
        const store = await fresh(t);
        const p1 = await store.insertPassage({ text: 'The cat sleeps on the red sofa', tags: ['home', 'pets'] });
        const p2 = await store.insertPassage({ text: 'The dog sleeps in the garden', tags: ['pets'], createdAt: '2025-01-01T00:00:00.000Z', sourceRef: 'p:2' });
        const p3 = await store.insertPassage({ text: 'Quarterly report due Friday' });
        assert.match(p1.createdAt, ISO_MS);
        assert.deepEqual(p3.tags, []);
        assert.deepEqual(p2, { id: p2.id, text: 'The dog sleeps in the garden', tags: ['pets'], createdAt: '2025-01-01T00:00:00.000Z', sourceRef: 'p:2' });
        assert.deepEqual((await store.listPassages()).map((p) => p.id), [p1.id, p2.id, p3.id]);
        assert.deepEqual((await store.searchPassages('sleeps')).map((h) => h.id).sort((a, b) => a - b), [p1.id, p2.id]);
        assert.deepEqual((await store.searchPassages('sleeps', { tags: ['home'] })).map((h) => h.id), [p1.id]);
        assert.deepEqual((await store.searchPassages('sleeps', { tags: ['home', 'pets'] })).map((h) => h.id), [p1.id]);
        assert.deepEqual(await store.searchPassages('sleeps', { tags: ['work'] }), []);
        assert.equal((await store.searchPassages('sleeps', { limit: 1 })).length, 1);
        // tags are searchable words too
        assert.deepEqual((await store.searchPassages('pets')).map((h) => h.id).sort((a, b) => a - b), [p1.id, p2.id]);
        // all words first, then any word
        assert.deepEqual((await store.searchPassages('red sofa')).map((h) => h.id), [p1.id]);
        assert.deepEqual((await store.searchPassages('sofa Friday')).map((h) => h.id).sort((a, b) => a - b), [p1.id, p3.id]);
        const hit = (await store.searchPassages('report'))[0];
        assert.equal(hit.text, 'Quarterly report due Friday');
        assert.equal(typeof hit.score, 'number');
        assert.deepEqual(await store.searchPassages('"); DROP TABLE archival_passages; --'), []);
        assert.deepEqual(await store.searchPassages('   '), []);
      });
    });

    describe('recall index', () => {
      test('deletePassage removes a passage, its keyword entries and its vector; others stay found', async (t) => {
        const store = await fresh(t);
        const keep = await store.insertPassage({ text: 'The lighthouse keeper waves', tags: ['coast'] });
        const gone = await store.insertPassage({ text: 'The lighthouse is painted red', tags: ['coast'] });
        await store.putRecallVectors('passage', 'm', [{ id: gone.id, vector: bytes(1, 2, 3), cluster: null, conversationId: null }]);
        assert.equal(await store.deletePassage(gone.id), true);
        assert.deepEqual((await store.listPassages()).map((p) => p.id), [keep.id]);
        assert.deepEqual(ids(await keyword(store, 'passage', 'lighthouse')), [keep.id]);
        assert.deepEqual((await store.searchPassages('painted red')).map((p) => p.id), []);
        assert.deepEqual(ids(await store.recallVectors('passage', 'm', {})), []);
        assert.equal((await store.counts()).passages, 1);
        assert.equal(await store.deletePassage(gone.id), false, 'a second delete finds nothing');
      });

      test('keyword recall is stemmed: gardening finds garden, Gardens and gardened', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'the garden is full of roses'),
          msg('assistant', 'Gardens need rain'),
          msg('user', 'we gardened all day'),
          msg('user', 'nothing about plants here'),
        ]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'gardening'))), [ms[0].id, ms[1].id, ms[2].id]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'GARDEN'))), [ms[0].id, ms[1].id, ms[2].id]);
        assert.deepEqual(ids(await keyword(store, 'message', 'rains')), [ms[1].id]);
        assert.deepEqual(sorted(ids(await store.searchMessages('gardeners'))), [ms[0].id, ms[1].id, ms[2].id]);
        assert.deepEqual(await keyword(store, 'message', 'nothingmatchesthis'), []);
        assert.deepEqual(await store.recallKeyword('message', [], {}, 10), []);
      });

      test('a query of stopwords only still searches for them', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'who is she'),
          msg('assistant', 'she left early'),
          msg('user', 'nothing to see'),
        ]);
        assert.deepEqual(queryTerms('who is she'), ['who', 'is', 'she']);
        assert.deepEqual(ids(await keyword(store, 'message', 'who is she')), [ms[0].id, ms[1].id]);
        assert.deepEqual(sorted(ids(await store.searchMessages('What did she do?'))), [ms[0].id, ms[1].id]);
        assert.deepEqual(sorted(ids(await store.searchMessages('she'))), [ms[0].id, ms[1].id]);
        assert.deepEqual(ids(await store.searchMessages('to')), [ms[2].id]);
      });

      test('terms are OR-ed: more of them, and rarer ones, rank first', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'a violin for my birthday'),
          msg('user', 'violin and cello and harp at the concert'),
          msg('user', 'the cello was out of tune'),
          msg('user', 'a cello in the attic'),
          msg('user', 'the harp is heavy'),
          msg('user', 'nothing musical at all'),
          msg('user', 'lunch at noon'),
          msg('user', 'the bus was late'),
          msg('user', 'rain all afternoon'),
          msg('user', 'new shoes'),
        ]);
        // all three terms beat any two, two beat one
        const all = await keyword(store, 'message', 'violin cello harp');
        assert.equal(all[0].id, ms[1].id);
        assert.deepEqual(sorted(ids(all)), [ms[0].id, ms[1].id, ms[2].id, ms[3].id, ms[4].id]);
        assert.ok(all.every((r, i) => i === 0 || r.score <= all[i - 1].score), 'best first');
        assert.ok(all.every((r) => Number.isFinite(r.score) && r.score > 0));
        // "violin" (in 2 messages) is rarer than "cello" (in 3): a message with the rarer word ranks higher
        const rare = await keyword(store, 'message', 'cello violin');
        assert.deepEqual(ids(rare).slice(0, 2), [ms[1].id, ms[0].id]);
        assert.deepEqual(sorted(ids(rare).slice(2)), [ms[2].id, ms[3].id]);
        assert.equal((await keyword(store, 'message', 'violin cello harp', {}, 2)).length, 2);
      });

      test('a message whose neighbour holds the word is found through its context, below the one that holds it', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'we flew to Lisbon in May'),
          msg('assistant', 'how was the weather there'),
          msg('user', 'sunny every single day'),
          msg('user', 'Lisbon again next year', { conversationId: 'other' }),
        ]);
        assert.deepEqual(ids(await keyword(store, 'message', 'lisbon')), [ms[0].id]);
        assert.equal((await store.recallStats(undefined)).contextThrough, 0);
        await store.setRecallContext([
          { id: ms[1].id, context: 'we flew to Lisbon in May sunny every single day', session: ms[0].id },
          { id: ms[2].id, context: 'how was the weather there', session: ms[0].id },
        ], ms[2].id);
        const lisbon = await keyword(store, 'message', 'lisbon');
        assert.deepEqual(ids(lisbon), [ms[0].id, ms[1].id]);
        assert.ok(lisbon[1].score < lisbon[0].score);
        assert.deepEqual(ids(await keyword(store, 'message', 'weather')), [ms[1].id, ms[2].id]);
        assert.deepEqual(ids(await store.searchMessages('Lisbon')), [ms[0].id, ms[1].id]);
        assert.equal((await store.recallStats(undefined)).contextThrough, ms[2].id);
        assert.equal(await store.getMeta('recall_context_through'), String(ms[2].id));
        // a context is replaced, not added to; another conversation is untouched
        await store.setRecallContext([{ id: ms[1].id, context: 'nothing of note', session: ms[0].id }], ms[3].id);
        assert.deepEqual(ids(await keyword(store, 'message', 'lisbon')), [ms[0].id]);
        assert.deepEqual(ids(await keyword(store, 'message', 'weather')), [ms[1].id, ms[2].id]);
        assert.deepEqual(ids(await keyword(store, 'message', 'lisbon', { conversationId: 'other' })), [ms[3].id]);
        assert.equal((await store.recallStats(undefined)).contextThrough, ms[3].id);
        // the message itself is unchanged
        assert.equal((await store.getMessage(ms[1].id))?.content, 'how was the weather there');
        await store.setRecallContext([], ms[3].id + 5);
        assert.equal((await store.recallStats(undefined)).contextThrough, ms[3].id + 5);
      });

      test('filters: conversation (or every one), roles, dates, passage tags; summaries by conversation', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'tomatoes in the garden', { createdAt: '2025-01-10T10:00:00.000Z' }),
          msg('assistant', 'tomatoes need sun', { createdAt: '2025-06-10T10:00:00.000Z' }),
          msg('system', 'tomatoes were mentioned', { createdAt: '2025-07-10T10:00:00.000Z' }),
          msg('user', 'tomatoes elsewhere', { conversationId: 'other', createdAt: '2025-06-10T10:00:00.000Z' }),
        ]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'tomatoes'))), [ms[0].id, ms[1].id, ms[2].id]);
        assert.deepEqual(ids(await keyword(store, 'message', 'tomatoes', { roles: ['assistant'] })), [ms[1].id]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'tomatoes', { roles: ['user', 'system'] }))), [ms[0].id, ms[2].id]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'tomatoes', { startDate: '2025-03-01T00:00:00.000Z' }))), [ms[1].id, ms[2].id]);
        assert.deepEqual(ids(await keyword(store, 'message', 'tomatoes', { endDate: '2025-03-01T00:00:00.000Z' })), [ms[0].id]);
        assert.deepEqual(ids(await keyword(store, 'message', 'tomatoes', { startDate: '2025-06-01T00:00:00.000Z', endDate: '2025-06-30T00:00:00.000Z' })), [ms[1].id]);
        assert.deepEqual(ids(await keyword(store, 'message', 'tomatoes', { conversationId: 'other' })), [ms[3].id]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'tomatoes', { conversationId: '*' }))), ms.map((m) => m.id));
        assert.deepEqual(await keyword(store, 'message', 'tomatoes', { conversationId: 'nobody' }), []);

        const inA = await store.appendMessages([msg('user', 'x', { conversationId: 'a' })]);
        const summary = await store.compact({ conversationId: 'a', summary: 'They talked about tomatoes', startMessageId: inA[0].id, endMessageId: inA[0].id, createdAt: '2025-08-01T00:00:00.000Z' }, [inA[0].id]);
        assert.deepEqual(ids(await keyword(store, 'summary', 'tomato', { conversationId: 'a' })), [summary.id]);
        assert.deepEqual(ids(await keyword(store, 'summary', 'tomato', { conversationId: '*' })), [summary.id]);
        assert.deepEqual(await keyword(store, 'summary', 'tomato'), []);
        assert.deepEqual(await keyword(store, 'summary', 'tomato', { conversationId: 'a', endDate: '2025-07-01T00:00:00.000Z' }), []);

        const p1 = await store.insertPassage({ text: 'The cat sleeps on the red sofa', tags: ['home', 'pets'], createdAt: '2024-01-01T00:00:00.000Z' });
        const p2 = await store.insertPassage({ text: 'The dog sleeps in the garden', tags: ['pets'], createdAt: '2025-01-01T00:00:00.000Z' });
        assert.deepEqual(sorted(ids(await keyword(store, 'passage', 'sleeping'))), [p1.id, p2.id]);
        // a conversation filter does not apply to passages, which belong to none
        assert.deepEqual(sorted(ids(await keyword(store, 'passage', 'sleeping', { conversationId: 'other' }))), [p1.id, p2.id]);
        assert.deepEqual(ids(await keyword(store, 'passage', 'sleeping', { tags: ['home'] })), [p1.id]);
        assert.deepEqual(ids(await keyword(store, 'passage', 'sleeping', { tags: ['pets', 'home'] })), [p1.id]);
        assert.deepEqual(sorted(ids(await keyword(store, 'passage', 'sleeping', { tags: ['pets'] }))), [p1.id, p2.id]);
        assert.deepEqual(await keyword(store, 'passage', 'sleeping', { tags: ['work'] }), []);
        assert.deepEqual(ids(await keyword(store, 'passage', 'sleeping', { startDate: '2024-06-01T00:00:00.000Z' })), [p2.id]);
        // tags are words of the passage too
        assert.deepEqual(sorted(ids(await keyword(store, 'passage', 'pet'))), [p1.id, p2.id]);
      });

      test('punctuation and query syntax in terms are plain text and never fail', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'near the station AND the bridge; it\'s raining -- again'),
          msg('user', `Robert'); DROP TABLE messages; --`),
          msg('user', 'star * and "quotes"'),
        ]);
        const hostile = ['"', "'", '*', 'AND', 'OR', 'NOT', 'NEAR(', 'NEAR', '--', ';', '(', ')', ':', '^', '+', '-', '\\', '%', '_', '$1', '{', '}', '[', ']', '|', '&', '!', '<->', ':*',
          'a"b', '"unbalanced', 'x OR y', 'col:term', 'NEAR(a b, 3)', '\'); DROP TABLE messages; --', ''];
        for (const query of hostile) {
          for (const kind of ['message', 'summary', 'passage'] as const) {
            await store.recallKeyword(kind, [query], {}, 10);
            await store.recallKeyword(kind, queryTerms(query), {}, 10);
          }
          await store.searchMessages(query);
          await store.searchPassages(query);
        }
        await store.recallKeyword('message', hostile, {}, 10);
        // operators are words like any other
        assert.deepEqual(sorted(ids(await store.recallKeyword('message', ['AND'], {}, 10))), [ms[0].id, ms[2].id]);
        assert.deepEqual(ids(await store.recallKeyword('message', ['NEAR('], {}, 10)), [ms[0].id]);
        assert.deepEqual(ids(await store.recallKeyword('message', ['DROP'], {}, 10)), [ms[1].id]);
        // a term of several words is that phrase
        assert.deepEqual(ids(await store.recallKeyword('message', ["it's"], {}, 10)), [ms[0].id]);
        assert.deepEqual(ids(await store.recallKeyword('message', ['"quotes"'], {}, 10)), [ms[2].id]);
        // nothing but punctuation is nothing to search for
        for (const query of ['"', '*', '--', ';', '()', '  ']) assert.deepEqual(await store.recallKeyword('message', [query], {}, 10), []);
        assert.equal((await store.counts()).messages, 3);
      });

      test('accents are folded: cafe finds café and café finds cafe', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'un café très noir'),
          msg('user', 'the CAFE on the corner'),
          msg('user', 'a naïve question about Zürich'),
        ]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'cafe'))), [ms[0].id, ms[1].id]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'café'))), [ms[0].id, ms[1].id]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'CAFÉS'))), [ms[0].id, ms[1].id]);
        assert.deepEqual(ids(await keyword(store, 'message', 'tres')), [ms[0].id]);
        assert.deepEqual(ids(await keyword(store, 'message', 'naive zurich')), [ms[2].id]);
        assert.deepEqual(ids(await store.searchMessages('Zurich')), [ms[2].id]);
        const passage = await store.insertPassage({ text: 'Crème brûlée recipe', tags: ['desserts'] });
        assert.deepEqual(ids(await store.searchPassages('creme brulee')), [passage.id]);
      });

      test('every way of writing a document indexes it: append, import, compact, insertPassage', async (t) => {
        const store = await fresh(t);
        const [appended] = await store.appendMessages([msg('user', 'appended about lighthouses')]);
        await store.importBatch({
          summaries: [{ summary: 'imported summary about lighthouses', startMessageId: null, endMessageId: null, sourceRef: 's:1' }],
          messages: [msg('assistant', 'imported message about lighthouses', { sourceRef: 'm:1' })],
          passages: [{ text: 'imported passage about lighthouses', tags: ['coast'], sourceRef: 'p:1' }],
        });
        const summary = await store.compact({ summary: 'compacted summary about lighthouses', startMessageId: appended.id, endMessageId: appended.id }, [appended.id]);
        const passage = await store.insertPassage({ text: 'inserted passage about lighthouses' });
        const imported = await store.findMessageBySourceRef('m:1');
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'lighthouse'))), [appended.id, imported!.id]);
        assert.deepEqual(ids(await keyword(store, 'summary', 'lighthouse')).length, 2);
        assert.ok(ids(await keyword(store, 'summary', 'compacted lighthouse')).includes(summary.id));
        assert.deepEqual(ids(await keyword(store, 'passage', 'inserted lighthouse'))[0], passage.id);
        assert.deepEqual(ids(await keyword(store, 'passage', 'coast')).length, 1);
      });

      test('recallTermCounts: how many documents hold each term, stemmed, context included, up to the cap', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'gardens and roses'),
          msg('user', 'the garden again'),
          msg('user', 'gardening, gardening'),
          msg('user', 'roses elsewhere', { conversationId: 'other' }),
          msg('user', 'nothing here'),
        ]);
        assert.deepEqual(await store.recallTermCounts('message', ['garden', 'roses', 'tulip', '*', 'NEAR('], 10), [3, 2, 0, 0, 0]);
        assert.deepEqual(await store.recallTermCounts('message', ['garden', 'roses'], 2), [2, 2]);
        assert.deepEqual(await store.recallTermCounts('message', [], 10), []);
        await store.setRecallContext([{ id: ms[4].id, context: 'the garden again', session: ms[4].id }], ms[4].id);
        assert.deepEqual(await store.recallTermCounts('message', ['garden'], 10), [4]);
        await store.insertPassage({ text: 'a garden passage', tags: ['roses'] });
        assert.deepEqual(await store.recallTermCounts('passage', ['garden', 'rose', 'gardening'], 10), [1, 1, 1]);
        assert.deepEqual(await store.recallTermCounts('summary', ['garden'], 10), [0]);
      });

      test('compacted messages are still found', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([msg('user', 'the piano needs tuning'), msg('assistant', 'I know a piano tuner'), msg('user', 'thanks')]);
        await store.compact({ summary: 'talk about the piano', startMessageId: ms[0].id, endMessageId: ms[1].id }, [ms[0].id, ms[1].id]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'piano'))), [ms[0].id, ms[1].id]);
        assert.ok((await store.searchMessages('piano')).every((h) => h.compacted));
        assert.equal((await keyword(store, 'summary', 'piano')).length, 1);
      });

      test('messagesByIds, summariesByIds and passagesByIds keep the order asked and leave out ids not found', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([msg('user', 'one'), msg('assistant', 'two', { metadata: { k: 1 } }), msg('user', 'three')]);
        assert.deepEqual(await store.messagesByIds([ms[2].id, ms[0].id, ms[2].id + 1000, ms[1].id]), [ms[2], ms[0], ms[1]]);
        assert.deepEqual(await store.messagesByIds([]), []);
        const s1 = await store.compact({ summary: 's1', startMessageId: ms[0].id, endMessageId: ms[0].id }, [ms[0].id]);
        const s2 = await store.compact({ summary: 's2', startMessageId: ms[1].id, endMessageId: ms[1].id }, [ms[1].id]);
        assert.deepEqual(await store.summariesByIds([s2.id, 99999, s1.id]), [s2, s1]);
        const p1 = await store.insertPassage({ text: 'p1', tags: ['a'] });
        const p2 = await store.insertPassage({ text: 'p2' });
        assert.deepEqual(await store.passagesByIds([p2.id, p1.id]), [p2, p1]);
        assert.deepEqual(await store.passagesByIds([12345]), []);
      });

      test('pending documents, stored vectors and a change of model', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'first'), msg('assistant', 'second'), msg('user', 'third'), msg('user', 'fourth', { conversationId: 'other' }),
        ]);
        const pending = await store.recallPending('message', 'm1', 10);
        assert.deepEqual(pending, [
          { id: ms[0].id, text: 'first', conversationId: 'default' },
          { id: ms[1].id, text: 'second', conversationId: 'default' },
          { id: ms[2].id, text: 'third', conversationId: 'default' },
          { id: ms[3].id, text: 'fourth', conversationId: 'other' },
        ]);
        assert.deepEqual(ids(await store.recallPending('message', 'm1', 2)), [ms[0].id, ms[1].id]);
        assert.deepEqual(ids(await store.recallPending('message', 'm1', 10, ms[1].id)), [ms[2].id, ms[3].id]);

        await store.putRecallVectors('message', 'm1', [
          { id: ms[0].id, vector: bytes(0, 1, 2, 255), cluster: null, conversationId: 'default' },
          { id: ms[1].id, vector: bytes(9, 8, 7, 6), cluster: null, conversationId: 'default' },
          { id: ms[3].id, vector: bytes(4, 4, 4, 4), cluster: null, conversationId: 'other' },
        ]);
        await store.putRecallVectors('message', 'm1', []);
        assert.deepEqual(ids(await store.recallPending('message', 'm1', 10)), [ms[2].id]);
        const vectors = (await store.recallVectors('message', 'm1', {})).sort((a, b) => a.id - b.id);
        assert.deepEqual(ids(vectors), [ms[0].id, ms[1].id]);
        assert.ok(vectors.every((v) => v.vector instanceof Uint8Array));
        assert.deepEqual(vectors.map((v) => [...v.vector]), [[0, 1, 2, 255], [9, 8, 7, 6]]);
        assert.deepEqual(ids(await store.recallVectors('message', 'm1', { conversationId: 'other' })), [ms[3].id]);
        assert.deepEqual(sorted(ids(await store.recallVectors('message', 'm1', { conversationId: '*' }))), [ms[0].id, ms[1].id, ms[3].id]);
        assert.deepEqual(ids(await store.recallVectors('message', 'm1', { roles: ['assistant'] })), [ms[1].id]);
        assert.deepEqual(await store.recallVectors('message', 'm2', {}), []);
        assert.deepEqual(await store.recallVectors('summary', 'm1', { conversationId: '*' }), []);
        // a page: ids above afterId, in id order
        assert.deepEqual(ids(await store.recallVectors('message', 'm1', { conversationId: '*' }, undefined, { afterId: ms[0].id, limit: 1 })), [ms[1].id]);
        assert.deepEqual(ids(await store.recallVectors('message', 'm1', { conversationId: '*' }, undefined, { afterId: 0, limit: 10 })), [ms[0].id, ms[1].id, ms[3].id]);

        assert.deepEqual(await store.recallStats('m1'), { messages: 4, summaries: 0, passages: 0, embedded: 3, stale: 0, contextThrough: 0, lastMessageId: ms[3].id });
        // another embedder: the old vectors are stale and their documents pending again
        assert.deepEqual(ids(await store.recallPending('message', 'm2', 10)), ms.map((m) => m.id));
        assert.deepEqual({ ...(await store.recallStats('m2')) }, { messages: 4, summaries: 0, passages: 0, embedded: 0, stale: 3, contextThrough: 0, lastMessageId: ms[3].id });
        assert.deepEqual((await store.recallStats(undefined)).stale, 3);
        assert.deepEqual((await store.recallStats(undefined)).embedded, 0);
        // writing a document's vector again replaces it, model included
        await store.putRecallVectors('message', 'm2', [{ id: ms[0].id, vector: bytes(1, 1), cluster: 3, conversationId: 'default' }]);
        assert.deepEqual(ids(await store.recallVectors('message', 'm1', {})), [ms[1].id]);
        assert.deepEqual((await store.recallVectors('message', 'm2', {})).map((v) => [v.id, [...v.vector]]), [[ms[0].id, [1, 1]]]);
        assert.deepEqual([(await store.recallStats('m2')).embedded, (await store.recallStats('m2')).stale], [1, 2]);
        assert.deepEqual(ids(await store.recallPending('message', 'm2', 10)), [ms[1].id, ms[2].id, ms[3].id]);

        // summaries and passages have their own vectors; a passage belongs to no conversation
        const summary = await store.compact({ summary: 'a summary', startMessageId: ms[0].id, endMessageId: ms[0].id }, [ms[0].id]);
        const passage = await store.insertPassage({ text: 'a passage' });
        assert.deepEqual(await store.recallPending('summary', 'm2', 10), [{ id: summary.id, text: 'a summary', conversationId: 'default' }]);
        assert.deepEqual(await store.recallPending('passage', 'm2', 10), [{ id: passage.id, text: 'a passage', conversationId: null }]);
        await store.putRecallVectors('passage', 'm2', [{ id: passage.id, vector: bytes(5), cluster: null, conversationId: null }]);
        assert.deepEqual(await store.recallPending('passage', 'm2', 10), []);
        assert.deepEqual(ids(await store.recallPending('message', 'm2', 10)), [ms[1].id, ms[2].id, ms[3].id], 'a passage vector is not a message vector');
        assert.deepEqual((await store.recallVectors('passage', 'm2', {})).map((v) => [v.id, [...v.vector]]), [[passage.id, [5]]]);
        assert.deepEqual(ids(await store.recallVectors('passage', 'm2', { conversationId: 'other' })), [passage.id]);
        assert.deepEqual(await store.recallVectors('passage', 'm2', { tags: ['nope'] }), []);
        const stats = await store.recallStats('m2');
        assert.deepEqual([stats.summaries, stats.passages, stats.embedded, stats.stale], [1, 1, 2, 2]);
      });

      test('cluster centres round-trip and replace the clusters of the vectors', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([msg('user', 'a'), msg('user', 'b'), msg('user', 'c')]);
        await store.putRecallVectors('message', 'm', ms.map((m, i) => ({ id: m.id, vector: bytes(i), cluster: null, conversationId: m.conversationId })));
        assert.deepEqual(await store.recallCentroids('message', 'm'), []);
        await store.setRecallCentroids('message', 'm', [bytes(10, 11), bytes(20, 21)], [{ id: ms[0].id, cluster: 0 }, { id: ms[1].id, cluster: 1 }]);
        const centroids = await store.recallCentroids('message', 'm');
        assert.ok(centroids.every((c) => c instanceof Uint8Array));
        assert.deepEqual(centroids.map((c) => [...c]), [[10, 11], [20, 21]]);
        // only the clusters asked for, and vectors not in a cluster yet
        assert.deepEqual(sorted(ids(await store.recallVectors('message', 'm', {}, [1]))), [ms[1].id, ms[2].id]);
        assert.deepEqual(sorted(ids(await store.recallVectors('message', 'm', {}, [0, 1]))), ms.map((m) => m.id));
        assert.deepEqual(ids(await store.recallVectors('message', 'm', {}, [])), [ms[2].id]);
        // other kinds and models have their own centres
        assert.deepEqual(await store.recallCentroids('summary', 'm'), []);
        assert.deepEqual(await store.recallCentroids('message', 'other-model'), []);
        await store.setRecallCentroids('message', 'other-model', [bytes(99)], [{ id: ms[2].id, cluster: 0 }]);
        assert.deepEqual(sorted(ids(await store.recallVectors('message', 'm', {}, [1]))), [ms[1].id, ms[2].id]);
        // replaced whole
        await store.setRecallCentroids('message', 'm', [bytes(30)], ms.map((m) => ({ id: m.id, cluster: 0 })));
        assert.deepEqual((await store.recallCentroids('message', 'm')).map((c) => [...c]), [[30]]);
        assert.deepEqual(sorted(ids(await store.recallVectors('message', 'm', {}, [0]))), ms.map((m) => m.id));
        assert.deepEqual(await store.recallVectors('message', 'm', {}, [1]), []);
        assert.deepEqual((await store.recallCentroids('message', 'other-model')).map((c) => [...c]), [[99]]);
      });

      test('resetRecallIndex starts the keyword index again, and with "all" the vectors too', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([msg('user', 'we flew to Lisbon'), msg('assistant', 'how was it')]);
        const passage = await store.insertPassage({ text: 'Lisbon trip notes', tags: ['travel'] });
        await store.setRecallContext([{ id: ms[0].id, context: 'how was it', session: ms[0].id }, { id: ms[1].id, context: 'we flew to Lisbon', session: ms[0].id }], ms[1].id);
        await store.putRecallVectors('message', 'm', [{ id: ms[0].id, vector: bytes(1), cluster: 0, conversationId: 'default' }]);
        await store.setRecallCentroids('message', 'm', [bytes(7)], []);
        assert.deepEqual(ids(await keyword(store, 'message', 'lisbon')), [ms[0].id, ms[1].id]);
        assert.deepEqual(ids(await store.recallSessionKeyword(['lisbon'], {}, 10)), [ms[0].id]);
        await store.resetRecallIndex('keywords');
        assert.deepEqual(ids(await keyword(store, 'message', 'lisbon')), [ms[0].id]);
        assert.deepEqual(await store.recallSessionKeyword(['lisbon'], {}, 10), []);
        assert.deepEqual(await store.recallSessionsOf([ms[0].id, ms[1].id]), new Map());
        assert.deepEqual(ids(await keyword(store, 'passage', 'lisbon travel')), [passage.id]);
        assert.equal((await store.recallStats('m')).contextThrough, 0);
        assert.equal((await store.recallStats('m')).embedded, 1);
        assert.equal((await store.recallCentroids('message', 'm')).length, 1);
        // still indexing what comes after
        const [later] = await store.appendMessages([msg('user', 'back from Lisbon')]);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'lisbon'))), [ms[0].id, later.id]);
        await store.resetRecallIndex('all');
        assert.equal((await store.recallStats('m')).embedded, 0);
        assert.deepEqual(await store.recallCentroids('message', 'm'), []);
        assert.deepEqual(sorted(ids(await keyword(store, 'message', 'lisbon'))), [ms[0].id, later.id]);
      });

      test('sessions: each message\'s session is kept, and whole sessions are ranked by their messages\' words', async (t) => {
        const store = await fresh(t);
        const ms = await store.appendMessages([
          msg('user', 'we flew to Lisbon in May'),
          msg('assistant', 'did you eat pastries'),
          msg('user', 'every single morning'),
          msg('user', 'back home, the garden needs work'),
          msg('assistant', 'the roses first'),
          msg('user', 'Lisbon next year?', { conversationId: 'other' }),
        ]);
        assert.deepEqual(await store.recallSessionKeyword(['lisbon'], {}, 10), []);
        assert.deepEqual(await store.recallSessionsOf([ms[0].id]), new Map());
        await store.setRecallContext([
          { id: ms[0].id, context: '', session: ms[0].id },
          { id: ms[1].id, context: '', session: ms[0].id },
          { id: ms[3].id, context: '', session: ms[3].id },
          { id: ms[5].id, context: '', session: ms[5].id },
        ], ms[5].id);
        assert.deepEqual(await store.recallSessionsOf([ms[1].id, ms[0].id, ms[2].id, ms[3].id]), new Map([[ms[1].id, ms[0].id], [ms[0].id, ms[0].id], [ms[3].id, ms[3].id]]));
        assert.deepEqual(await store.recallSessionsOf([]), new Map());
        // a session is found by the words of any of its messages, stemmed, OR-ed
        assert.deepEqual(ids(await store.recallSessionKeyword(queryTerms('Lisbon pastry'), {}, 10)), [ms[0].id]);
        assert.deepEqual(await store.recallSessionKeyword(queryTerms('morning'), {}, 10), [], 'not yet in its session');
        assert.deepEqual(ids(await store.recallSessionKeyword(queryTerms('lisbon'), { conversationId: 'other' }, 10)), [ms[5].id]);
        assert.deepEqual(sorted(ids(await store.recallSessionKeyword(queryTerms('lisbon'), { conversationId: '*' }, 10))), [ms[0].id, ms[5].id]);
        assert.deepEqual(await store.recallSessionKeyword([], {}, 10), []);
        // a message joining a session rebuilds the session's document
        await store.setRecallContext([{ id: ms[2].id, context: '', session: ms[0].id }, { id: ms[4].id, context: '', session: ms[3].id }], ms[5].id);
        assert.deepEqual(ids(await store.recallSessionKeyword(queryTerms('morning'), {}, 10)), [ms[0].id]);
        assert.deepEqual(ids(await store.recallSessionKeyword(queryTerms('garden roses'), {}, 10)), [ms[3].id]);
        const both = await store.recallSessionKeyword(queryTerms('Lisbon roses garden'), {}, 10);
        assert.deepEqual(ids(both), [ms[3].id, ms[0].id]);
        assert.ok(both[0].score > both[1].score && both[1].score > 0);
        assert.equal((await store.recallSessionKeyword(queryTerms('Lisbon roses garden'), {}, 1)).length, 1);
        for (const query of ['"', 'NEAR(', "'; --", '*']) await store.recallSessionKeyword([query], {}, 10);
      });

      test('sessions are ranked by FTS5\'s BM25 over their whole text, the same in both stores', async (t) => {
        const store = await fresh(t);
        const sessions = [
          ['piano lessons every sunday', 'with my sister'],
          ['violin and piano duet', 'tonight at eight', 'the violin was out of tune'],
          ['drum solo then loud drum fill'],
          ['flute practice before the morning'],
          ['grocery list', 'eggs bread butter', 'and more piano music'],
          ['a long walk along the river'],
          ['nothing planned for the weekend', 'maybe a film'],
        ];
        const firsts: number[] = [];
        const docs: Array<{ id: number; body: string }> = [];
        for (const [i, texts] of sessions.entries()) {
          const ms = await store.appendMessages(texts.map((value) => msg('user', value, { conversationId: i === 4 ? 'other' : 'default' })));
          firsts.push(ms[0].id);
          docs.push({ id: ms[0].id, body: texts.join('\n') });
          // each session written once: FTS5 keeps exact totals only for rows it never deleted
          await store.setRecallContext(ms.map((m) => ({ id: m.id, context: '', session: ms[0].id })), ms[ms.length - 1].id);
        }
        for (const { terms, conversationId, order } of [
          { terms: ['piano'], conversationId: undefined, order: [0, 1] },
          { terms: ['violin', 'drum', 'flute'], conversationId: undefined, order: [2, 3, 1] },
          { terms: ['piano', 'violin'], conversationId: '*', order: [1, 0, 4] },
        ]) {
          const candidates = firsts.filter((_, i) => conversationId === '*' || i !== 4);
          const expected = referenceBm25(docs, terms, candidates);
          for (let i = 1; i < expected.length; i++) assert.ok(expected[i - 1].score - expected[i].score > 1e-6, `tie in the reference for ${terms}`);
          assert.deepEqual(expected.map((r) => firsts.indexOf(r.id)), order, `reference order for ${terms}`);
          const ranked = await store.recallSessionKeyword(terms, { conversationId }, 10);
          assert.deepEqual(ranked.map((r) => firsts.indexOf(r.id)), order, `${name} order for ${terms}`);
          ranked.forEach((r, i) => assert.ok(Math.abs(r.score - expected[i].score) <= 1e-12 * expected[i].score, `${name} score for ${terms}: ${r.score}, FTS5's formula gives ${expected[i].score}`));
        }
      });

      /**
       * Ten messages, one more in another conversation, and two contexts when asked (written once,
       * or after provisional ones that they replace); every query
       * word appears in one form only, so the reference needs no stemmer, and has three letters or
       * more (FTS5 and PostgreSQL's Porter differ on shorter ones).
       */
      async function rankingSet(store: MemoryStore, contexts: 'none' | 'once' | 'rewritten') {
        const texts = [
          'piano lessons every sunday with sister',
          'violin and piano duet tonight',
          'drum solo then loud drum fill then drum',
          'flute practice before the morning',
          'quiet evening at home',
          'piano piano piano piano tuning',
          'grocery list eggs bread butter',
          'the violin teacher called about the flute',
          'long walk along the river with the dog and the neighbours',
          'nothing planned for the weekend',
        ];
        const ms = await store.appendMessages([
          ...texts.map((value, i) => msg(i % 2 ? 'assistant' : 'user', value)),
          msg('user', 'piano concert downtown with the violin section', { conversationId: 'other' }),
        ]);
        const written = contexts === 'none' ? [] : [
          { id: ms[4].id, context: 'flute practice before the morning violin and piano duet tonight', session: ms[4].id },
          { id: ms[6].id, context: 'drum solo then loud drum fill then drum', session: ms[6].id },
        ];
        // provisional contexts first, then replaced: only the last one may count
        if (contexts === 'rewritten') await store.setRecallContext([{ id: ms[4].id, context: 'piano piano piano', session: ms[4].id }, { id: ms[9].id, context: 'violin', session: ms[9].id }], ms[4].id);
        if (contexts !== 'none') await store.setRecallContext([...written, ...contexts === 'rewritten' ? [{ id: ms[9].id, context: '', session: ms[9].id }] : []], ms[9].id);
        const docs = ms.map((m) => ({ id: m.id, body: m.content, context: written.find((c) => c.id === m.id)?.context }));
        const label = (id: number) => ms.findIndex((m) => m.id === id);
        /** the reference ranking of the documents these filters allow */
        const reference = (terms: string[], filters: RecallFilters) => referenceBm25(docs, terms, ms
          .filter((m) => (filters.conversationId === '*' || m.conversationId === (filters.conversationId ?? 'default')) && (!filters.roles || filters.roles.includes(m.role)))
          .map((m) => m.id));
        return { label, reference };
      }

      type RankingCase = { terms: string[]; filters?: RecallFilters; order: number[] };

      /** The reference order is the one given, without near-ties; the store ranks in that order (and with those scores, when asked). */
      async function checkRanking(store: MemoryStore, set: Awaited<ReturnType<typeof rankingSet>>, cases: RankingCase[], scores: boolean) {
        for (const { terms, filters = {}, order } of cases) {
          const expected = set.reference(terms, filters);
          // no two scores close enough for rounding to swap them
          for (let i = 1; i < expected.length; i++) assert.ok(expected[i - 1].score - expected[i].score > 1e-6, `tie in the reference for ${terms}`);
          assert.deepEqual(expected.map((r) => set.label(r.id)), order, `reference order for ${terms}`);
          const ranked = await store.recallKeyword('message', terms, filters, 20);
          assert.deepEqual(ranked.map((r) => set.label(r.id)), order, `${name} order for ${terms}`);
          if (scores) ranked.forEach((r, i) => assert.ok(Math.abs(r.score - expected[i].score) <= 1e-12 * expected[i].score, `${name} score for ${terms}: ${r.score}, FTS5's formula gives ${expected[i].score}`));
          assert.deepEqual(await store.recallKeyword('message', terms, filters, 2), ranked.slice(0, 2));
        }
      }

      test('BM25 as FTS5 computes it: the same ranking and scores in both stores', async (t) => {
        const store = await fresh(t);
        const set = await rankingSet(store, 'none');
        await checkRanking(store, set, [
          // the short message with the word four times first, then by length
          { terms: ['piano'], order: [5, 1, 0] },
          { terms: ['violin', 'drum'], order: [2, 1, 7] },
          { terms: ['flute', 'violin', 'piano'], order: [7, 1, 3, 5, 0] },
          { terms: ['drum', 'flute', 'walk'], order: [2, 8, 3, 7] },
          // N and the average length count every conversation, whatever the filter
          { terms: ['piano', 'violin'], filters: { conversationId: '*' }, order: [1, 10, 5, 7, 0] },
          { terms: ['piano', 'violin'], filters: { roles: ['assistant'] }, order: [1, 5, 7] },
        ], true);
        // passages: the tags count as words (the reference sees them in the stored JSON)
        const passages = [
          await store.insertPassage({ text: 'recipe for bread with butter', tags: ['cooking'] }),
          await store.insertPassage({ text: 'bread bread bread', tags: ['cooking', 'bread'] }),
          await store.insertPassage({ text: 'notes on the violin', tags: ['music'] }),
          await store.insertPassage({ text: 'cooking class on friday evening' }),
        ];
        const expected = referenceBm25(passages.map((p) => ({ id: p.id, body: `${p.text} ${JSON.stringify(p.tags)}` })), ['bread', 'cooking'], passages.map((p) => p.id));
        const ranked = await store.recallKeyword('passage', ['bread', 'cooking'], {}, 10);
        assert.deepEqual(ids(ranked), [passages[1].id, passages[0].id, passages[3].id]);
        assert.deepEqual(ids(ranked), ids(expected));
        ranked.forEach((r, i) => assert.ok(Math.abs(r.score - expected[i].score) <= 1e-12 * expected[i].score));
      });

      // SQLite: FTS5 leaves a contentless_delete table's totals (rows, words) as they were when a
      // row is deleted, so each context written (a delete and an insert) counts its message in
      // bm25()'s N and average length once more: scores drift, and the order with them
      const contextCases: RankingCase[] = [
        // 4 is found by its context alone, below the messages that hold the word
        { terms: ['piano'], order: [5, 1, 0, 4] },
        // three drums; three drums in the context only; then the rarer violin
        { terms: ['violin', 'drum'], order: [2, 6, 1, 7, 4] },
        { terms: ['flute', 'violin', 'piano'], order: [7, 3, 1, 4, 5, 0] },
        { terms: ['drum', 'flute', 'walk'], order: [2, 8, 6, 3, 7, 4] },
        { terms: ['piano', 'violin'], filters: { conversationId: '*' }, order: [1, 10, 7, 5, 4, 0] },
      ];

      test('the context is a second column at CONTEXT_WEIGHT: the same ranking in both stores', async (t) => {
        const store = await fresh(t);
        await checkRanking(store, await rankingSet(store, 'once'), contextCases, false);
      });

      test('with contexts written, scores are still exactly FTS5\'s formula over the current documents', async (t) => {
        const store = await fresh(t);
        await checkRanking(store, await rankingSet(store, 'once'), contextCases, true);
      });

      test('contexts rewritten (provisional, then final) count once: the ranking is that of the final contexts', async (t) => {
        const store = await fresh(t);
        await checkRanking(store, await rankingSet(store, 'rewritten'), contextCases, true);
      });

      test('after resetRecallIndex, BM25 counts every document once, as if freshly indexed', async (t) => {
        const store = await fresh(t);
        const set = await rankingSet(store, 'none');
        for (let i = 0; i < 2; i++) await store.resetRecallIndex(i === 0 ? 'keywords' : 'all');
        await checkRanking(store, set, [
          { terms: ['flute', 'violin', 'piano'], order: [7, 1, 3, 5, 0] },
          { terms: ['piano', 'violin'], filters: { conversationId: '*' }, order: [1, 10, 5, 7, 0] },
        ], true);
      });
    });

    describe('usage, meta and counts', () => {
      test('recordUsage, lastUsage and usageTotals per conversation', async (t) => {
        const store = await fresh(t);
        assert.equal(await store.lastUsage(), undefined);
        assert.deepEqual(await store.usageTotals(), { calls: 0, inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 0 });
        await store.recordUsage({ model: 'm1', inputTokens: 10, cacheReadTokens: 100, cacheWriteTokens: 5, outputTokens: 20, lastMessageId: 3 });
        await store.recordUsage({ model: 'm2', inputTokens: 1, cacheReadTokens: 2, cacheWriteTokens: 3, outputTokens: 4, requestTokens: 999, createdAt: '2026-03-03T03:03:03.003Z' });
        await store.recordUsage({ conversationId: 'other', model: 'm3', inputTokens: 1000, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 1 });
        const last = await store.lastUsage();
        assert.deepEqual({ ...last, id: 0 }, { id: 0, conversationId: 'default', model: 'm2', inputTokens: 1, cacheReadTokens: 2, cacheWriteTokens: 3, outputTokens: 4, requestTokens: 999, lastMessageId: null, createdAt: '2026-03-03T03:03:03.003Z', kind: 'turn', provider: null, source: null });
        assert.deepEqual(await store.usageTotals(), { calls: 2, inputTokens: 11, cacheReadTokens: 102, cacheWriteTokens: 8, outputTokens: 24 });
        assert.deepEqual(await store.usageTotals('other'), { calls: 1, inputTokens: 1000, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 1 });
        const otherLast = await store.lastUsage('other');
        // requestTokens defaults to input + cache read + cache write
        assert.equal(otherLast?.requestTokens, 1000);
        await store.recordUsage({ model: 'm4', inputTokens: 10, cacheReadTokens: 100, cacheWriteTokens: 5, outputTokens: 20, lastMessageId: 3 });
        const fourth = await store.lastUsage();
        assert.equal(fourth?.requestTokens, 115);
        assert.equal(fourth?.lastMessageId, 3);
        assert.match(fourth!.createdAt, ISO_MS);
        // a compaction call counts in the totals but is not "the last request"
        await store.recordUsage({ kind: 'compaction', model: 'm5', inputTokens: 7, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 1 });
        assert.equal((await store.lastUsage())?.model, 'm4');
        assert.equal((await store.usageTotals()).calls, 4);
      });

      test('recordUsage keeps provider and source; usageSummary adds up calls per UTC day, provider, model, kind and source', async (t) => {
        const store = await fresh(t);
        assert.deepEqual(await store.usageSummary({}), []);
        const call = (createdAt: string, extra: Partial<Parameters<MemoryStore['recordUsage']>[0]> = {}) =>
          store.recordUsage({ model: 'claude-sonnet-4-6', inputTokens: 10, cacheReadTokens: 100, cacheWriteTokens: 5, outputTokens: 20, createdAt, ...extra });
        await call('2026-03-01T00:00:00.000Z', { provider: 'anthropic', source: 'discord' });
        await call('2026-03-01T23:59:59.999Z', { provider: 'anthropic', source: 'discord', conversationId: 'other', inputTokens: 1, cacheReadTokens: 2, cacheWriteTokens: 3, outputTokens: 4 });
        await call('2026-03-01T12:00:00.000Z', { provider: 'anthropic', source: 'perch' });
        await call('2026-03-01T12:00:00.000Z', { provider: 'anthropic', kind: 'compaction', model: 'claude-haiku-4-5' });
        await call('2026-03-02T00:00:00.000Z', { provider: 'openai', source: 'job', model: 'qwen3:8b', inputTokens: 500, cacheReadTokens: 0, cacheWriteTokens: 0 });
        await call('2026-02-28T08:00:00.000Z');
        const last = await store.lastUsage('other');
        assert.equal(last?.provider, 'anthropic');
        assert.equal(last?.source, 'discord');
        const group = (day: string, provider: string | null, model: string, kind: 'turn' | 'compaction', source: string | null, calls: number, i: number, cr: number, cw: number, o: number) =>
          ({ day, provider, model, kind, source, calls, inputTokens: i, cacheReadTokens: cr, cacheWriteTokens: cw, outputTokens: o });
        const all = [
          group('2026-02-28', null, 'claude-sonnet-4-6', 'turn', null, 1, 10, 100, 5, 20),
          group('2026-03-01', 'anthropic', 'claude-haiku-4-5', 'compaction', null, 1, 10, 100, 5, 20),
          group('2026-03-01', 'anthropic', 'claude-sonnet-4-6', 'turn', 'discord', 2, 11, 102, 8, 24),
          group('2026-03-01', 'anthropic', 'claude-sonnet-4-6', 'turn', 'perch', 1, 10, 100, 5, 20),
          group('2026-03-02', 'openai', 'qwen3:8b', 'turn', 'job', 1, 500, 0, 0, 20),
        ];
        assert.deepEqual(await store.usageSummary({}), all);
        // since inclusive, until exclusive, compared as stored times
        assert.deepEqual(await store.usageSummary({ since: '2026-03-01T00:00:00.000Z', until: '2026-03-02T00:00:00.000Z' }), all.slice(1, 4));
        assert.deepEqual(await store.usageSummary({ since: '2026-03-01T00:00:00.001Z', until: '2026-03-01T23:59:59.999Z' }),
          [all[1], group('2026-03-01', 'anthropic', 'claude-sonnet-4-6', 'turn', 'perch', 1, 10, 100, 5, 20)]);
        assert.deepEqual(await store.usageSummary({ since: '2026-03-02T00:00:00.000Z' }), [all[4]]);
        assert.deepEqual(await store.usageSummary({ until: '2026-03-01T00:00:00.000Z' }), [all[0]]);
        assert.deepEqual(await store.usageSummary({ since: '2027-01-01T00:00:00.000Z' }), []);
      });

      test('meta values are set, replaced and read back exactly', async (t) => {
        const store = await fresh(t);
        assert.equal(await store.getMeta('discord.last_seen'), undefined);
        await store.setMeta('discord.last_seen', '123');
        await store.setMeta('discord.last_seen', '456');
        await store.setMeta('base_instructions', 'multi\nline "quoted" 🎉');
        assert.equal(await store.getMeta('discord.last_seen'), '456');
        assert.equal(await store.getMeta('base_instructions'), 'multi\nline "quoted" 🎉');
      });

      test('claimMeta sets a key only once, even when claimed concurrently', async (t) => {
        const store = await fresh(t);
        const results = await Promise.all(['a', 'b', 'c', 'd'].map((who) => store.claimMeta('claim.x', who)));
        assert.equal(results.filter(Boolean).length, 1);
        const winner = ['a', 'b', 'c', 'd'][results.indexOf(true)];
        assert.equal(await store.getMeta('claim.x'), winner);
        assert.equal(await store.claimMeta('claim.x', 'late'), false);
      });

      test('counts reflect every table', async (t) => {
        const store = await fresh(t);
        assert.deepEqual(await store.counts(), { blocks: 0, messages: 0, compactedMessages: 0, summaries: 0, passages: 0 });
        await store.putBlock({ label: 'b', content: '', description: '', charLimit: 10, readOnly: false }, 'init');
        const ms = await store.appendMessages([msg('user', 'x'), msg('user', 'y')]);
        await store.compact({ summary: 's', startMessageId: ms[0].id, endMessageId: ms[0].id }, [ms[0].id]);
        await store.insertPassage({ text: 'p' });
        assert.deepEqual(await store.counts(), { blocks: 1, messages: 2, compactedMessages: 1, summaries: 1, passages: 1 });
      });
    });
  });
}
