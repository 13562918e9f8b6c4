// Shared assertion of the Letta tests: every Letta tool call survives the migration once, under its
// name, answered by its own result (error status kept) or by the synthetic "no result" one.
import assert from 'node:assert/strict';
import { NO_RESULT_TEXT } from '../../src/letta/convert.ts';
import type { StoredMessage } from '../../src/memory/store.ts';
import type { LettaDataset } from '../fakes/letta-dataset.ts';

export function assertToolCallsKept(messages: StoredMessage[], expected: LettaDataset['expected']['toolCalls']): void {
  const uses = new Map<string, { name: string; lettaId: string }>();
  const results = new Map<string, { content: unknown; isError: boolean }>();
  for (const m of messages) {
    const renamed = new Map(((m.metadata?.renamed_tool_calls ?? []) as Array<{ id: string; letta_tool_call_id: string }>).map((r) => [r.id, r.letta_tool_call_id]));
    for (const b of m.blocks) {
      if (b.type === 'tool_use') {
        assert.ok(!uses.has(b.id), `tool_use ${b.id} once`);
        uses.set(b.id, { name: b.name, lettaId: renamed.get(b.id) ?? b.id });
      }
      if (b.type === 'tool_result') results.set(b.tool_use_id, { content: b.content, isError: b.is_error === true });
    }
  }
  const byLettaId = new Map([...uses].map(([id, u]) => [u.lettaId, id]));
  assert.equal(uses.size, expected.length);
  for (const call of expected) {
    const id = byLettaId.get(call.id);
    assert.ok(id, `tool call ${call.id} kept`);
    assert.equal(uses.get(id)!.name, call.name);
    const result = results.get(id);
    assert.ok(result, `tool call ${call.id} answered`);
    assert.deepEqual(result, call.result ? { content: call.result.text, isError: call.result.isError } : { content: NO_RESULT_TEXT, isError: true });
  }
}
