import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothStores, recordedOnBothStores } from '../../../test/helpers/both-stores.js';
import { append, config } from '../../../test/helpers/derive-compare.js';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { dumps } from '../../../test/helpers/recorded-db.js';
import { entra } from '../../../test/helpers/traffic.js';
import { prune } from '../prune.js';
import { createPgDerivation } from './derive/derivation.js';
import { migratePostgres } from './migrate.js';
import { createPool, type Pool } from './pool.js';
import { pgPrune } from './prune.js';

const HOUR = 3_600_000;
/** where recorded-db.ts starts its traffic; its rows span the next eight hours or so */
const recordedStart = Date.UTC(2025, 0, 15, 9, 0, 0);

/**
 * SQLite's rows as `scimtap migrate-store` copied them (its test checks the conversions): the cursor, an id there,
 * is a position in commit order here; a NUL, which PostgreSQL text cannot hold, became U+FFFD.
 */
function asCopied(source: Record<string, unknown[][]>, target: Record<string, unknown[][]>) {
  const isCursor = (row: unknown[]) => row[0] === 'derivation.cursor';
  const pgCursor = target.meta?.find(isCursor)?.[1];
  const out: Record<string, unknown[][]> = {};
  for (const [table, rows] of Object.entries(source)) {
    out[table] = rows.map((row) =>
      table === 'meta' && isCursor(row)
        ? [row[0], `${String(pgCursor).split(':')[0]}:${row[1]}`]
        : row.map((v) => (typeof v === 'string' ? v.replaceAll('\0', '\uFFFD') : v)),
    );
  }
  return out;
}

const cursorOf = async (pool: Pool) =>
  (await pool.query("select value from meta where key = 'derivation.cursor'")).rows[0]?.value as string;

