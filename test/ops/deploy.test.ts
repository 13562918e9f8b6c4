// The deploy files stay true to the code: the env example lists every configuration variable
// (and is itself a valid configuration), and the systemd units keep their hardening.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { test } from 'node:test';
import { envSchema, loadConfig } from '../../src/config/config.ts';
import { CLOSE_GRACE_MS } from '../../src/channels/discord/discord-channel.ts';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

test('deploy/lares.env.example lists every variable of src/config/config.ts with a comment', () => {
  const example = read('deploy/lares.env.example');
  for (const key of Object.keys(envSchema.shape)) {
    const line = new RegExp(`(^#.*\\n)+(^[A-Z_]+=.*\\n)*^${key}=`, 'm');
    assert.match(example, line, `${key} is missing or has no comment above it`);
  }
});

test('the env example as shipped is a valid configuration (empty values mean defaults)', () => {
  const values = parseEnv(read('deploy/lares.env.example'));
  const config = loadConfig({ ...values, ANTHROPIC_API_KEY: 'sk-ant-x' });
  assert.equal(config.mode, 'direct');
  assert.equal(config.sqlitePath, 'data/lares.db');
});

for (const [unit, command] of [['lares.service', 'run'], ['lares-mcp.service', 'mcp']] as const) {
  test(`deploy/systemd/${unit} runs \`lares ${command}\` as the lares user with the hardening in place`, () => {
    const text = read(`deploy/systemd/${unit}`);
    const directives = new Map<string, string[]>();
    for (const line of text.split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
      if (m) directives.set(m[1], [...(directives.get(m[1]) ?? []), m[2]]);
    }
    const one = (key: string) => directives.get(key)?.at(-1);
    assert.equal(one('User'), 'lares');
    assert.match(one('ExecStart')!, new RegExp(`node_modules/\\.bin/node \\S+/bin/lares\\.js ${command}$`));
    assert.match(one('EnvironmentFile')!, /\/etc\/lares\/lares\.env$/);
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('ProtectHome'), 'read-only');
    assert.equal(one('PrivateTmp'), 'yes');
    assert.match(one('ReadWritePaths')!, /\/data$/);
    // the data directory must be inside the working directory the default SQLITE_DB_PATH is relative to
    assert.ok(one('ReadWritePaths')!.startsWith(one('WorkingDirectory')!));
    assert.equal(one('WantedBy'), 'multi-user.target');
  });
}

test('lares.service gives a SIGTERM time to finish the turn in progress before systemd kills it', () => {
  const stop = /^TimeoutStopSec=(\d+)s?$/m.exec(read('deploy/systemd/lares.service'));
  assert.ok(stop, 'TimeoutStopSec is set in seconds');
  assert.ok(Number(stop[1]) * 1000 > CLOSE_GRACE_MS, `TimeoutStopSec=${stop[1]} must exceed the channel's close grace of ${CLOSE_GRACE_MS / 1000} s`);
});
