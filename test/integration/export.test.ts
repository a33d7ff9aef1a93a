import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillOperations } from '../../bench/lib/fill.js';
import { type Db, openDatabase } from '../../server/store/db.js';
import { exportColumns } from '../../server/store/queries/export.js';
import { exchange, scimError } from '../fixtures/entra.js';
import { testAdminApp } from '../helpers/admin.js';
import { entra, recorder } from '../helpers/traffic.js';

const header =
  'app,id,activityDateTime,cycleId,provisioningAction,operation,status,identityType,identity,externalId,targetId,httpMethod,path,httpStatus,durationInMilliseconds,errorCode,scimType,reason,modifiedProperties';

function adminApp(db: Db) {
  return testAdminApp(db, { appName: 'Tanium SSO' });
}

function parseCsv(text: string): Record<string, string>[] {
  return parse(text, { columns: true, record_delimiter: '\r\n' });
}

/** Every id /api/operations returns for a filter, paging to the end. */
async function operationIds(app: ReturnType<typeof adminApp>, query: string): Promise<number[]> {
  const ids: number[] = [];
  let cursor = '';
  for (;;) {
    const res = await app.request(
      `/api/operations?limit=1000${query ? `&${query}` : ''}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: { id: number }[]; nextCursor: string | null };
    ids.push(...page.items.map((o) => o.id));
    if (!page.nextCursor) return ids;
    cursor = page.nextCursor;
  }
}

describe('GET /api/export.csv', () => {
  let dir: string;
  let db: Db;
  let app: ReturnType<typeof adminApp>;
  const t0 = Date.UTC(2025, 0, 15, 9, 0, 0);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'scimtap-export-'));
    db = openDatabase(join(dir, 'scimtap.db'));
    const write = recorder(db);
    // Two cycles' worth of Entra traffic, in two batches as the recorder would write them.
    write([
      entra.lookupUser(t0, 'ada@example.com'),
      entra.createUser(t0 + 1_000, 'ada@example.com', 'u-1', { password: 'S3cret!' }),
      entra.createUser(t0 + 2_000, '=HYPERLINK("x")', 'u-2'),
      entra.createConflict(t0 + 3_000, 'bob@example.com'),
      exchange({
        startedAt: t0 + 4_000,
        method: 'PATCH',
        path: '/scim/v2/Users/u-2',
        reqBody: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'Replace', path: 'title', value: 'a, "quoted"\nvalue' }],
        },
        status: 400,
        resBody: scimError(400, 'line one\r\nline two, with "quotes"', 'invalidValue'),
      }),
    ]);
    write([
      entra.updateUser(t0 + 3_600_000, 'u-1', 'ada@example.com', 'Ada King'),
      entra.disableUser(t0 + 3_601_000, 'u-1', 'ada@example.com'),
      entra.throttled(t0 + 3_602_000, 'u-2'),
      entra.deleteUser(t0 + 3_603_000, 'u-1'),
      entra.upstreamDown(t0 + 3_604_000),
    ]);
    app = adminApp(db);
  });

  afterAll(() => {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with the exact header row, CRLF-terminated, as an attachment', async () => {
    const res = await app.request('/api/export.csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="tanium-sso-provisioning-log-start-\d{8}T\d{6}Z\.csv"$/,
    );
    const text = await res.text();
    expect(text.startsWith(`${header}\r\n`)).toBe(true);
    expect(exportColumns.join(',')).toBe(header);
  });

  it('has one row per operation, oldest first, every column as stored', async () => {
    const rows = parseCsv(await (await app.request('/api/export.csv')).text());
    expect(rows).toHaveLength(10);
    // the single app of SCIMTAP_UPSTREAM is `default`; an app of the apps list has its own id
    expect(new Set(rows.map((r) => r.app))).toEqual(new Set(['default']));
    const ids = rows.map((r) => Number(r.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const times = rows.map((r) => Date.parse(r.activityDateTime));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(rows[3]).toMatchObject({
      activityDateTime: new Date(t0 + 3_000).toISOString(),
      provisioningAction: 'create',
      operation: 'create',
      status: 'failure',
      identityType: 'User',
      identity: 'bob@example.com',
      httpMethod: 'POST',
      path: '/scim/v2/Users',
      httpStatus: '409',
      durationInMilliseconds: '42',
      errorCode: 'EntryConflict',
      scimType: 'uniqueness',
      reason: 'userName bob@example.com is already in use',
    });
    expect(rows[8]).toMatchObject({
      operation: 'delete',
      provisioningAction: 'delete',
      httpStatus: '204',
      targetId: 'u-1',
    });
  });

  it('neutralises a formula in a userName, and everywhere it is echoed', async () => {
    const rows = parseCsv(await (await app.request('/api/export.csv')).text());
    const evil = rows.find((r) => r.targetId === 'u-2' && r.operation === 'create');
    expect(evil?.identity).toBe(`'=HYPERLINK("x")`);
    expect(evil?.externalId).toBe(`'=HYPERLINK("x")`);
    for (const row of rows) for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('writes modifiedProperties as name=value; name=value with [redacted] secrets', async () => {
    const rows = parseCsv(await (await app.request('/api/export.csv')).text());
    const created = rows.find((r) => r.identity === 'ada@example.com' && r.operation === 'create');
    expect(created?.modifiedProperties).toMatch(/^externalId=ada; userName=ada@example\.com; active=true; /);
    expect(created?.modifiedProperties.endsWith('; password=[redacted]')).toBe(true);
    expect(created?.modifiedProperties).not.toContain('S3cret');
    expect(rows.find((r) => r.operation === 'disable')?.modifiedProperties).toBe('active=False');
    expect(rows.find((r) => r.operation === 'lookup')?.modifiedProperties).toBe('');
  });

  it('quotes commas, quotes and line breaks so they read back unchanged (RFC 4180)', async () => {
    const rows = parseCsv(await (await app.request('/api/export.csv')).text());
    const bad = rows.find((r) => r.httpStatus === '400');
    expect(bad?.reason).toBe('line one\r\nline two, with "quotes"');
    expect(bad?.modifiedProperties).toBe('title=a, "quoted"\nvalue');
  });

  it.each([
    ['', 'no filter'],
    ['status=failure', 'status'],
    ['identity=ada@example.com', 'identity (userName)'],
    ['identity=u-2', 'identity (target id)'],
    ['operation=create&status=success', 'two filters'],
    ['resourceType=User&action=update', 'resource type and action'],
    ['httpStatus=429', 'HTTP status'],
    ['errorCode=UpstreamUnreachable', 'error code'],
    [`from=${new Date(t0 + 3_600_000).toISOString()}`, 'from'],
    [`to=${t0 + 2_000}`, 'to, in ms'],
    ['q=HYPERLINK', 'q over identities'],
    ['q=already in use', 'q over reasons'],
    ['q=zzz-nothing', 'q matching nothing'],
  ])('matches /api/operations row for row with %j (%s)', async (query) => {
    const expected = (await operationIds(app, query)).reverse();
    const res = await app.request(`/api/export.csv${query ? `?${query}` : ''}`);
    expect(res.status).toBe(200);
    const rows = parseCsv(await res.text());
    expect(rows.map((r) => Number(r.id))).toEqual(expected);
  });

  it('is a snapshot: operations recorded while it streams are left for the next export', async () => {
    const before = parseCsv(await (await app.request('/api/export.csv')).text()).length;
    const res = await app.request('/api/export.csv');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    recorder(db)([entra.lookupUser(t0 + 7_200_000, 'late@example.com')]);
    for (let r = await reader.read(); !r.done; r = await reader.read())
      text += decoder.decode(r.value, { stream: true });
    const rows = parseCsv(text);
    expect(rows).toHaveLength(before);
    expect(rows.some((r) => r.identity === 'late@example.com')).toBe(false);
    const next = parseCsv(await (await app.request('/api/export.csv')).text());
    expect(next.at(-1)?.identity).toBe('late@example.com');
  });

  it('stops reading when the client goes away', async () => {
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      const res = await app.request('/api/export.csv');
      const reader = res.body!.getReader();
      await reader.read();
      await reader.cancel();
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      console.error = original;
    }
    expect(errors).toEqual([]);
  });

  it('names the time range in the file name', async () => {
    const res = await app.request(`/api/export.csv?from=${t0}&to=2025-01-16T00:00:00Z`);
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="tanium-sso-provisioning-log-20250115T090000Z-20250116T000000Z.csv"',
    );
  });

  it.each([
    ['status=bogus', /status/],
    ['httpStatus=99', /httpStatus/],
    ['from=yesterday', /from/],
    ['limit=10', /limit/],
  ])('answers 400 with the bad parameter named for %s', async (query, message) => {
    const res = await app.request(`/api/export.csv?${query}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('badRequest');
    expect(body.message).toMatch(message);
  });
});

describe('GET /api/export.csv at scale', () => {
  const rowsWanted = 100_000;
  let dir: string;
  let db: Db;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'scimtap-export-big-'));
    db = openDatabase(join(dir, 'scimtap.db'));
    fillOperations(db, { rows: rowsWanted, end: Date.UTC(2025, 5, 30), days: 20 });
  });

  afterAll(() => {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`streams ${rowsWanted.toLocaleString()} rows in many small chunks with flat memory`, async () => {
    const res = await adminApp(db).request('/api/export.csv');
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    let chunks = 0;
    let lines = 0;
    let lastId = 0;
    let ordered = true;
    let tail = '';
    const started = performance.now();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      const text = tail + decoder.decode(value, { stream: true });
      const parts = text.split('\r\n');
      tail = parts.pop() ?? '';
      for (const line of parts) {
        lines++;
        if (lines === 1) continue;
        const id = Number(line.slice(0, line.indexOf(',')));
        if (id <= lastId) ordered = false;
        lastId = id;
      }
      if (chunks % 20 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, process.memoryUsage().rss);
    console.log(
      `export: ${(lines - 1).toLocaleString()} rows in ${seconds.toFixed(2)} s = ${Math.round((lines - 1) / seconds).toLocaleString()} rows/s, ${chunks} chunks, RSS +${((peak - rss0) / 1e6).toFixed(1)} MB`,
    );
    expect(tail).toBe('');
    expect(lines - 1).toBe(rowsWanted);
    expect(ordered).toBe(true);
    expect(chunks).toBeGreaterThan(rowsWanted / 1_000);
    expect(peak - rss0).toBeLessThan(100e6);
  });
});

// Issue 10 item 8: a formula hidden behind characters a spreadsheet skips or a person does not see.
describe('GET /api/export.csv with identities that hide a formula behind blanks', () => {
  const t0 = Date.UTC(2025, 0, 16, 9, 0, 0);
  const crafted = [
    ' =HYPERLINK("http://evil.example","x")',
    '\t=1+1',
    '"=1+1',
    '\u00A0+SUM(A1:A9)',
    '\u200B\u200C\u200D-2+3',
    '\uFEFF@SUM(A1)',
    " \u2060\u3000\r=cmd|'/C calc'!A0",
    '\n=1',
    '\uFF1D1+1',
  ];

  it('prefixes each so a spreadsheet shows it as text, in every column it reaches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-export-'));
    const db = openDatabase(join(dir, 'scimtap.db'));
    try {
      recorder(db)(
        crafted.map((name, i) => entra.createUser(t0 + i * 1_000, name, `u-${i}`, { externalId: name })),
      );
      const res = await adminApp(db).request('/api/export.csv');
      expect(res.status).toBe(200);
      const rows = parseCsv(await res.text());
      expect(rows.map((r) => r.identity)).toEqual(crafted.map((name) => `'${name}`));
      expect(rows.map((r) => r.externalId)).toEqual(crafted.map((name) => `'${name}`));
      const blank = /^[\s\u200B-\u200D\u2060\uFEFF"]*/u;
      for (const row of rows) {
        for (const cell of Object.values(row)) {
          if (cell.startsWith("'")) continue;
          expect(cell.replace(blank, '')).not.toMatch(/^[=+\-@\uFF1D]/);
          expect(cell).not.toMatch(/^[\t\r\n]/);
        }
      }
    } finally {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
