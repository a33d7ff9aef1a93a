import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMembersBody,
  createGroupBody,
  exchange,
  groupResource,
  PROBE_GUID,
} from '../../../test/fixtures/entra.js';
import { testAdminApp } from '../../../test/helpers/admin.js';
import { startTestScimtap } from '../../../test/helpers/scimtap.js';
import { entra, recorder } from '../../../test/helpers/traffic.js';
import { loadConfig } from '../../config.js';
import { createCycleStage } from '../../cycles/index.js';
import type { Exchange } from '../../scim/types.js';
import { type Db, openDatabase } from '../../store/db.js';
import type { StoredOperation } from '../../store/ingest.js';
import type { OperationView } from '../../store/queries/operations.js';
import type { createAdminApp } from '../index.js';

const t0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const hour = 3_600_000;

type Page = { items: OperationView[]; nextCursor: string | null };

describe('GET /api/operations', () => {
  let db: Db;
  let app: ReturnType<typeof createAdminApp>;
  let write: (batch: Exchange[]) => StoredOperation[];
  let all: StoredOperation[];

  beforeAll(() => {
    db = openDatabase(':memory:');
    const config = loadConfig({ SCIMTAP_UPSTREAM: 'http://127.0.0.1:9', SCIMTAP_DB: ':memory:' });
    let now = t0;
    // The real cycle stage, so cycle and identity ids are what production would record.
    write = recorder(db, [createCycleStage({ db, config, clock: () => now })]);
    const cycle1 = write([
      entra.lookupUser(t0, PROBE_GUID),
      entra.lookupUser(t0 + 1_000, 'ada@example.com'),
      entra.createUser(t0 + 2_000, 'ada@example.com', 'u-1', { password: 'S3cret!' }),
      entra.lookupUser(t0 + 3_000, 'bob@example.com'),
      entra.createConflict(t0 + 4_000, 'bob@example.com'),
      exchange({
        startedAt: t0 + 5_000,
        method: 'POST',
        path: '/scim/v2/Groups',
        reqBody: createGroupBody(),
        status: 201,
        resBody: groupResource(),
      }),
      exchange({
        startedAt: t0 + 6_000,
        method: 'PATCH',
        path: '/scim/v2/Groups/g-42',
        reqBody: addMembersBody(['u-1']),
        status: 204,
      }),
      exchange({
        startedAt: t0 + 7_000,
        path: '/scim/v2/Schemas',
        resBody: { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], Resources: [] },
      }),
    ]);
    now = t0 + hour;
    const cycle2 = write([
      entra.lookupUser(t0 + hour, PROBE_GUID),
      entra.updateUser(t0 + hour + 1_000, 'u-1', 'ada@example.com', 'Ada King'),
      entra.disableUser(t0 + hour + 2_000, 'u-1', 'ada@example.com'),
      entra.throttled(t0 + hour + 3_000, 'u-2'),
      entra.upstreamDown(t0 + hour + 4_000),
      entra.deleteUser(t0 + hour + 5_000, 'u-1'),
    ]);
    all = [...cycle1, ...cycle2];
    app = testAdminApp(db);
  });
  afterAll(() => db.$client.close());

  async function get(query: string): Promise<Page> {
    const res = await app.request(`/api/operations${query ? `?${query}` : ''}`);
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Page;
  }
  const newestFirst = (ops: StoredOperation[]) => ops.map((o) => o.id).sort((a, b) => b - a);

  it('lists every operation newest first, as views with ISO times', async () => {
    const page = await get('');
    expect(page.items.map((o) => o.id)).toEqual(newestFirst(all));
    expect(page.nextCursor).toBeNull();
    expect(page.items.at(-1)).toMatchObject({
      activityDateTime: new Date(t0).toISOString(),
      operation: 'testConnection',
    });
    const create = page.items.find((o) => o.operation === 'create' && o.identity === 'ada@example.com');
    expect(create?.modifiedProperties).toContainEqual({
      name: 'password',
      value: '[redacted]',
      redacted: true,
    });
  });

  // Each case: the query, what it must select (written against the stored operations directly), how many.
  const cases: [string, (o: StoredOperation) => boolean, string, number][] = [
    ['cycle=2', (o) => o.cycleId === 2, 'one cycle', 6],
    [
      'identity=ada@example.com',
      (o) => o.identity === 'ada@example.com',
      'a userName (the delete by id named too)',
      5,
    ],
    [
      'identity=u-1',
      (o) => o.targetId === 'u-1',
      'a target id (the delete is named Ada from her earlier calls)',
      4,
    ],
    [
      'identity=Finance',
      (o) => o.identity === 'Finance',
      "a group's displayName (its member add by id too)",
      2,
    ],
    ['resourceType=Group', (o) => o.resourceType === 'Group', 'groups', 2],
    ['resourceType=Schema', (o) => o.resourceType === 'Schema', 'schema discovery', 1],
    ['resourceType=Bulk', () => false, 'a resource type never seen', 0],
    ['operation=disable', (o) => o.operation === 'disable', 'one operation', 1],
    ['operation=testConnection', (o) => o.operation === 'testConnection', "Entra's probes", 2],
    ['action=delete', (o) => o.provisioningAction === 'delete', "Entra's provisioning action", 1],
    ['action=update', (o) => o.provisioningAction === 'update', 'updates include member changes', 3],
    ['status=failure', (o) => o.status === 'failure', 'failures', 3],
    [
      'status=success&resourceType=User',
      (o) => o.status === 'success' && o.resourceType === 'User',
      'two filters',
      8,
    ],
    ['httpStatus=409', (o) => o.httpStatus === 409, 'an HTTP status', 1],
    ['httpStatus=204', (o) => o.httpStatus === 204, 'no-content answers', 2],
    ['errorCode=TooManyRequests', (o) => o.errorCode === 'TooManyRequests', 'an error code', 1],
    [
      'errorCode=UpstreamUnreachable',
      (o) => o.errorCode === 'UpstreamUnreachable',
      'scimtap answered itself',
      1,
    ],
    [`from=${new Date(t0 + hour).toISOString()}`, (o) => o.time >= t0 + hour, 'from, ISO', 6],
    [`to=${t0 + 4_000}`, (o) => o.time <= t0 + 4_000, 'to, in ms, inclusive', 5],
    [
      `from=${t0 + 2_000}&to=${t0 + hour + 2_000}`,
      (o) => o.time >= t0 + 2_000 && o.time <= t0 + hour + 2_000,
      'a window',
      9,
    ],
    [`from=${t0 + 10 * hour}`, () => false, 'a window after everything', 0],
    ['q=ada', (o) => /ada/i.test(o.identity ?? ''), 'q: part of a userName', 5],
    ['q=ADA@EXAMPLE', (o) => /ada@example/i.test(o.identity ?? ''), 'q: case-insensitive', 5],
    ['q=already in use', (o) => /already in use/.test(o.reason ?? ''), 'q: part of an error reason', 1],
    ['q=u-', (o) => /u-/.test(o.targetId ?? '') || /u-/.test(o.identity ?? ''), 'q: part of a target id', 5],
    ['q=/scim/v2/Users/u-1', (o) => o.targetId === 'u-1', 'q: a pasted path finds its target', 4],
    ['q=%25', () => false, 'q: LIKE wildcards are literal', 0],
    ['q=no-such-thing', () => false, 'q: nothing', 0],
    [
      'q=ada&status=success',
      (o) => /ada/.test(o.identity ?? '') && o.status === 'success',
      'q with a filter',
      5,
    ],
  ];
  it.each(cases)('filters %s (%s)', async (query, select, _why, count) => {
    const page = await get(`${query}&limit=1000`);
    const expected = newestFirst(all.filter(select));
    expect(expected).toHaveLength(count);
    expect(page.items.map((o) => o.id)).toEqual(expected);
  });

  it('filters by the identity id the cycles stage assigned', async () => {
    const ada = all.find((o) => o.identity === 'ada@example.com' && o.identityId !== null)!;
    const page = await get(`identity=${ada.identityId}`);
    expect(page.items.length).toBeGreaterThan(2);
    expect(
      page.items.every((o) => o.identityId === ada.identityId || o.identity === String(ada.identityId)),
    ).toBe(true);
  });

  it('searches by q over many distinct names as it does over few', async () => {
    // 250 users match `bulk`: more names than the term lookup lists, so q falls back to a scan.
    const d = openDatabase(':memory:');
    const w = recorder(d);
    const stored = w(Array.from({ length: 250 }, (_, i) => entra.lookupUser(t0 + i, `bulk${i}@example.com`)));
    w([entra.lookupUser(t0 + 1_000, 'other@example.com')]);
    const a = testAdminApp(d);
    const ids: number[] = [];
    for (let cursor = ''; ; ) {
      const page = (await (await a.request(`/api/operations?q=BULK&limit=100${cursor}`)).json()) as Page;
      ids.push(...page.items.map((o) => o.id));
      if (!page.nextCursor) break;
      cursor = `&cursor=${page.nextCursor}`;
    }
    expect(ids).toEqual(newestFirst(stored));
    const one = (await (await a.request('/api/operations?q=bulk249')).json()) as Page;
    expect(one.items.map((o) => o.identity)).toEqual(['bulk249@example.com']);
    d.$client.close();
  });

  it.each([
    ['limit=1', 1],
    ['limit=5', 5],
    ['limit=1000', 14],
    ['', 14],
  ])('honours %j (14 operations in all)', async (query, expected) => {
    expect(all).toHaveLength(14);
    expect((await get(query)).items).toHaveLength(expected);
  });

  it('defaults to 100 per page', async () => {
    const d = openDatabase(':memory:');
    recorder(d)(Array.from({ length: 150 }, (_, i) => entra.lookupUser(t0 + i, `u${i}@example.com`)));
    const a = testAdminApp(d);
    const page = (await (await a.request('/api/operations')).json()) as Page;
    expect(page.items).toHaveLength(100);
    expect(page.nextCursor).not.toBeNull();
    d.$client.close();
  });

  it.each([
    ['status=bogus', /^status: Invalid option: expected one of "success"\|"failure"\|"warning"/],
    ['limit=5000', /^limit: .*1000/],
    ['limit=0', /^limit: /],
    ['limit=ten', /^limit: /],
    ['cursor=garbage', /^cursor: not a cursor returned by this API$/],
    ['httpStatus=600', /^httpStatus: /],
    ['from=last-tuesday', /^from: /],
    ['resourceType=user', /^resourceType: /],
    ['errorCode=Boom', /^errorCode: /],
    ['cycle=-1', /^cycle: /],
    ['sort=asc', /Unrecognized key.*sort/],
    ['status=bogus&limit=5000', /status: .*; limit: /],
  ])('answers 400 with a message naming the problem for %s', async (query, message) => {
    const res = await app.request(`/api/operations?${query}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('badRequest');
    expect(body.message).toMatch(message);
  });

  it('pages with the cursor without duplicates or gaps while new operations arrive', async () => {
    const d = openDatabase(':memory:');
    const w = recorder(d);
    const before = w(
      Array.from({ length: 20 }, (_, i) => entra.lookupUser(t0 + i * 1_000, `p${i}@example.com`)),
    );
    const a = testAdminApp(d);
    const seen: number[] = [];
    let cursor: string | null = '';
    let arrivals = 0;
    while (cursor !== null) {
      const res = await a.request(`/api/operations?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      const page = (await res.json()) as Page;
      seen.push(...page.items.map((o) => o.id));
      cursor = page.nextCursor;
      // The recorder writes between two page fetches, newer and (by time) older operations alike.
      w([
        entra.lookupUser(t0 + 100_000 + arrivals, `new${arrivals}@example.com`),
        entra.lookupUser(t0 - 5_000, `late${arrivals}@example.com`),
      ]);
      arrivals++;
    }
    expect(arrivals).toBe(7);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(newestFirst(before));
    // A new first page starts with what arrived meanwhile.
    const fresh = (await (await a.request('/api/operations?limit=2')).json()) as Page;
    expect(fresh.items.map((o) => o.identity)).toEqual([
      `late${arrivals - 1}@example.com`,
      `new${arrivals - 1}@example.com`,
    ]);
    d.$client.close();
  });
});