describe('pgPrune', () => {
  let server: PostgresServer;
  const open: BothStores[] = [];
  const pools: Pool[] = [];
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(open.map((b) => b.close()));
    await Promise.all(pools.map((p) => p.end()));
    await server?.stop();
  });

  // The same recorded database on both stores, pruned with the same cutoffs: every table as SQLite leaves it
  // (rollups kept, bodies and operations gone by their cutoffs, terms no operation uses gone, meta untouched).
  it.each([
    ['operations and bodies at different cutoffs', 3, 5],
    ['both at the same cutoff', 4, 4],
    ['everything', 24, 24],
    ['nothing', -1, -1],
  ])('leaves every table as SQLite prune does: %s', async (_, opsHours, bodyHours) => {
    const both = await recordedOnBothStores(server);
    open.push(both);
    const cutoffs = {
      operationsBefore: recordedStart + opsHours * HOUR,
      bodiesBefore: recordedStart + bodyHours * HOUR,
    };
    const cursorBefore = await cursorOf(both.pool);
    const onSqlite = await prune(both.sqlite, cutoffs, { batchRows: 37 });
    // Small batches and pages: the loops' ends and the terms' keyset paging are crossed many times.
    const onPg = await pgPrune(both.pool, cutoffs, { batchRows: 37, termBatchRows: 7 });

    const { operations, bodies, terms } = onSqlite;
    expect({ operations: onPg.operations, bodies: onPg.bodies, terms: onPg.terms }).toEqual({
      operations,
      bodies,
      terms,
    });
    expect(onPg.underived).toBe(0);
    expect(await cursorOf(both.pool)).toBe(cursorBefore);
    const { source, target } = await dumps(both.file, both.pool);
    expect(target).toEqual(asCopied(source, target));
    if (opsHours === 3) {
      // The case prunes something of each kind and keeps some of each.
      expect(operations * bodies * terms).toBeGreaterThan(0);
      expect(source.operations?.length).toBeGreaterThan(0);
      expect(source.operation_terms?.length).toBeGreaterThan(0);
    }
  });

  // The leader derives after the recorders write: an operation past retention that is not derived yet stays
  // (with its terms to come) until a later run finds it derived.
  it('keeps operations past the derivation cursor, and prunes them once derived', async () => {
    const url = await server.createDatabase();
    const pool = createPool(url, { max: 4 });
    pools.push(pool);
    await migratePostgres(pool);
    const at = Date.UTC(2025, 0, 1, 9, 0, 0);
    const derivation = createPgDerivation({ pool, config, clock: () => at + 10 * HOUR });
    const count = async (text: string) => (await pool.query(text)).rows[0].n as number;
    const cutoffs = { operationsBefore: at + 5 * HOUR, bodiesBefore: at + 5 * HOUR };

    // Nothing derived yet (no cursor at all): no operation goes, bodies do (they are not derived from).
    await append(pool, [entra.createUser(at, 'ann@contoso.example', 'u-ann')]);
    expect(await pgPrune(pool, cutoffs)).toMatchObject({ operations: 0, bodies: 1, underived: 1 });
    expect(await count('select count(*)::int as n from operations')).toBe(1);

    await derivation.drain();
    await append(pool, [
      entra.createUser(at + HOUR, 'bob@contoso.example', 'u-bob'),
      entra.updateUser(at + HOUR, 'u-ann', 'ann@contoso.example', 'Ann Two'),
    ]);
    const [derived, pending] = [
      await count("select count(*)::int as n from operations where identity = 'ann@contoso.example'"),
      await count('select count(*)::int as n from operations where cycle_id is null'),
    ];
    expect([derived, pending]).toEqual([2, 2]);

    // ann's first operation was derived: it goes. The two after the cursor stay, and ann's term with them.
    const first = await pgPrune(pool, cutoffs);
    expect(first).toMatchObject({ operations: 1, underived: 2, terms: 0 });
    expect(await count('select count(*)::int as n from operations where cycle_id is null')).toBe(2);
    expect(
      await count("select count(*)::int as n from operation_terms where value = 'ann@contoso.example'"),
    ).toBe(1);

    // Derived now: they go, and every term with them.
    await derivation.drain();
    const second = await pgPrune(pool, cutoffs);
    expect(second).toMatchObject({ operations: 2, underived: 0 });
    expect(second.terms).toBeGreaterThan(0);
    expect(await count('select count(*)::int as n from operations')).toBe(0);
    expect(await count('select count(*)::int as n from operation_terms')).toBe(0);
    // The rollups stay, as on SQLite.
    expect(await count('select count(*)::int as n from identities')).toBeGreaterThan(0);
  });
  // A derivation's write-back holds the cursor's row from its first statement to its commit (derive/flush.ts
  // claimCursor), then adds its terms. The terms' delete takes that row first: it waits for the write-back, and
  // then sees every operation the write-back derived, so no term a new operation needs is lost between the two.
  it('prunes terms only between two derivation write-backs', async () => {
    const url = await server.createDatabase();
    const pool = createPool(url, { max: 4 });
    pools.push(pool);
    await migratePostgres(pool);
    const at = Date.UTC(2025, 0, 1, 9, 0, 0);
    await append(pool, [entra.createUser(at, 'ann@contoso.example', 'u-ann')]);
    await createPgDerivation({ pool, config, clock: () => at + 10 * HOUR }).drain();

    const writeBack = await pool.connect();
    try {
      await writeBack.query('begin');
      await writeBack.query("select 1 from meta where key = 'derivation.cursor' for update");
      let done = false;
      const pruning = pgPrune(pool, { operationsBefore: at + HOUR, bodiesBefore: at + HOUR }).then((r) => {
        done = true;
        return r;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Operations and bodies went already; the terms wait for the write-back.
      expect(done).toBe(false);
      expect((await pool.query('select count(*)::int as n from operations')).rows[0].n).toBe(0);
      await writeBack.query('commit');
      expect(await pruning).toMatchObject({ operations: 1, underived: 0 });
      expect((await pool.query('select count(*)::int as n from operation_terms')).rows[0].n).toBe(0);
    } finally {
      writeBack.release();
    }
  });
});
