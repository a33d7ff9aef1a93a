import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothStores, recordedOnBothStores } from '../../../../test/helpers/both-stores.js';
import { addExtraOperations, denseTerm, orphanTerm } from '../../../../test/helpers/extra-operations.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import { encodeCursor } from '../../queries/cursor.js';
import * as sqlite from '../../queries/operations.js';
import { type OperationFilter, operationFilterSchema, type SearchMatch } from '../../queries/operations.js';
import { type PgDb, pgDatabase } from '../db.js';
import { migrateStore } from '../migrate-store.js';
import { createPool, type Pool } from '../pool.js';
import * as pg from './operations.js';

let server: PostgresServer;
let both: BothStores;
let odd: number[];
let span: { first: number; last: number; mid: number };
// The same rows in a database whose collation folds non-ASCII case (C.UTF-8): `q` must still fold ASCII only.
let utf8Pool: Pool;
let utf8: PgDb;

beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server);
  ({ odd } = await addExtraOperations(both));
  const t = both.sqlite.get<{ first: number; last: number }>(
    sql`select min(time) as first, max(time) as last from operations`,
  );
  span = { ...t, mid: Math.floor((t.first + t.last) / 2) };
  const url = await server.createDatabase('utf8');
  const name = new URL(url).pathname.slice(1);
  const admin = createPool(server.url, { max: 1 });
  await admin.query(`drop database ${name}`);
  await admin.query(`create database ${name} template template0 encoding 'UTF8' locale 'C.utf8'`);
  await admin.end();
  await migrateStore({ from: both.file, to: url });
  utf8Pool = createPool(url, { max: 2 });
  utf8 = pgDatabase(utf8Pool);
}, 60_000);

afterAll(async () => {
  await utf8Pool?.end();
  await both?.close();
  await server?.stop();
});

const iso = (ms: number) => new Date(ms).toISOString();

/** The filters under test, parsed as the API parses them; `nonEmpty` ones must find rows. */
type Span = typeof span;
type FilterCase = [name: string, filter: (s: Span) => Record<string, string | number>, nonEmpty: boolean];
const filterCases = (): FilterCase[] =>
  cases.map(([name, f, nonEmpty]) => [name, typeof f === 'function' ? f : () => f, nonEmpty]);
const cases: [
  string,
  Record<string, string | number> | ((s: Span) => Record<string, string | number>),
  boolean,
][] = [
  ['no filter', {}, true],
  ['cycle', { cycle: 3 }, true],
  ['cycle none', { cycle: 999 }, false],
  ['identity by name', { identity: 'user4@contoso.example' }, true],
  ['identity by target id', { identity: 'u-4' }, true],
  ['identity by id', { identity: '5' }, true],
  ['identity by id, leading zeros', { identity: '005' }, true],
  ['identity digits beyond 2^53', { identity: '99999999999999999999' }, false],
  ['identity unknown', { identity: 'nobody@contoso.example' }, false],
  ['identity differs in case only', { identity: 'USER4@contoso.example' }, false],
  ['resourceType Group', { resourceType: 'Group' }, true],
  ['resourceType Other', { resourceType: 'Other' }, true],
  ['resourceType none', { resourceType: 'Bulk' }, false],
  ['operation create', { operation: 'create' }, true],
  ['operation disable', { operation: 'disable' }, true],
  ['action update', { action: 'update' }, true],
  ['action delete', { action: 'delete' }, true],
  ['status failure', { status: 'failure' }, true],
  ['status warning', { status: 'warning' }, true],
  ['httpStatus 401', { httpStatus: 401 }, true],
  ['httpStatus none', { httpStatus: 418 }, false],
  ['errorCode', { errorCode: 'EntryConflict' }, true],
  ['errorCode none', { errorCode: 'Timeout' }, false],
  ['from', (s) => ({ from: s.mid }), true],
  ['to', (s) => ({ to: s.mid }), true],
  ['from and to (ISO)', (s) => ({ from: iso(s.first + 3_600_000), to: iso(s.mid) }), true],
  ['from = to on a row', (s) => ({ from: s.first, to: s.first }), true],
  ['window with no row', (s) => ({ from: s.first + 1, to: s.first + 2 }), false],
  ['from after the last row', (s) => ({ from: s.last + 1 }), false],
  ['to before the first row', (s) => ({ to: s.first - 1 }), false],
  ['q sparse', { q: 'user7' }, true],
  ['q ASCII case folded', { q: 'USER7@CONTOSO' }, true],
  ['q non-ASCII case not folded', { q: 'émile' }, false],
  ['q non-ASCII exact', { q: 'ÉMILE@' }, true],
  ['q ASCII part of a non-ASCII value, folded', { q: 'mile@contoso' }, true],
  ['q reason only', { q: 'already in use' }, true],
  ['q target id only', { q: 'g-1' }, true],
  ['q %', { q: '%' }, true],
  ['q _', { q: '_' }, true],
  ['q %_ literal', { q: '50%_o' }, true],
  ['q backslash', { q: 'a\\b' }, true],
  ['q backslash in identity', { q: 'DOMAIN\\' }, true],
  ['q emoji', { q: '😀' }, true],
  ['q a pasted path', { q: '/scim/v2/Users/u-7' }, true],
  ['q matching nothing', { q: 'zz-no-such-term' }, false],
  ['q matching a term only', { q: orphanTerm }, false],
  ['q dense', { q: denseTerm }, true],
  ['q dense, upper case', { q: denseTerm.toUpperCase() }, true],
  ['q dense and status', { q: denseTerm, status: 'failure' }, true],
  ['q sparse and time', (s) => ({ q: 'user1', from: s.mid }), true],
  ['every field', { cycle: 3, identity: '5', resourceType: 'User', operation: 'lookup' }, true],
  [
    'every field, all',
    (s) => ({
      cycle: 2,
      identity: 'u-21',
      resourceType: 'User',
      operation: 'update',
      action: 'update',
      status: 'failure',
      httpStatus: 401,
      errorCode: 'Unauthorized',
      from: s.first,
      to: s.last,
      q: 'u-21',
    }),
    true,
  ],
];