describe('GET /api/operations/:id', () => {
  let db: Db;
  let app: ReturnType<typeof createAdminApp>;
  let ops: StoredOperation[];
  beforeAll(() => {
    db = openDatabase(':memory:');
    ops = recorder(db)([
      entra.createUser(t0, 'ada@example.com', 'u-1', { password: 'S3cret!' }),
      entra.createConflict(t0 + 1_000, 'bob@example.com'),
      entra.deleteUser(t0 + 2_000, 'u-1'),
    ]);
    app = testAdminApp(db);
  });
  afterAll(() => db.$client.close());

  it('returns one operation with its redacted request and its response', async () => {
    const res = await app.request(`/api/operations/${ops[0].id}`);
    expect(res.status).toBe(200);
    const op = (await res.json()) as OperationView & {
      requestBody: string;
      responseBody: string;
      requestTruncated: boolean;
    };
    expect(op).toMatchObject({
      id: ops[0].id,
      operation: 'create',
      identity: 'ada@example.com',
      targetId: 'u-1',
      httpStatus: 201,
    });
    expect(JSON.parse(op.requestBody)).toMatchObject({ userName: 'ada@example.com', password: '[redacted]' });
    expect(op.requestBody).not.toContain('S3cret');
    expect(JSON.parse(op.responseBody)).toMatchObject({ id: 'u-1' });
    expect(op.requestTruncated).toBe(false);
  });

  it('returns the SCIM error body of a failure', async () => {
    const op = (await (await app.request(`/api/operations/${ops[1].id}`)).json()) as {
      responseBody: string;
      reason: string;
    };
    expect(JSON.parse(op.responseBody)).toMatchObject({ status: '409', scimType: 'uniqueness' });
    expect(op.reason).toBe('userName bob@example.com is already in use');
  });

  it('has null bodies for an exchange without any', async () => {
    const op = (await (await app.request(`/api/operations/${ops[2].id}`)).json()) as {
      requestBody: null;
      responseBody: null;
    };
    expect(op).toMatchObject({ requestBody: null, responseBody: null });
  });

  it.each([
    ['999999', 404, 'notFound'],
    ['abc', 400, 'badRequest'],
    ['0', 400, 'badRequest'],
  ])('answers /api/operations/%s with %i', async (id, status, error) => {
    const res = await app.request(`/api/operations/${id}`);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toBe(error);
  });
});

