import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCerts, type TestCerts } from '../../../test/helpers/certs.js';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { scrub } from './migrate-store.js';
import { createPool } from './pool.js';

// TLS to the database comes from the URL's sslmode, read by the driver (node-postgres 8). Its meanings differ
// from libpq's, and the README says how: `require` (like `prefer` and `verify-ca`) verifies the server's
// certificate as `verify-full` does, so a private CA needs `sslrootcert`; `uselibpqcompat=true` gives libpq's
// weaker `require` (encrypted, not verified). These pin that down against a real server, so a driver upgrade
// that changes them (pg 9 plans to) fails here rather than in production.

let certs: TestCerts;
let server: PostgresServer;

beforeAll(async () => {
  certs = makeCerts();
  server = await startPostgres({ tls: { certPath: certs.certPath, keyPath: certs.keyPath } });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  rmSync(certs.dir, { recursive: true, force: true });
});

/** Whether this connection is encrypted, as the server sees it; throws what connecting threw. */
async function encrypted(query: string): Promise<boolean> {
  // A password in the URL: trust auth ignores it, and no error may show it.
  const url = `postgres://postgres:pw-Zx81secret@127.0.0.1:${server.port}/postgres${query}`;
  const pool = createPool(url, { max: 1, connectionTimeoutMs: 5_000 });
  try {
    const { rows } = await pool.query<{ ssl: boolean }>(
      'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
    );
    return rows[0]?.ssl === true;
  } catch (err) {
    throw new Error(scrub((err as Error).message, url));
  } finally {
    await pool.end();
  }
}

describe('TLS to PostgreSQL, from the URL', () => {
  it('verify-full with the server CA in sslrootcert: encrypted and verified', async () => {
    expect(await encrypted(`?sslmode=verify-full&sslrootcert=${certs.caPath}`)).toBe(true);
  });

  it('require verifies the certificate too: refused without the CA, encrypted with it', async () => {
    const refused = encrypted('?sslmode=require');
    await expect(refused).rejects.toThrow(/certificate/);
    await expect(refused).rejects.not.toThrow(/pw-Zx81secret/);
    expect(await encrypted(`?sslmode=require&sslrootcert=${certs.caPath}`)).toBe(true);
  });

  it("uselibpqcompat=true gives libpq's require: encrypted, certificate not verified", async () => {
    expect(await encrypted('?uselibpqcompat=true&sslmode=require')).toBe(true);
  });

  it('disable, or no sslmode: a plain connection', async () => {
    expect(await encrypted('?sslmode=disable')).toBe(false);
    expect(await encrypted('')).toBe(false);
  });
});