const parse = (f: Record<string, string | number>): OperationFilter =>
  operationFilterSchema.parse(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, String(v)])));

/** Walks every page of both stores with the cursors each returns; the pages must be equal. Returns the rows. */
async function walk(db: PgDb, filter: OperationFilter, limit: number): Promise<number> {
  let cursor: string | undefined;
  let rows = 0;
  for (let pages = 0; pages < 10_000; pages++) {
    const want = sqlite.listOperations(both.sqlite, filter, { limit, cursor });
    const got = await pg.listOperations(db, filter, { limit, cursor });
    expect(got).toEqual(want);
    rows += want.items.length;
    if (want.nextCursor === null) return rows;
    cursor = want.nextCursor;
  }
  throw new Error('too many pages');
}

describe('listOperations', () => {
  it('covers every filter field of operationFilterSchema', () => {
    const used = new Set(filterCases().flatMap(([, f]) => Object.keys(f(span))));
    expect([...used].sort()).toEqual(Object.keys(operationFilterSchema.shape).sort());
  });

  it.each(filterCases().map((c) => [c[0], c]))('%s: every page equal', async (_, [, f, nonEmpty]) => {
    const filter = parse(f(span));
    const rows = await walk(both.pg, filter, 37);
    expect(rows > 0).toBe(nonEmpty);
    // one page of everything, and the first page alone
    await walk(both.pg, filter, 1000);
    expect(await pg.listOperations(both.pg, filter, { limit: 1 })).toEqual(
      sqlite.listOperations(both.sqlite, filter, { limit: 1 }),
    );
  });

  it('pages of one row to the end, and a limit equal to the row count (no next page)', async () => {
    const n = await walk(both.pg, parse({ cycle: 3 }), 1);
    expect(n).toBeGreaterThan(5);
    await walk(both.pg, parse({ cycle: 3 }), n);
    const last = await pg.listOperations(both.pg, parse({ cycle: 3 }), { limit: n });
    expect(last.nextCursor).toBeNull();
    expect(
      (await pg.listOperations(both.pg, parse({ cycle: 3 }), { limit: n - 1 })).nextCursor,
    ).not.toBeNull();
  });

  it.each([
    ['a cursor in the middle', encodeCursor(100)],
    ['a cursor before the first row', encodeCursor(1)],
    ['a cursor past the last row', encodeCursor(10_000_000)],
  ])('%s', async (_, cursor) => {
    for (const f of [{}, { status: 'failure' }, { q: 'user1' }, { q: denseTerm }] as Record<
      string,
      string
    >[]) {
      const filter = parse(f);
      const want = sqlite.listOperations(both.sqlite, filter, { limit: 25, cursor });
      expect(await pg.listOperations(both.pg, filter, { limit: 25, cursor })).toEqual(want);
    }
  });

  it.each(
    filterCases()
      .filter(([name]) => name.startsWith('q '))
      .map((c) => [c[0], c]),
  )('%s, in a C.UTF-8 database', async (_, [, f]) => {
    await walk(utf8, parse(f(span)), 1000);
  });
});

