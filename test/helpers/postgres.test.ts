import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from './postgres.js';

describe('startPostgres', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(() => server?.stop());

  // The helper gives a real server on loopback, and databases that start empty and apart from each other.
  it('serves fresh, separate databases on a private port', async () => {
    const [a, b] = await Promise.all([server.createDatabase(), server.createDatabase()]);
    expect(a).not.toBe(b);
    const client = new pg.Client({ connectionString: a });
    await client.connect();
    try {
      const { rows } = await client.query(
        "select current_setting('server_version_num')::int as v, current_setting('fsync') as fsync, inet_server_addr()::text as addr",
      );
      expect(rows[0].v).toBeGreaterThanOrEqual(130000);
      expect(rows[0].fsync).toBe('off');
      expect(rows[0].addr).toBe('127.0.0.1/32');
    } finally {
      await client.end();
    }
  });
});
