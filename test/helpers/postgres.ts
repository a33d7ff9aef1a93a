import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

// A real, private PostgreSQL server per test file: Debian's binaries (.ci/run installs `postgresql`), a fresh
// cluster in a temp dir, on a free port on 127.0.0.1. No mocks: the PostgreSQL store's guarantees (locks,
// snapshots, SKIP LOCKED) are exactly what a fake would get wrong.

export interface PostgresServer {
  /** the `postgres` maintenance database, as superuser `postgres` (trust auth, loopback only) */
  url: string;
  port: number;
  /** a new, empty database; returns its URL */
  createDatabase(prefix?: string): Promise<string>;
  stop(): Promise<void>;
  /** shut the server down (fast: connections cut, data kept); resolves once it refuses connections */
  down(): Promise<void>;
  /** start it again after `down`; resolves once it answers */
  up(): Promise<void>;
}

/** The newest installed major version's bin folder, e.g. /usr/lib/postgresql/15/bin. */
export function postgresBinDir(root = '/usr/lib/postgresql'): string {
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(`no PostgreSQL under ${root}: install Debian's postgresql package (see .ci/run)`);
  }
  return join(root, versions[0] as string, 'bin');
}

/** initdb and postgres refuse to run as root: as root, run them as the `postgres` user the package created. */
function asServerUser(): {
  wrap: (cmd: string, args: string[]) => [string, string[]];
  owner?: [number, number];
} {
  if (process.getuid?.() !== 0) return { wrap: (cmd, args) => [cmd, args] };
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  const runuser = ['/usr/sbin/runuser', '/sbin/runuser'].find(existsSync) ?? 'runuser';
  return { wrap: (cmd, args) => [runuser, ['-u', 'postgres', '--', cmd, ...args]], owner: [uid, gid] };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface PostgresOptions {
  /** serve TLS with this certificate and key (PEM files), besides plain connections */
  tls?: { certPath: string; keyPath: string };
  /** fsync and synchronous commits on, as a production server runs (benchmarks); off by default (tests) */
  durable?: boolean;
}

export async function startPostgres({ tls, durable = false }: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const { wrap, owner } = asServerUser();
  // As root, under /tmp: a TMPDIR inside root's home would be out of the postgres user's reach.
  const dir = mkdtempSync(join(owner ? '/tmp' : tmpdir(), 'scimtap-pg-'));
  if (owner) chownSync(dir, owner[0], owner[1]);
  const data = join(dir, 'data');
  const [initCmd, initArgs] = wrap(join(bin, 'initdb'), [
    ...['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C'],
    ...['--no-sync', '--no-instructions'],
  ]);
  // cwd: a folder the postgres user can enter (the test's own may be root's).
  execFileSync(initCmd, initArgs, { stdio: 'pipe', cwd: dir });

  const tlsSettings = tls ? serverTls(tls, dir, owner) : {};
  const port = await freePort();
  // Durability off: a test cluster is thrown away, and fsync on two shared cores costs seconds per test file.
  const settings = {
    ...(durable
      ? { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' }
      : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
    max_connections: '100',
    shared_buffers: '32MB',
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    log_min_messages: 'warning',
    ...tlsSettings,
  };
  const postgresArgs = [
    ...['-D', data, '-p', String(port)],
    ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];
  // A guard shell between us and the postmaster: it stops the server and removes its folder when its stdin (a
  // pipe from this process) closes, which happens however the test process ends, kill -9 included. A line
  // `down` shuts the server down as an operator's restart does (fast shutdown: clients cut, data kept), `up`
  // starts it again on the same folder and port.
  const guard = [
    'dir="$1"; postgres_bin="$2"; shift 2',
    '"$postgres_bin" "$@" & pid=$!',
    'while read -r cmd; do',
    '  case "$cmd" in',
    '    down) kill -INT "$pid"; wait "$pid" ;;',
    '    up) "$postgres_bin" "$@" & pid=$! ;;',
    '  esac',
    'done',
    'kill -QUIT "$pid" 2>/dev/null; wait "$pid"; rm -rf "$dir"',
  ].join('\n');
  const [cmd, args] = wrap('/bin/sh', ['-c', guard, 'guard', dir, join(bin, 'postgres'), ...postgresArgs]);
  const child: ChildProcess = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], cwd: dir });
  let log = '';
  child.stderr?.on('data', (d) => {
    log = (log + d).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

  try {
    await waitUntilReady(url, child, () => log);
  } catch (err) {
    child.stdin?.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    url,
    port,
    async createDatabase(prefix = 't') {
      const name = `${prefix}_${randomBytes(6).toString('hex')}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`create database ${name}`);
      } finally {
        await client.end();
      }
      return url.replace(/\/postgres$/, `/${name}`);
    },
    async down() {
      child.stdin?.write('down\n');
      await waitUntilRefused(url);
    },
    async up() {
      child.stdin?.write('up\n');
      await waitUntilReady(url, child, () => log);
    },
    async stop() {
      // Immediate shutdown (SIGQUIT): the cluster is thrown away, so there is nothing to flush.
      child.stdin?.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The certificate and key copied where the server user can read them (the key: by it alone, or it refuses). */
function serverTls(
  tls: NonNullable<PostgresOptions['tls']>,
  dir: string,
  owner: [number, number] | undefined,
): Record<string, string> {
  const cert = join(dir, 'server.pem');
  const key = join(dir, 'server.key');
  copyFileSync(tls.certPath, cert);
  copyFileSync(tls.keyPath, key);
  chmodSync(key, 0o600);
  if (owner) for (const f of [cert, key]) chownSync(f, owner[0], owner[1]);
  return { ssl: 'on', ssl_cert_file: cert, ssl_key_file: key };
}

async function waitUntilRefused(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      await client.query('select 1');
    } catch (err) {
      // Refused: the postmaster is gone. "Shutting down" is not yet.
      if ((err as { code?: string }).code === 'ECONNREFUSED') return;
    } finally {
      await client.end().catch(() => {});
    }
    if (Date.now() > deadline) throw new Error('postgres did not shut down');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitUntilReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited (${child.exitCode}):\n${log()}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`postgres did not start: ${(err as Error).message}\n${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** The stores a suite runs on (issue 13): `describe.each(stores)`. */
export const stores = ['SQLite', 'PostgreSQL'] as const;

/**
 * Inside a `describe.each(stores)` block: on PostgreSQL, a private server for the block, started before its tests
 * and stopped after them; on SQLite, none. Read `.server` in the tests.
 */
export function serverFor(store: string): { readonly server: PostgresServer | undefined } {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    if (store === 'PostgreSQL') server = await startPostgres();
  }, 60_000);
  afterAll(() => server?.stop());
  return {
    get server() {
      return server;
    },
  };
}
