import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { append, config } from '../../test/helpers/derive-compare.js';
import { type PostgresServer, startPostgres } from '../../test/helpers/postgres.js';
import { entra } from '../../test/helpers/traffic.js';
import { createPgDerivation } from '../store/pg/derive/derivation.js';
import { migratePostgres } from '../store/pg/migrate.js';
import { createPool, type Pool } from '../store/pg/pool.js';
import { pgRetentionJob } from './pg-retention.js';

const day = 86_400_000;
const now = Date.UTC(2025, 5, 30, 12, 0, 0);

describe('pgRetentionJob', () => {
  let server: PostgresServer;
  let pool: Pool;
  beforeAll(async () => {
    server = await startPostgres();
    pool = createPool(await server.createDatabase(), { max: 4 });
    await migratePostgres(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  const count = async (table: string) =>
    (await pool.query(`select count(*)::int as n from ${table}`)).rows[0].n as number;

  // Only the leader prunes; a replica that does not lead leaves the database as it is.
  it('prunes past retention on the leader only', async () => {
    await append(pool, [
      entra.createUser(now - 100 * day, 'old@contoso.example', 'u-old'),
      entra.createUser(now - 40 * day, 'mid@contoso.example', 'u-mid'),
      entra.updateUser(now - day, 'u-mid', 'mid@contoso.example', 'Mid Two'),
    ]);
    await createPgDerivation({ pool, config, clock: () => now }).drain();
    let leading = false;
    const job = pgRetentionJob({
      pool,
      config: { retentionDays: 90, bodyRetentionDays: 30 },
      clock: () => now,
      leading: () => leading,
    });
    expect(job).toMatchObject({ name: 'retention', schedule: '17 * * * *' });
    const context = { signal: new AbortController().signal, logger: pino({ level: 'silent' }) };

    await job.run(context);
    expect([await count('operations'), await count('bodies')]).toEqual([3, 3]);

    leading = true;
    await job.run(context);
    // 100 days old: gone with its body; 40 days old: metadata kept, body gone; a day old: all kept.
    expect([await count('operations'), await count('bodies')]).toEqual([2, 1]);
    const { rows } = await pool.query('select value from operation_terms order by field, value');
    expect(rows.map((r) => r.value)).not.toContain('old@contoso.example');
    expect(rows.map((r) => r.value)).toContain('mid@contoso.example');
  });
});