describe('matchSearch', () => {
  // Equal as sets: SQLite lists the values in its table's insertion order, which PostgreSQL does not keep.
  const sorted = (m: SearchMatch) =>
    m === 'dense'
      ? m
      : { identity: [...m.identity].sort(), targetId: [...m.targetId].sort(), reason: [...m.reason].sort() };

  it.each([
    ['user7', 'sparse'],
    ['USER7', 'sparse'],
    ['already in use', 'sparse'],
    ['/scim/v2/Groups/g-1', 'sparse'],
    ['%', 'sparse'],
    ['_', 'sparse'],
    ['a\\b', 'sparse'],
    ['émile', 'none'],
    ['zz-no-such-term', 'none'],
    [orphanTerm, 'sparse'],
    [denseTerm, 'dense'],
    ['bulk1', 'sparse'],
    ['bulk', 'dense'],
  ])('%s (%s)', async (q, kind) => {
    const want = sqlite.matchSearch(both.sqlite, q);
    expect(sorted(await pg.matchSearch(both.pg, q))).toEqual(sorted(want));
    expect(sorted(await pg.matchSearch(utf8, q))).toEqual(sorted(want));
    const found = want === 'dense' ? 'dense' : Object.values(want).flat().length > 0 ? 'sparse' : 'none';
    expect(found).toBe(kind);
  });
});

describe('timeWindowIds', () => {
  it('answers what SQLite answers, for every branch', async () => {
    const cases: [Pick<OperationFilter, 'from' | 'to'>, number | undefined][] = [
      [{}, undefined],
      [{ from: span.mid }, undefined],
      [{ to: span.mid }, undefined],
      [{ from: span.first, to: span.last }, undefined],
      [{ from: span.first + 1, to: span.first + 2 }, undefined],
      [{ from: span.last + 1 }, undefined],
      [{ to: span.first - 1 }, undefined],
      [{ from: span.mid }, 10],
      [{ from: span.first, to: span.mid }, 10],
      [{ from: span.mid }, Number.POSITIVE_INFINITY],
    ];
    const answers = [];
    for (const [f, maxRows] of cases) {
      const want = sqlite.timeWindowIds(both.sqlite, f, maxRows);
      expect(await pg.timeWindowIds(both.pg, f, maxRows)).toEqual(want);
      answers.push(want === null || want === 'empty' ? want : 'range');
    }
    expect(new Set(answers)).toEqual(new Set([null, 'empty', 'range']));
  });

  it('starts a window at the lowest id among rows at the same millisecond', async () => {
    const [a, b] = odd;
    const at = both.sqlite.get<{ time: number }>(sql`select time from operations where id = ${a}`).time;
    expect(both.sqlite.get<{ time: number }>(sql`select time from operations where id = ${b}`).time).toBe(at);
    const want = sqlite.timeWindowIds(both.sqlite, { from: at, to: at });
    expect(want).toEqual({ lo: a, hi: b });
    expect(await pg.timeWindowIds(both.pg, { from: at, to: at })).toEqual(want);
  });
});

describe('getOperation', () => {
  it.each([
    ['a recorded operation', () => 2],
    ['one without a request body', () => 3],
    ['one with truncated bodies', () => odd[0]],
    ['one without a bodies row', () => odd[1]],
    ['one with broken JSON', () => odd[3]],
    ['a missing id', () => 999_999],
  ])('%s', async (_, id) => {
    const want = sqlite.getOperation(both.sqlite, id());
    expect(await pg.getOperation(both.pg, id())).toEqual(want);
    if (id() !== 999_999) expect(want).not.toBeNull();
    else expect(want).toBeNull();
  });
});
