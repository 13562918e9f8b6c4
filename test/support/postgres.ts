// Starts a real, throw-away PostgreSQL server for tests: initdb into a temp directory, a free
// port on 127.0.0.1, unix sockets inside the temp directory. initdb refuses to run as root,
// so as root the server runs as the `postgres` OS user (created when missing).
// When PostgreSQL cannot be started this throws with the reason: tests must fail, not skip.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

export interface TestPostgres {
  /** postgres://lares@127.0.0.1:<port>/lares_test */
  url: string;
  /** creates another empty database on the same server and returns its URL */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

const BINARIES = ['initdb', 'pg_ctl', 'postgres'];

/** The directory that holds initdb, pg_ctl and postgres: Debian's newest version first, then PATH. */
export function findPostgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const dir = join(root, version, 'bin');
      if (BINARIES.every((b) => existsSync(join(dir, b)))) return dir;
    }
  }
  const found = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const initdb = found.stdout.trim();
  if (found.status === 0 && initdb) {
    // /usr/local/bin/initdb may be a symlink into the real bin directory
    const real = execFileSync('readlink', ['-f', initdb], { encoding: 'utf8' }).trim();
    const dir = real.slice(0, real.lastIndexOf('/'));
    if (BINARIES.every((b) => existsSync(join(dir, b)))) return dir;
  }
  return undefined;
}

function ensurePostgresUser(): { uid: number; gid: number } {
  let id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) {
    const made = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`cannot create the postgres OS user to run PostgreSQL as (initdb refuses root): ${made.stderr.trim()}`);
    id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  }
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function run(asPostgres: boolean, command: string, args: string[]): { status: number | null; output: string } {
  const [file, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const result = spawnSync(file, argv, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`.trim();
  return { status: result.status, output };
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBinDir();
  if (!bin) {
    throw new Error('PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found in /usr/lib/postgresql/*/bin or on PATH. Install them: sh scripts/ensure-postgres.sh (apt-get install postgresql).');
  }
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'lares-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    const { uid, gid } = ensurePostgresUser();
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  const fail = (what: string, output: string): never => {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL could not be started for the tests (${what}):\n${output}`);
  };
  const init = run(asRoot, join(bin, 'initdb'), ['-D', data, '-U', 'lares', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  if (init.status !== 0) fail('initdb', init.output);

  let lastOutput = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60`;
    const started = run(asRoot, join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']);
    if (started.status === 0) {
      const base = `postgres://lares@127.0.0.1:${port}`;
      const admin = async (sql: string) => {
        const { default: pg } = await import('pg');
        const client = new pg.Client({ connectionString: `${base}/postgres` });
        await client.connect();
        try { await client.query(sql); } finally { await client.end(); }
      };
      await admin('CREATE DATABASE lares_test');
      let stopped = false;
      return {
        url: `${base}/lares_test`,
        async createDatabase(name: string) {
          if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad test database name ${name}`);
          await admin(`CREATE DATABASE ${name}`);
          return `${base}/${name}`;
        },
        async stop() {
          if (stopped) return;
          stopped = true;
          run(asRoot, join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    lastOutput = `${started.output}\n${existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8') : ''}`;
  }
  return fail('pg_ctl start', lastOutput);
}
