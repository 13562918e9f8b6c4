// Review findings on configuration loading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readEnvironment } from '../../src/config/config.ts';

test('a .env saved with a UTF-8 byte order mark (Windows editors) keeps its first variable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lares-env-'));
  try {
    writeFileSync(join(dir, '.env'), '\uFEFFANTHROPIC_API_KEY=sk-ant-from-file\r\nCONTEXT_LIMIT="60000"\r\n');
    const config = loadConfig(readEnvironment({}, dir));
    assert.equal(config.anthropic.apiKey, 'sk-ant-from-file');
    assert.equal(config.contextLimit, 60000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
