import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothStores, recordedOnBothStores } from '../../../../test/helpers/both-stores.js';
import { addExtraOperations, denseTerm, orphanTerm } from '../../../../test/helpers/extra-operations.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import * as sqlite from '../../queries/export.js';
import { type ExportOptions, exportColumns } from '../../queries/export.js';
import { type OperationFilter, operationFilterSchema } from '../../queries/operations.js';
import * as schema from '../../schema/index.js';
import * as pgSchema from '../../schema-pg/index.js';
import { type PgDb, pgDatabase } from '../db.js';
import { insertOperationsIn } from '../log.js';
import * as pg from './export.js';

let server: PostgresServer;
let both: BothStores;
let first: number;
let last: number;
beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server);
  // formulas, quotes, commas, line breaks, non-ASCII, null cycles and statuses, broken JSON: what the CSV escapes
  await addExtraOperations(both);
  ({ first, last } = both.sqlite.get<{ first: number; last: number }>(
    sql`select min(time) as first, max(time) as last from operations`,
  ));
}, 60_000);
afterAll(async () => {
  await both?.close();
  await server?.stop();
});

async function collect(slices: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const s of slices) out.push(s);
  return out;
}

/** Both exports' slices, which must be the same strings (so the same bytes), and the CSV's record count. */
async function compare(filter: OperationFilter, options?: ExportOptions): Promise<number> {
  const want = [...sqlite.exportCsv(both.sqlite, filter, options)];
  const got = await collect(pg.exportCsv(both.pg, filter, options));
  expect(got.join('')).toBe(want.join(''));
  expect(got).toEqual(want);
  return want.join('').split('\r\n').length - 2;
}

const parse = (f: Record<string, string | number>): OperationFilter =>
  operationFilterSchema.parse(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, String(v)])));

