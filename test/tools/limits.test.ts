import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import { LocalToolProvider } from '../../src/tools/local-tools.ts';
import { memoryTools } from '../../src/tools/local/memory-tools.ts';
import { ToolRouter } from '../../src/tools/tool-router.ts';
import type { ToolProvider } from '../../src/tools/types.ts';

test('huge tool results are capped, as text and as text blocks next to images', async () => {
  const big: ToolProvider = {
    name: 'big',
    async listTools() { return [{ name: 'dump', description: 'd', inputSchema: { type: 'object' } }, { name: 'blocks', description: 'b', inputSchema: { type: 'object' } }]; },
    async callTool(name) {
      if (name === 'dump') return { content: 'x'.repeat(200_000), isError: false };
      return { content: [{ type: 'text', text: 'y'.repeat(50_000) }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }, { type: 'text', text: 'z'.repeat(50_000) }], isError: false };
    },
  };
  const router = new ToolRouter([big]);
  await router.refresh();
  const dump = await router.call('dump', {}, { conversationId: 'default' });
  assert.ok(typeof dump.content === 'string' && dump.content.length < 61_000 && /result truncated: 140000 more characters/.test(dump.content));
  const blocks = await router.call('blocks', {}, { conversationId: 'default' });
  assert.ok(Array.isArray(blocks.content));
  const texts = blocks.content.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text);
  assert.ok(texts.reduce((n, t) => n + t.length, 0) < 61_000);
  assert.match(texts[1], /result truncated: 40000 more characters/);
  assert.equal(blocks.content[1].type, 'image', 'images are passed on');
});

test('a block already over its limit (e.g. migrated) can be shrunk by an edit, not grown', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-limit-'));
  const store = await openSqliteStore(join(dir, 'l.db'));
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  await store.putBlock({ label: 'human', content: `${'a'.repeat(60)}REMOVE-THIS-PART-0123456789-abcdef${'c'.repeat(26)}`, description: 'd', charLimit: 100, readOnly: false }, 'migration');
  const tools = new LocalToolProvider('local', memoryTools(store));
  const shrink = await tools.callTool('memory_replace', { label: 'human', old_string: 'REMOVE-THIS-PART-0123456789-abcdef', new_string: '' }, { conversationId: 'default' });
  assert.equal(shrink.isError, false, String(shrink.content));
  assert.equal((await store.getBlock('human'))!.content.length, 86);
  const grow = await tools.callTool('core_memory_append', { label: 'human', content: 'b'.repeat(20) }, { conversationId: 'default' });
  assert.equal(grow.isError, true);
  assert.match(String(grow.content), /Exceeds 100 character limit/);
});

test('"not unique" names each line once, with how many times', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-limit-'));
  const store = await openSqliteStore(join(dir, 'l.db'));
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  await store.putBlock({ label: 'ideas', content: 'tea tea\ncoffee\ntea', description: 'd', charLimit: 100, readOnly: false }, 'test');
  const tools = new LocalToolProvider('local', memoryTools(store));
  const r = await tools.callTool('memory_replace', { label: 'ideas', old_string: 'tea', new_string: 'x' }, { conversationId: 'default' });
  assert.match(String(r.content), /in lines 1 \(2 times\), 3\. Please ensure it is unique/);
});
