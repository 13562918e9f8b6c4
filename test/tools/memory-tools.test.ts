import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import { ensureDefaultBlocks } from '../../src/memory/default-blocks.ts';
import type { MemoryStore } from '../../src/memory/store.ts';
import { LocalToolProvider } from '../../src/tools/local-tools.ts';
import { memoryTools } from '../../src/tools/local/memory-tools.ts';

describe('memory tools (Letta-compatible)', () => {
  let dir: string;
  let store: MemoryStore;
  let tools: LocalToolProvider;
  const ctx = { conversationId: 'default' };
  const call = (name: string, args: Record<string, unknown>) => tools.callTool(name, args, ctx);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lares-mem-'));
    store = await openSqliteStore(join(dir, 'lares.db'));
    await ensureDefaultBlocks(store);
    await store.putBlock({ label: 'human', content: 'Name: Ada\nLikes: tea\nLikes: tea', description: 'the person', charLimit: 60, readOnly: false }, 'test');
    await store.putBlock({ label: 'rules', content: 'Be kind.', description: 'fixed', charLimit: 100, readOnly: true }, 'test');
    tools = new LocalToolProvider('local', memoryTools(store));
  });
  after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });

  test('lists the Letta tool names with JSON schemas', async () => {
    const names = (await tools.listTools()).map((t) => t.name).sort();
    assert.deepEqual(names, ['archival_memory_insert', 'archival_memory_search', 'conversation_search', 'core_memory_append', 'core_memory_replace', 'memory_insert', 'memory_replace', 'memory_rethink']);
    const replace = (await tools.listTools()).find((t) => t.name === 'memory_replace')!;
    assert.equal(replace.inputSchema.type, 'object');
    assert.deepEqual(replace.inputSchema.required, ['label', 'old_string', 'new_string']);
  });

  test('old_string not found', async () => {
    const r = await call('memory_replace', { label: 'human', old_string: 'coffee', new_string: 'x' });
    assert.equal(r.isError, true);
    assert.match(String(r.content), /old_string `coffee` did not appear verbatim in memory block with label `human`/);
  });

  test('old_string not unique says on which lines', async () => {
    const r = await call('memory_replace', { label: 'human', old_string: 'Likes: tea', new_string: 'x' });
    assert.equal(r.isError, true);
    assert.match(String(r.content), /Multiple occurrences .* in lines 2, 3/);
  });

  test('read-only block', async () => {
    const r = await call('memory_rethink', { label: 'rules', new_memory: 'Be mean.' });
    assert.equal(r.isError, true);
    assert.match(String(r.content), /read-only/);
    assert.equal((await store.getBlock('rules'))!.content, 'Be kind.');
  });

  test('over the character limit says by how much', async () => {
    const r = await call('core_memory_append', { label: 'human', content: 'x'.repeat(40) });
    assert.equal(r.isError, true);
    assert.match(String(r.content), /Exceeds 60 character limit \(requested length: 72, 12 characters over\)/);
  });

  test('unknown block names the existing ones', async () => {
    const r = await call('memory_insert', { label: 'nope', new_string: 'x' });
    assert.match(String(r.content), /no memory block with label `nope`.*persona, human/s);
  });

  test('insert at a line, replace, rethink: every edit in the history, result shows the new value', async () => {
    let r = await call('memory_insert', { label: 'ideas', new_string: 'first idea', insert_line: 0 });
    assert.equal(r.isError, false);
    r = await call('memory_insert', { label: 'ideas', new_string: 'second idea' });
    assert.equal(r.isError, false);
    assert.equal((await store.getBlock('ideas'))!.content, 'first idea\nsecond idea');
    r = await call('core_memory_replace', { label: 'ideas', old_content: 'second', new_content: '2nd' });
    assert.match(String(r.content), /first idea\n2nd idea/);
    assert.deepEqual(r.changedBlocks, ['ideas']);
    r = await call('memory_rethink', { label: 'ideas', new_memory: 'one idea' });
    assert.equal(r.isError, false);
    const history = await store.blockHistory('ideas');
    assert.deepEqual(history.map((v) => v.actor), ['init', 'agent:memory_insert', 'agent:memory_insert', 'agent:core_memory_replace', 'agent:memory_rethink']);
  });

  test('replacement text with $ patterns is inserted literally', async () => {
    await call('memory_rethink', { label: 'state', new_memory: 'price: X' });
    await call('memory_replace', { label: 'state', old_string: 'X', new_string: "$& $1 $'" });
    assert.equal((await store.getBlock('state'))!.content, "price: $& $1 $'");
  });

  test('conversation_search filters by role and date; archival search by tags', async () => {
    await store.appendMessages([
      { role: 'user', blocks: [{ type: 'text', text: 'My cat is called Miso' }], createdAt: '2026-01-05T10:00:00.000Z' },
      { role: 'assistant', blocks: [{ type: 'text', text: 'Miso is a lovely name for a cat' }], createdAt: '2026-02-05T10:00:00.000Z' },
    ]);
    let r = await call('conversation_search', { query: 'Miso cat', roles: ['user'] });
    assert.match(String(r.content), /1 message\(s\).*My cat is called Miso/s);
    assert.doesNotMatch(String(r.content), /lovely name/);
    r = await call('conversation_search', { query: 'Miso', start_date: '2026-02-01' });
    assert.match(String(r.content), /lovely name/);
    assert.doesNotMatch(String(r.content), /called Miso/);
    r = await call('conversation_search', { query: 'Miso', start_date: 'last tuesday' });
    assert.equal(r.isError, true);
    assert.match(String(r.content), /start_date .* is not a date/);
    await call('archival_memory_insert', { content: 'Miso was adopted in 2024', tags: ['pets'] });
    await call('archival_memory_insert', { content: 'Miso the soup', tags: ['food'] });
    r = await call('archival_memory_search', { query: 'Miso', tags: ['pets'] });
    assert.match(String(r.content), /adopted/);
    assert.doesNotMatch(String(r.content), /soup/);
  });
});
