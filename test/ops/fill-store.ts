// Fills a store with a bit of everything an export must carry: block history, tool calls,
// unicode, two conversations, compaction, passages, usage and meta.
import type { MemoryStore } from '../../src/memory/store.ts';

export async function fillStore(store: MemoryStore): Promise<void> {
  await store.putBlock({ label: 'persona', content: 'I am Lares.', description: 'who I am', charLimit: 5000, readOnly: false }, 'init');
  await store.putBlock({ label: 'human', content: 'Sam likes tea.', description: 'about Sam', charLimit: 5000, readOnly: false }, 'migration');
  await store.putBlock({ label: 'rules', content: 'Be kind. 🎉', description: '', charLimit: 200, readOnly: true }, 'init');
  await store.setBlockContent('human', 'Sam likes tea and café au lait.', 'agent:memory_replace');
  const first = await store.appendMessages([
    { role: 'user', blocks: [{ type: 'text', text: 'hello, remember my sister Ana' }], sourceRef: 'discord:1', metadata: { author: 'sam' } },
    { role: 'assistant', blocks: [{ type: 'text', text: 'noting it' }, { type: 'tool_use', id: 'toolu_1', name: 'memory_append', input: { label: 'human', text: 'sister Ana' } }] },
    { role: 'user', blocks: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok' }], tokenCount: 3 },
    { role: 'system', blocks: [{ type: 'text', text: '[heartbeat]' }], content: 'heartbeat', createdAt: '2024-12-31T23:59:59.999Z' },
  ]);
  await store.compact({ summary: 'Sam told me about Ana.', startMessageId: first[0].id, endMessageId: first[2].id, tokenCount: 9, sourceRef: 'letta:sum' }, [first[0].id, first[1].id, first[2].id]);
  await store.appendMessages([
    { role: 'user', blocks: [{ type: 'text', text: `quotes ' " and ; DROP TABLE messages; -- 日本語` }] },
    { role: 'assistant', blocks: [{ type: 'text', text: 'in another room' }], conversationId: 'kitchen' },
  ]);
  await store.insertPassage({ text: 'Ana visits every Sunday', tags: ['family'], sourceRef: 'letta:p1' });
  await store.insertPassage({ text: 'untagged passage' });
  await store.recordUsage({ model: 'claude', inputTokens: 10, cacheReadTokens: 20, cacheWriteTokens: 30, outputTokens: 40, lastMessageId: first[3].id });
  await store.recordUsage({ conversationId: 'kitchen', model: 'claude', inputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 2, provider: 'anthropic', source: 'discord' });
  await store.setMeta('discord.last_seen', '123456789012345678');
  await store.setMeta('base_instructions', 'You are Lares.\n"quoted"');
}
