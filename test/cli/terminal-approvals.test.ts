// The terminal channel's approvals in place: /approvals shows the whole call, /approve runs it once
// and the outcome comes back into the conversation as a new turn; /deny never runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createChannelRuntime } from '../../src/app/channel-runtime.ts';
import type { TurnResult } from '../../src/agent/types.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startFakeAnthropic } from '../fakes/anthropic.ts';
import '../support/direct.ts';

test('/approvals, /approve and /deny in the terminal', async (t) => {
  const fake = await startFakeAnthropic();
  const dir = mkdtempSync(join(tmpdir(), 'lares-term-'));
  t.after(async () => { await fake.close(); rmSync(dir, { recursive: true, force: true }); });
  const approved = join(dir, 'approved');
  const denied = join(dir, 'denied');
  fake.setResponder((request) => {
    const text = JSON.stringify(request.body.messages.at(-1).content);
    if (text.includes('[approval result]')) return { text: text.includes('denied') ? 'Understood, I left it.' : 'Done, it ran.' };
    if (text.includes('tool_result')) return { text: 'Waiting for your approval.' };
    const file = text.includes('first') ? approved : denied;
    return { toolUses: [{ name: 'run_shell_command', input: { command: `touch ${file} && echo ${'x'.repeat(300)}` } }] };
  });
  const config = loadConfig({
    SQLITE_DB_PATH: join(dir, 'lares.db'), ANTHROPIC_API_KEY: fake.apiKey, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6', LARES_ALLOWED_PATHS: dir, LARES_EMBEDDER: 'none',
  });
  const runtime = await createChannelRuntime(config, { channel: 'terminal' });
  t.after(() => runtime.close());
  const replies: TurnResult[] = [];
  let delivered: () => void = () => {};
  const feed = runtime.feedApprovalOutcomes((reply) => { replies.push(reply); delivered(); });
  t.after(() => feed.close());
  const outcome = () => new Promise<void>((resolve) => { delivered = resolve; });

  const first = await runtime.agent.send({ content: 'make the first file', source: 'terminal' });
  assert.equal(first.pendingApprovals.length, 1);
  const listing = await runtime.terminalCommands.run('approvals', []);
  assert.match(listing!, new RegExp(first.pendingApprovals[0]));
  assert.match(listing!, new RegExp(`touch ${approved} && echo x{300}`), 'the whole command is shown, not a truncated one');
  assert.equal(existsSync(approved), false);

  const delivering = outcome();
  const answer = await runtime.terminalCommands.run('approve', [first.pendingApprovals[0]]);
  assert.match(answer!, /executed/);
  assert.equal(existsSync(approved), true);
  await delivering;
  assert.equal(replies.at(-1)!.reply, 'Done, it ran.');
  await assert.rejects(runtime.terminalCommands.run('approve', [first.pendingApprovals[0]]), /already|not pending|409/);

  const second = await runtime.agent.send({ content: 'make the second file', source: 'terminal' });
  const denying = outcome();
  assert.match((await runtime.terminalCommands.run('deny', [second.pendingApprovals[0], 'not', 'now']))!, /Denied/);
  await denying;
  assert.equal(replies.at(-1)!.reply, 'Understood, I left it.');
  assert.equal(existsSync(denied), false, 'a denied call never runs');
  assert.equal(await runtime.terminalCommands.run('approvals', []), 'No pending approvals.');
});
