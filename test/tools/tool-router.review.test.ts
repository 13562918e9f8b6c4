// Review findings on the tool router.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ToolProvider } from '../../src/tools/types.ts';
import { startDirectHarness } from '../support/direct.ts';

test('an MCP tool whose name the Messages API does not accept (dots, slashes) is exposed under a valid name and still runs', async () => {
  const calls: string[] = [];
  const notes: ToolProvider = {
    name: 'notes',
    async listTools() { return [{ name: 'notes.read/today', description: 'Reads today\'s note.', inputSchema: { type: 'object', properties: {} } }]; },
    async callTool(name) { calls.push(name); return { content: 'Buy tomatoes.', isError: false }; },
  };
  const h = await startDirectHarness({ runtime: { toolProviders: [notes] } });
  try {
    const exposed = h.runtime.tools.definitions().map((d) => d.name).find((n) => n.startsWith('notes'));
    assert.ok(exposed && /^[a-zA-Z0-9_-]{1,128}$/.test(exposed), `exposed as ${exposed}`);
    h.fake.enqueue({ toolUses: [{ name: exposed, input: {} }] }, { text: 'Your note says: buy tomatoes.' });
    const result = await h.runtime.agent.send({ content: 'What is on my note today?', source: 'terminal' });
    assert.equal(result.reply, 'Your note says: buy tomatoes.');
    assert.deepEqual(calls, ['notes.read/today'], 'the server is called with its own name');
  } finally {
    await h.close();
  }
});
