// Several `lares run` workers on one PostgreSQL database: never two turns of one conversation
// at once, and a message delivered to both is answered once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.ts';
import { createDirectRuntime, type DirectRuntime } from '../../src/app/direct-runtime.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic.ts';
import { startTestPostgres, type TestPostgres } from '../support/postgres.ts';
import '../support/direct.ts';

let server: TestPostgres;
let fake: FakeAnthropic;
before(async () => {
  server = await startTestPostgres();
  fake = await startFakeAnthropic();
});
after(async () => {
  await fake.close();
  await server.stop();
});

test('two workers: turns of one conversation never overlap, and a shared message is answered once', async () => {
  const url = await server.createDatabase('workers');
  const config = loadConfig({ MEMORY_PROVIDER: 'postgres', DATABASE_URL: url, ANTHROPIC_API_KEY: fake.apiKey, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_MODEL: 'claude-sonnet-4-6', USE_DIRECT_LLM: 'true', LARES_EMBEDDER: 'none' });
  const workers: DirectRuntime[] = [await createDirectRuntime(config), await createDirectRuntime(config)];
  try {
    let active = 0;
    let maxActive = 0;
    fake.setResponder(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((resolve) => setTimeout(resolve, 20));
      active--;
      return { text: 'answered' };
    });
    const sends = [];
    for (let i = 0; i < 4; i++) {
      // the same Discord message reaches both workers
      sends.push(workers[0].agent.send({ content: `message ${i}`, source: 'discord', sourceRef: `discord:${i}` }));
      sends.push(workers[1].agent.send({ content: `message ${i}`, source: 'discord', sourceRef: `discord:${i}` }));
    }
    const results = await Promise.all(sends);
    assert.equal(maxActive, 1, 'never two turns of the conversation at once');
    assert.equal(results.filter((r) => r.stopReason === 'duplicate').length, 4);
    assert.equal(results.filter((r) => r.reply === 'answered').length, 4);
    assert.equal(fake.requests.length, 4, 'each message answered exactly once');
    assert.equal((await workers[0].store.counts()).messages, 8);
  } finally {
    for (const w of workers) await w.close();
  }
});
