// Two `lares run` workers sharing one database see the same pending approval: it is posted once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApprovalBridge } from '../../src/channels/discord/approval-bridge.ts';
import { log } from '../../src/log.ts';
import { openSqliteStore } from '../../src/memory/open-store.ts';
import type { ApprovalsClient } from '../../src/tools/approvals-client.ts';
import { ScriptedAgent } from './helpers.ts';

test('an approval seen by two workers on one store is posted once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-claim-'));
  const store = await openSqliteStore(join(dir, 'l.db'));
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  const posts: string[] = [];
  const outlet = {
    async post(content: string) { posts.push(content); return [`m${posts.length}`]; },
    async react() {},
    async edit() {},
  };
  const view = { id: 'ap1', tool: 'run_shell_command', args: { command: 'ls' }, reason: 'not on the allowlist', status: 'pending' as const };
  const bridges = [0, 1].map(() => new ApprovalBridge({
    approvals: {} as ApprovalsClient, outlet: outlet as never, store, agent: new ScriptedAgent(), ownerId: '100000000000000001', logger: log(), postAgentReply: async () => {},
  }));
  await Promise.all(bridges.map((b) => b.ensurePosted(view)));
  assert.equal(posts.length, 1, 'posted by one worker only');
  // the same worker (or a restart of it within the claim's life) does not post it again either
  await bridges[0].ensurePosted(view);
  await bridges[1].ensurePosted(view);
  assert.equal(posts.length, 1);
});
