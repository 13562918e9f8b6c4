// Fills a store with a bit of everything an export must carry: block history, tool calls,
// unicode, two conversations, compaction, passages, usage and meta; and the tools' state (a pending
// and a decided approval with their events, an active and a paused job, an "always allow" command).
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
  const state = store.toolState;
  const approval = { tool: 'run_shell_command', reason: 'not on the allowlist', createdAt: '2026-01-02T03:04:05.006Z', expiresAt: '2099-01-01T00:00:00.000Z', decidedAt: null, finishedAt: null, result: null, error: null, denyReason: null, alwaysAllowed: false };
  await state.insertApproval({ ...approval, id: 'a1b2c3d4', args: { command: 'ls -la ~/café' }, status: 'pending' });
  await state.insertApproval({ ...approval, id: 'e5f6a7b8', args: { command: 'uptime' }, status: 'pending', createdAt: '2026-01-02T03:04:06.000Z' });
  await state.updateApproval('e5f6a7b8', { status: 'executed', decidedAt: '2026-01-02T03:05:00.000Z', finishedAt: '2026-01-02T03:05:01.000Z', result: { text: 'up 3 days', isError: false }, alwaysAllowed: true }, { status: 'pending' });
  await state.appendEvent('approval_needed', { id: 'a1b2c3d4', tool: 'run_shell_command', args: { command: 'ls -la ~/café' } });
  await state.appendEvent('approval_result', { id: 'e5f6a7b8', status: 'executed' });
  await state.addAllowedCommand({ argv: ['uptime'], approvalId: 'e5f6a7b8', createdAt: '2026-01-02T03:05:00.500Z' });
  const job = { spec: '1d', lastRunAt: null, createdAt: '2026-01-03T00:00:00.000Z', paused: false };
  await state.insertJob({ ...job, id: 'job_water', kind: 'interval', message: 'water the basil 🌿', nextRunAt: '2099-01-01T09:00:00.000Z', active: true });
  await state.insertJob({ ...job, id: 'job_paused', kind: 'cron', spec: '0 9 * * 1', message: 'weekly review', nextRunAt: '2099-01-05T09:00:00.000Z', active: false, paused: true });
}

/** Everything of the tools' state a copy must carry, for comparing two stores. */
export async function toolStateSnapshot(store: MemoryStore): Promise<unknown> {
  const state = store.toolState;
  return {
    pending: await state.approvalsWithStatus('pending'),
    recent: await state.recentApprovals(10),
    events: await state.eventsSince(0),
    jobs: await state.listJobs(true),
    allowlist: await state.allowedCommands(),
  };
}