describe('exportCsv', () => {
  it('the whole log, byte for byte', async () => {
    const rows = await compare({});
    expect(rows).toBe(both.sqlite.get<{ n: number }>(sql`select count(*) as n from operations`).n);
    const text = (await collect(pg.exportCsv(both.pg, {}))).join('');
    expect(text.startsWith(`${exportColumns.join(',')}\r\n`)).toBe(true);
    // what the extra rows put in: quoted fields, neutralised formulas, non-ASCII, formatted properties
    for (const s of ['"Résumé, ""quoted""\nline two"', `'=HYPERLINK`, 'ÉMILE', 'password=[redacted]'])
      expect(text).toContain(s);
  });

  it.each<[string, ExportOptions]>([
    ['pages of 7 rows, slices of 3', { chunkRows: 7, sliceRows: 3 }],
    ['pages of one row', { chunkRows: 1, sliceRows: 1 }],
    ['slices longer than a page', { chunkRows: 50, sliceRows: 120 }],
    ['a page that ends on the last row', { chunkRows: 1 }],
    ['another app', { app: 'tenant-b' }],
    ['an app id a CSV must quote', { app: 'a,"b"' }],
  ])('%s', async (_, options) => {
    expect(await compare({}, options)).toBeGreaterThan(500);
    expect(await compare(parse({ status: 'failure' }), options)).toBeGreaterThan(0);
  });

  it('a page size that divides the row count exactly (the last page is full, the next is empty)', async () => {
    const n = both.sqlite.get<{ n: number }>(sql`select count(*) as n from operations where cycle_id = 3`).n;
    expect(await compare(parse({ cycle: 3 }), { chunkRows: n })).toBe(n);
    expect(await compare(parse({ cycle: 3 }), { chunkRows: n / (n % 2 === 0 ? 2 : 1) })).toBe(n);
  });

  it.each<[string, (t: { first: number; last: number }) => Record<string, string | number>, boolean]>([
    ['cycle', () => ({ cycle: 3 }), true],
    ['identity', () => ({ identity: 'user4@contoso.example' }), true],
    ['identity by id', () => ({ identity: '5' }), true],
    ['resourceType', () => ({ resourceType: 'Group' }), true],
    ['operation', () => ({ operation: 'delete' }), true],
    ['action', () => ({ action: 'update' }), true],
    ['status', () => ({ status: 'warning' }), true],
    ['httpStatus', () => ({ httpStatus: 429 }), true],
    ['errorCode', () => ({ errorCode: 'Unauthorized' }), true],
    ['from', (t) => ({ from: Math.floor((t.first + t.last) / 2) }), true],
    ['to', (t) => ({ to: Math.floor((t.first + t.last) / 2) }), true],
    ['from and to', (t) => ({ from: t.first + 3_600_000, to: t.first + 7_200_000 }), true],
    ['a window with no row', (t) => ({ from: t.first + 1, to: t.first + 2 }), false],
    ['after the last row', (t) => ({ from: t.last + 1 }), false],
    ['q sparse', () => ({ q: 'user7' }), true],
    ['q with LIKE wildcards', () => ({ q: '50%_' }), true],
    ['q dense', () => ({ q: denseTerm }), true],
    ['q matching a term only', () => ({ q: orphanTerm }), false],
    ['q matching nothing', () => ({ q: 'zz-no-such-term' }), false],
    ['several', (t) => ({ q: denseTerm, status: 'failure', from: t.first, to: t.last }), true],
    ['no row at all', () => ({ status: 'warning', cycle: 1 }), false],
  ])('filter: %s', async (_, f, nonEmpty) => {
    const filter = parse(f({ first, last }));
    expect((await compare(filter)) > 0).toBe(nonEmpty);
    await compare(filter, { chunkRows: 3, sliceRows: 2 });
  });

  it('leaves out rows recorded after it started', async () => {
    const want = sqlite.exportCsv(both.sqlite, {}, { chunkRows: 50 });
    const got = pg.exportCsv(both.pg, {}, { chunkRows: 50 });
    const header = [want.next().value, (await got.next()).value];
    const [row] = both.sqlite
      .select()
      .from(schema.operations)
      .where(sql`id = (select max(id) from operations)`)
      .all();
    const later = { ...row, id: row.id + 1, time: row.time + 1, identity: 'recorded-after-it-started' };
    both.sqlite.insert(schema.operations).values(later).run();
    await both.pg.insert(pgSchema.operations).values(later);
    try {
      const a = [header[0], ...want].join('');
      const b = [header[1], ...(await collect({ [Symbol.asyncIterator]: () => got }))].join('');
      expect(b).toBe(a);
      expect(a).not.toContain('recorded-after-it-started');
      expect((await collect(pg.exportCsv(both.pg, {}))).join('')).toContain('recorded-after-it-started');
    } finally {
      both.sqlite.delete(schema.operations).where(sql`id = ${later.id}`).run();
      await both.pg.delete(pgSchema.operations).where(sql`id = ${later.id}`);
    }
  });

  // Several replicas: replica A draws an id, replica B draws a higher one and commits first, the export starts,
  // then A commits. A's row has an id below the export's newest, and is still left out: it was not there when
  // the export started.
  it('leaves out a lower id that commits after it started (another replica)', async () => {
    const [row] = await both.pg
      .select()
      .from(pgSchema.operations)
      .where(sql`id = (select max(id) from operations)`);
    const { id: _id, txid: _txid, ...template } = row as typeof row & { txid: string };
    // The extra rows were written with their ids: new ones are drawn after them.
    await both.pool.query(
      "select setval(pg_get_serial_sequence('operations', 'id'), (select max(id) from operations))",
    );
    const a = await both.pool.connect();
    try {
      await a.query('begin');
      const [lower] = await insertOperationsIn(a, [{ ...template, identity: 'committed-after-it-started' }]);
      const b = await both.pool.connect();
      try {
        await b.query('begin');
        const [higher] = await insertOperationsIn(b, [
          { ...template, identity: 'committed-before-it-started' },
        ]);
        await b.query('commit');
        expect(higher).toBeGreaterThan(lower as number);
      } finally {
        b.release();
      }
      const slices = pg.exportCsv(both.pg, {}, { chunkRows: 50 });
      const header = (await slices.next()).value;
      await a.query('commit');
      const text = [header, ...(await collect({ [Symbol.asyncIterator]: () => slices }))].join('');
      expect(text).toContain('committed-before-it-started');
      expect(text).not.toContain('committed-after-it-started');
      const again = (await collect(pg.exportCsv(both.pg, {}))).join('');
      expect(again).toContain('committed-after-it-started');
    } finally {
      await a.query('rollback').catch(() => {});
      a.release();
      await both.pool.query("delete from operations where identity like 'committed-%-it-started'");
    }
  });

  it('stops reading when the client goes away', async () => {
    const slices = pg.exportCsv(both.pg, {}, { chunkRows: 10, sliceRows: 5 });
    await slices.next();
    await slices.next();
    expect(await slices.return(undefined)).toEqual({ done: true, value: undefined });
    expect(both.pool.totalCount - both.pool.idleCount).toBe(0);
  });
});

