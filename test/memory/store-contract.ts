// The behaviour every MemoryStore must have. sqlite-store.test.ts and postgres-store.test.ts
// run this same suite, so both backends are held to one contract.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { ContentBlock } from '../../src/llm/content.ts';
import type { MemoryStore, NewMessage } from '../../src/memory/store.ts';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const text = (value: string): ContentBlock[] => [{ type: 'text', text: value }];
const msg = (role: NewMessage['role'], value: string, extra: Partial<NewMessage> = {}): NewMessage => ({ role, blocks: text(value), ...extra });

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

      test('prefers messages with all words and falls back to any word', async (t) => {
        const { store, ms } = await seeded(t);
        assert.deepEqual((await store.searchMessages('sister Ana')).map((h) => h.id), [ms[3].id]);
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
        assert.deepEqual((await store.searchMessages('user_message')).map((h) => h.id), [stored[3].id]);
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

    describe('usage, meta and counts', () => {
      test('recordUsage, lastUsage and usageTotals per conversation', async (t) => {
        const store = await fresh(t);
        assert.equal(await store.lastUsage(), undefined);
        assert.deepEqual(await store.usageTotals(), { calls: 0, inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 0 });
        await store.recordUsage({ model: 'm1', inputTokens: 10, cacheReadTokens: 100, cacheWriteTokens: 5, outputTokens: 20, lastMessageId: 3 });
        await store.recordUsage({ model: 'm2', inputTokens: 1, cacheReadTokens: 2, cacheWriteTokens: 3, outputTokens: 4, requestTokens: 999, createdAt: '2026-03-03T03:03:03.003Z' });
        await store.recordUsage({ conversationId: 'other', model: 'm3', inputTokens: 1000, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 1 });
        const last = await store.lastUsage();
        assert.deepEqual({ ...last, id: 0 }, { id: 0, conversationId: 'default', model: 'm2', inputTokens: 1, cacheReadTokens: 2, cacheWriteTokens: 3, outputTokens: 4, requestTokens: 999, lastMessageId: null, createdAt: '2026-03-03T03:03:03.003Z', kind: 'turn' });
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
