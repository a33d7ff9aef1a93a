import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothStores, recordedOnBothStores } from '../../../../test/helpers/both-stores.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import { addOperations, operationRow } from '../../../../test/helpers/same-rows.js';
import * as sqlite from '../../queries/unrecognised.js';
import { unrecognisedScanCap } from '../../queries/unrecognised.js';
import * as twin from './unrecognised.js';

let server: PostgresServer;
let both: BothStores;
let original: ReturnType<typeof sqlite.createUnrecognisedQuery>;
let query: ReturnType<typeof twin.createUnrecognisedQuery>;
const t0 = Date.UTC(2025, 0, 16, 9);

/** A stranger's request `i` seconds after t0: 25 addresses (one unknown), a few paths, some refused by scimtap. */
function stranger(id: number, i: number) {
  return operationRow(id, {
    time: t0 + i * 1_000,
    httpMethod: i % 4 === 0 ? 'POST' : 'GET',
    path: ['/', '/.env', '/scim/v2/Users', '/wp-login.php', '/Admin'][i % 5],
    resourceType: i % 5 === 2 ? 'User' : 'Other',
    operation: i % 5 === 2 ? 'list' : 'other',
    provisioningAction: 'other',
    status: 'failure',
    httpStatus: i % 6 === 0 ? null : 401,
    errorCode: i % 6 === 0 ? null : 'Unauthorized',
    reason: i % 3 === 0 ? 'refused: not in SCIMTAP_TRUSTED_CLIENTS' : i % 3 === 1 ? 'invalid token' : null,
    tokenFingerprint: i % 2 === 0 ? null : `fp${i % 4}`,
    clientIp: i % 25 === 0 ? null : `203.0.113.${(i * 7) % 25}`,
    userAgent: i % 2 === 0 ? 'curl/8.5' : null,
    clientKind: 'unrecognised',
  });
}

beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server);
  // The recorded traffic is all Entra's: add strangers' requests (and provisioning ones among them, which the
  // report must leave out) to both stores.
  await addOperations(both, [
    ...Array.from({ length: 120 }, (_, i) => stranger(20_000 + i, i)),
    ...Array.from({ length: 5 }, (_, i) => operationRow(30_000 + i, { time: t0 + i * 1_000 + 500 })),
  ]);
  original = sqlite.createUnrecognisedQuery(both.sqlite);
  query = twin.createUnrecognisedQuery(both.pg);
}, 60_000);

afterAll(async () => {
  await both?.close();
  await server?.stop();
});

describe('createUnrecognisedQuery', () => {
  // A fraction too: the route subtracts `hours * 3_600_000`, and hours need not be whole.
  const froms = [
    0,
    t0,
    t0 + 1,
    t0 + 29_999.5,
    t0 + 30_000,
    t0 + 30_000.25,
    t0 + 119_000,
    t0 + 119_001,
    t0 + 3_600_000,
  ];

  it.each(froms)('from %i, several limits', async (from) => {
    for (const limit of [0, 1, 5, 20, 1000]) {
      expect(await query(from, limit)).toStrictEqual(original(from, limit));
    }
  });

  it('the cases meant to match do', async () => {
    const all = await query(0, 1000);
    expect(all.count).toBe(120);
    expect(all.recent).toHaveLength(120);
    expect(all.addresses).toHaveLength(20);
    expect(all.addresses.some((a) => a.value === 'unknown')).toBe(true);
    expect(all.paths.length).toBe(5);
    expect(all.refused).toBe(40);
    expect(all.capped).toBe(false);
    expect((await query(t0 + 119_000, 10)).count).toBe(1);
    expect(await query(t0 + 119_001, 10)).toMatchObject({ count: 0, lastSeen: null, recent: [] });
  });

  it('stops at the scan cap as SQLite does', async () => {
    const rows = Array.from({ length: unrecognisedScanCap + 5 }, (_, i) => stranger(100_000 + i, 200 + i));
    for (let i = 0; i < rows.length; i += 1_000) await addOperations(both, rows.slice(i, i + 1_000));
    for (const from of [0, t0 + 10_000_000]) {
      const actual = await query(from, 50);
      expect(actual).toStrictEqual(original(from, 50));
    }
    expect(await query(0, 50)).toMatchObject({ count: unrecognisedScanCap, capped: true });
  }, 60_000);
});
