// The Telegram channel against the fake Bot API, with the Discord tests' scripted agent, meta
// store, log capture and real approval queue.
import type { TestContext } from 'node:test';
import { startTelegramChannel, type TelegramChannel, type TelegramChannelOptions } from '../../src/channels/telegram/telegram-channel.ts';
import { startFakeTelegram, type FakeTelegram, type FakeTgUser } from '../fakes/telegram.ts';
import { cleanup, LogCapture, MemoryMeta, ScriptedAgent, TestApprovals } from '../discord/helpers.ts';

export { cleanup, gate, LogCapture, MemoryMeta, ScriptedAgent, TestApprovals } from '../discord/helpers.ts';

export interface TelegramHarness {
  fake: FakeTelegram;
  owner: FakeTgUser;
  agent: ScriptedAgent;
  store: MemoryMeta;
  logs: LogCapture;
  approvals?: TestApprovals;
  defer: (fn: () => unknown) => void;
  start(extra?: Partial<TelegramChannelOptions> & { allowedChatIds?: string[]; webhook?: { url: string; secret: string; port: number } }): Promise<TelegramChannel>;
}

export async function telegramHarness(t: TestContext, options: { approvals?: boolean; agent?: ScriptedAgent } = {}): Promise<TelegramHarness> {
  const defer = cleanup(t);
  const fake = await startFakeTelegram();
  defer(() => fake.close());
  const approvals = options.approvals ? new TestApprovals() : undefined;
  if (approvals) defer(() => approvals.close());
  const owner = fake.user('Robin');
  const agent = options.agent ?? new ScriptedAgent();
  const store = new MemoryMeta();
  const logs = new LogCapture();
  const h: TelegramHarness = {
    fake, owner, agent, store, logs, approvals, defer,
    async start(extra = {}) {
      const { allowedChatIds, webhook, ...rest } = extra;
      const channel = await startTelegramChannel({
        config: { telegram: { botToken: fake.token, ownerId: String(owner.id), allowedChatIds: allowedChatIds ?? [], apiUrl: fake.apiRoot, ...(webhook ? { webhook } : {}) }, perchIntervalMinutes: 0 },
        agent, store, logger: logs.logger, approvals: approvals?.client(), pollTimeoutSeconds: 1, perchIntervalMs: 0,
        commands: { run: async (name) => (name === 'memory' ? '── human (5/5000)\nRobin' : name === 'approvals' ? 'No pending approvals.' : undefined), context: async () => 'Context: 1234 tokens' },
        ...rest,
      });
      defer(() => channel.close());
      return channel;
    },
  };
  return h;
}