describe('admin token (ARCHITECTURE §7)', () => {
  const token = 'a-long-admin-token-0123456789';
  let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;
  let webRoot: string;

  beforeAll(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'scimtap-web-'));
    mkdirSync(join(webRoot, 'assets'));
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>scimtap</title><div id="root"></div>');
    writeFileSync(join(webRoot, 'assets', 'app.js'), 'console.log("dashboard")');
    scimtap = await startTestScimtap(
      'http://127.0.0.1:9',
      { SCIMTAP_ADMIN_TOKEN: token },
      { webRoot, periodicJobs: false },
    );
    recorder(scimtap.db)([entra.createUser(t0, 'ada@example.com', 'u-1')]);
  });
  afterAll(async () => {
    await scimtap.stop();
    rmSync(webRoot, { recursive: true, force: true });
    rmSync(scimtap.dir, { recursive: true, force: true });
  });

  const fetchAdmin = (path: string, auth?: string, init: RequestInit = {}) =>
    fetch(`${scimtap.adminUrl}${path}`, { ...init, headers: auth ? { authorization: auth } : {} });

  // Every GET of §8 plus /metrics, as main.ts mounts them.
  const reads = [
    '/api/health',
    '/api/status',
    '/api/cycles',
    '/api/operations',
    '/api/operations/1',
    '/api/identities',
    '/api/incidents',
    '/api/silences',
    '/api/notifications',
    '/api/export.csv',
    '/metrics',
  ];

  it.each(reads)('%s: 401 without a token or with a wrong one, 200 with it', async (path) => {
    const none = await fetchAdmin(path);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await none.json()) as { error: string }).error).toBe('unauthorized');
    expect((await fetchAdmin(path, `Bearer ${token}x`)).status).toBe(401);
    expect((await fetchAdmin(path, `Basic ${Buffer.from(`admin:${token}`).toString('base64')}`)).status).toBe(
      401,
    );
    const ok = await fetchAdmin(path, `Bearer ${token}`);
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
  });

  it.each([
    ['POST', '/api/incidents/1/ack'],
    ['POST', '/api/silences'],
    ['DELETE', '/api/silences/1'],
    ['POST', '/api/notifications/test'],
    ['GET', '/api/no-such-route'],
  ])('%s %s: 401 without the token (before any route logic runs)', async (method, path) => {
    expect((await fetchAdmin(path, undefined, { method })).status).toBe(401);
  });

  it('serves the dashboard files and its client-side routes without the token', async () => {
    const index = await fetchAdmin('/');
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<div id="root">');
    expect((await fetchAdmin('/assets/app.js')).status).toBe(200);
    expect((await fetchAdmin('/users/42')).status).toBe(200);
  });
});
