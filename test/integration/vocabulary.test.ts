import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { createAdminApp } from '../../server/api/index.js';
import { loadConfig } from '../../server/config.js';
import { createCycleStage } from '../../server/cycles/index.js';
import { type Db, openDatabase } from '../../server/store/db.js';
import { formatModifiedProperties } from '../../server/store/queries/export.js';
import { operationFieldNames } from '../../server/vocabulary.js';
import { PROBE_GUID } from '../fixtures/entra.js';
import { testAdminApp } from '../helpers/admin.js';
import { entra, recorder } from '../helpers/traffic.js';

// One vocabulary (STYLE §4): a field the CSV export and the API both carry has one name, the CSV's (Graph's).

const t0 = Date.UTC(2025, 0, 15, 9, 0, 0);
// Names another part of scimtap once used for a field the CSV names otherwise.
const retiredNames = ['time', 'durationMs'];

type Json = Record<string, unknown>;

let db: Db;
let app: ReturnType<typeof createAdminApp>;

beforeAll(() => {
  db = openDatabase(':memory:');
  const config = loadConfig({ SCIMTAP_UPSTREAM: 'http://127.0.0.1:9', SCIMTAP_DB: ':memory:' });
  const write = recorder(db, [createCycleStage({ db, config, clock: () => t0 })]);
  write([
    entra.lookupUser(t0, PROBE_GUID),
    entra.lookupUser(t0 + 1_000, 'ada@example.com'),
    entra.createUser(t0 + 2_000, 'ada@example.com', 'u-1', { password: 'S3cret!' }),
    entra.createConflict(t0 + 3_000, 'bob@example.com'),
    entra.updateUser(t0 + 4_000, 'u-1', 'ada@example.com', 'Ada King'),
    entra.upstreamDown(t0 + 5_000),
  ]);
  app = testAdminApp(db);
});
afterAll(() => db.$client.close());

async function json<T>(path: string): Promise<T> {
  const res = await app.request(path);
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

async function csv(): Promise<{ header: string[]; rows: Json[] }> {
  const text = await (await app.request('/api/export.csv')).text();
  const header = text.slice(0, text.indexOf('\r\n')).split(',');
  return { header, rows: parse(text, { columns: true }) as Json[] };
}

describe('one name per field across the API and the CSV', () => {
  it('the CSV header is the mapping table, and every column is a key of /api/operations', async () => {
    const { header } = await csv();
    // The app's id first: the CSV's only column that is not an operation's field (/api/operations is one app's).
    expect(header).toEqual(['app', ...Object.values(operationFieldNames)]);
    const { items } = await json<{ items: Json[] }>('/api/operations');
    expect(items.length).toBe(6);
    for (const op of items) {
      for (const column of header.slice(1)) expect(Object.keys(op), column).toContain(column);
      for (const name of retiredNames) expect(Object.keys(op)).not.toContain(name);
    }
  });

  it('the same field holds the same value in both: the names are not just alike, they are one field', async () => {
    const { rows } = await csv();
    const { items } = await json<{ items: Json[] }>('/api/operations');
    const byId = new Map(items.map((o) => [String(o.id), o]));
    for (const row of rows) {
      const op = byId.get(String(row.id))!;
      expect(row.app).toBe('default');
      for (const [column, cell] of Object.entries(row)) {
        if (column === 'app') continue;
        const value = op[column];
        const expected =
          column === 'modifiedProperties'
            ? formatModifiedProperties(JSON.stringify(value))
            : value === null
              ? ''
              : String(value);
        expect(cell, `${column} of operation ${row.id}`).toBe(expected);
      }
    }
  });

  it('an operation read alone, on an identity timeline, as a cycle outcome: the same names', async () => {
    const { items } = await json<{ items: Json[] }>('/api/operations?q=ada@example.com');
    const update = items.find((o) => o.operation === 'update')!;
    const one = await json<Json>(`/api/operations/${update.id}`);
    expect(one).toMatchObject({
      activityDateTime: new Date(t0 + 4_000).toISOString(),
      durationInMilliseconds: 42,
    });
    const identity = await json<{ timeline: { items: Json[] } }>(`/api/identities/${update.identityId}`);
    for (const op of identity.timeline.items) {
      expect(op).toHaveProperty('activityDateTime');
      expect(op).toHaveProperty('durationInMilliseconds');
      for (const name of retiredNames) expect(op).not.toHaveProperty(name);
    }
    const outcomes = await json<{ items: Json[] }>(`/api/cycles/${update.cycleId}/outcomes`);
    const ada = outcomes.items.find((o) => o.identityId === update.identityId)!;
    expect(ada.activityDateTime).toBe(new Date(t0 + 4_000).toISOString());
    expect(ada).not.toHaveProperty('time');
  });
});
