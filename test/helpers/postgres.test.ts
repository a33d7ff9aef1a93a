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

  // A restart as an operator does one: connections are cut, the data stays, the same URL works again.
  it('goes down and comes back up with its data', async () => {
    const url = await server.createDatabase();
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    await client.connect();
    await client.query('create table kept (n int); insert into kept values (42)');
    await server.down();
    await expect(client.query('select 1')).rejects.toThrow();
    const refused = new pg.Client({ connectionString: url });
    await expect(refused.connect()).rejects.toThrow(/ECONNREFUSED/);
    await server.up();
    const again = new pg.Client({ connectionString: url });
    await again.connect();
    try {
      expect((await again.query('select n from kept')).rows).toEqual([{ n: 42 }]);
    } finally {
      await again.end();
    }
  });
});
