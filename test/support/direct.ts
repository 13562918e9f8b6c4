// Builds a direct-mode runtime on a temp SQLite file, talking to a fake Anthropic API through the real SDK.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { createDirectRuntime, type DirectRuntime, type DirectRuntimeOptions } from '../../src/app/direct-runtime.ts';
import { createLogger, setLogger } from '../../src/log.ts';
import { startFakeAnthropic, type FakeAnthropic, type FakeAnthropicOptions } from '../fakes/anthropic.ts';

setLogger(createLogger({ level: process.env.LOG_LEVEL ?? 'silent', pretty: false }));

export interface DirectHarness {
  fake: FakeAnthropic;
  dir: string;
  dbPath: string;
  env: Record<string, string>;
  config: Config;
  runtime: DirectRuntime;
  /** closes and reopens the runtime on the same database (a restart) */
  restart(options?: DirectRuntimeOptions): Promise<DirectRuntime>;
  close(): Promise<void>;
}

export async function startDirectHarness(options: { env?: Record<string, string>; fake?: FakeAnthropicOptions; runtime?: DirectRuntimeOptions } = {}): Promise<DirectHarness> {
  const fake = await startFakeAnthropic(options.fake);
  const dir = mkdtempSync(join(tmpdir(), 'lares-test-'));
  const dbPath = join(dir, 'data', 'lares.db');
  const env = {
    ANTHROPIC_API_KEY: fake.apiKey, ANTHROPIC_BASE_URL: fake.url, SQLITE_DB_PATH: dbPath, USE_DIRECT_LLM: 'true',
    ANTHROPIC_MODEL: 'claude-sonnet-4-6', LARES_LLM_RETRY_BASE_MS: '1', LARES_EMBEDDER: 'none', ...options.env,
  };
  const config = loadConfig(env);
  const harness: DirectHarness = {
    fake, dir, dbPath, env, config,
    runtime: await createDirectRuntime(config, options.runtime),
    async restart(runtimeOptions) {
      await harness.runtime.close();
      harness.runtime = await createDirectRuntime(config, runtimeOptions ?? options.runtime);
      return harness.runtime;
    },
    async close() {
      await harness.runtime.close();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}