// Many rows, the same in both stores (SQL that both dialects read alike), compared by digest; set
// SCIMTAP_EXPORT_TEST_ROWS=1000000 for the full-size run (about a minute: most of it is filling the stores).
describe('exportCsv over many rows', () => {
  const n = Number(process.env.SCIMTAP_EXPORT_TEST_ROWS ?? 100_000);
  const cols = `id, time, duration_ms, cycle_id, http_method, path, http_status, resource_type, operation,
    provisioning_action, status, identity_type, identity, target_id, error_code, reason, modified_properties`;
  const values = (i: string) => `1000 + ${i}, 1736000000000 + ${i} * 37, ${i} % 1000,
    case when ${i} % 10 = 0 then null else ${i} / 1000 end, 'PATCH', '/scim/v2/Users/u-' || ${i},
    case when ${i} % 7 = 0 then 429 else 200 end, 'User', 'update', 'update',
    case when ${i} % 7 = 0 then 'failure' else 'success' end, 'User', 'user' || ${i} || '@bulk.example',
    'u-' || ${i}, case when ${i} % 7 = 0 then 'TooManyRequests' end,
    case when ${i} % 7 = 0 then 'Too many, "slow"' end,
    case when ${i} % 3 = 0 then '[{"name":"displayName","value":"=N ' || ${i} || '"}]' else '[]' end`;
  let many: BothStores;
  beforeAll(async () => {
    many = await recordedOnBothStores(server, { cycles: 1, perCycle: 1 });
    many.sqlite.$client.exec(`with recursive n(i) as (select 1 union all select i + 1 from n where i < ${n})
      insert into operations (${cols}) select ${values('i')} from n`);
    await many.pool.query(
      `insert into operations (${cols}) select ${values('i')} from generate_series(1, ${n}) as i`,
    );
    await many.pool.query('analyze operations');
  }, 300_000);
  afterAll(async () => {
    await many?.close();
  });

  it('streams the same bytes in pages, in bounded memory', async () => {
    // The same pool, its answers' sizes noted: no query may return more than a page.
    let largest = 0;
    const observed = Object.create(many.pool) as typeof many.pool;
    observed.query = ((...args: Parameters<typeof many.pool.query>) =>
      (many.pool.query as (...a: unknown[]) => Promise<{ rowCount: number | null }>)(...args).then((r) => {
        largest = Math.max(largest, r.rowCount ?? 0);
        return r;
      })) as typeof many.pool.query;
    const db: PgDb = pgDatabase(observed);

    const want = createHash('sha256');
    let wantBytes = 0;
    for (const s of sqlite.exportCsv(many.sqlite, {})) {
      want.update(s);
      wantBytes += s.length;
    }
    const got = createHash('sha256');
    let gotBytes = 0;
    const base = process.memoryUsage().heapUsed;
    let peak = 0;
    for await (const s of pg.exportCsv(db, {})) {
      got.update(s);
      gotBytes += s.length;
      peak = Math.max(peak, process.memoryUsage().heapUsed - base);
    }
    expect(gotBytes).toBe(wantBytes);
    expect(got.digest('hex')).toBe(want.digest('hex'));
    expect(largest).toBe(2_000);
    // a 1,000,000-row export is ~180 MB of text; it stays within a few pages' worth (measured: ~30 MB of slack)
    expect(peak).toBeLessThan(96 * 1024 * 1024);
  }, 300_000);

  it('and the same bytes with a filter and a time window', async () => {
    const filter = parse({
      status: 'failure',
      from: 1736000000000 + 37 * 1_000,
      to: 1736000000000 + 37 * (n / 2),
    });
    const want = createHash('sha256');
    for (const s of sqlite.exportCsv(many.sqlite, filter)) want.update(s);
    const got = createHash('sha256');
    let records = 0;
    for await (const s of pg.exportCsv(many.pg, filter)) {
      got.update(s);
      records += s.split('\r\n').length - 1;
    }
    expect(got.digest('hex')).toBe(want.digest('hex'));
    expect(records).toBeGreaterThan(n / 20);
  }, 300_000);
});
