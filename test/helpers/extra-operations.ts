import { sql } from 'drizzle-orm';
import * as schema from '../../server/store/schema/index.js';
import * as pgSchema from '../../server/store/schema-pg/index.js';
import type { BothStores } from './both-stores.js';

// Operations the recorded database (recorded-db.ts) lacks, written alike to both stores after the copy, for the
// PostgreSQL twins of queries/operations.ts, timeseries.ts and export.ts: a dense search term, an unrecognised
// client, a warning, text that a LIKE, a spreadsheet or a CSV writer treats specially, non-ASCII case.

type Operation = typeof schema.operations.$inferInsert;
type Body = typeof schema.bodies.$inferInsert & { operationId: number };
type Term = typeof schema.operationTerms.$inferInsert;

/** Identities that contain this: more than `maxSearchTerms` terms, so `q` takes the dense path. */
export const denseTerm = 'fabrikam';
/** In operation_terms but in no operation: a search that matches terms and finds no rows. */
export const orphanTerm = 'orphan-term-zq';

const base = {
  durationMs: 17,
  httpMethod: 'GET',
  path: '/scim/v2/Users',
  resourceType: 'User',
  operation: 'lookup',
  provisioningAction: 'other',
  status: 'success',
  httpStatus: 200,
} as const satisfies Partial<Operation>;

function oddOperations(id: number, time: number): Operation[] {
  const ops: Partial<Operation>[] = [
    {
      identity: 'ÉMILE@Contoso.example',
      targetId: 'Émile-1',
      status: 'warning',
      errorCode: 'ScimCompliance',
      reason: 'Résumé, "quoted"\nline two',
      modifiedProperties:
        '[{"name":"displayName","value":"Émile, \\"Z\\""},{"name":"password","value":"x","redacted":true},{"name":"manager","value":{"value":"u-7"}}]',
      members: '[{"op":"add","ids":["u-1"]}]',
      clientKind: 'unrecognised',
    },
    {
      identity: '=HYPERLINK("http://x")',
      targetId: '50%_off',
      reason: 'a\\b back\\slash',
      externalId: '@ext',
      clientKind: 'unrecognised',
    },
    { identity: 'DOMAIN\\user', targetId: 'under_score', scimType: '-scim' },
    {
      identity: '+1-555-0100',
      httpStatus: null,
      errorCode: 'UpstreamUnreachable',
      status: 'failure',
      resourceType: 'Other',
      operation: 'other',
      identityType: null,
      reason: '\tleading tab',
      modifiedProperties: 'not json',
      members: 'not json',
    },
    { identity: ' \u200B-blank', externalId: '\uFF1Dwide', cycleId: 3, identityId: 5 },
    {
      httpMethod: 'DELETE',
      path: '/scim/v2/Users/x,y',
      operation: 'delete',
      provisioningAction: 'delete',
      httpStatus: 404,
      status: 'failure',
      errorCode: 'NotFound',
      identity: '😀user@contoso.example',
      targetId: 'x,y',
    },
    {
      httpMethod: 'PATCH',
      operation: 'disable',
      provisioningAction: 'disable',
      identityType: 'User',
      identity: 'user7@contoso.example',
      targetId: 'u-7',
    },
  ];
  // Two rows at the same millisecond: which id a time starts at must agree.
  return ops.map((o, i) => ({ ...base, ...o, id: id + i, time: time + Math.floor(i / 2) * 1_234 + 7 }));
}

function bulkOperations(id: number, time: number, n: number): Operation[] {
  return Array.from({ length: n }, (_, i) => ({
    ...base,
    id: id + i,
    time: time + i * 250,
    identityType: 'User' as const,
    identity: `bulk${i}@${denseTerm}.example`,
    targetId: `f-${i}`,
    status: i % 5 === 0 ? ('failure' as const) : ('success' as const),
    httpStatus: i % 5 === 0 ? 429 : 200,
    errorCode: i % 5 === 0 ? ('TooManyRequests' as const) : null,
    cycleId: null,
  }));
}

function termsOf(ops: Operation[]): Term[] {
  const terms = new Map<string, Term>();
  for (const o of ops) {
    for (const [field, value] of [
      ['identity', o.identity],
      ['targetId', o.targetId],
      ['reason', o.reason],
    ] as const) {
      if (value != null) terms.set(`${field}\0${value}`, { field, value });
    }
  }
  return [...terms.values()];
}

async function insertBoth(both: BothStores, ops: Operation[], bodies: Body[], terms: Term[]) {
  for (let i = 0; i < ops.length; i += 100) {
    const chunk = ops.slice(i, i + 100);
    both.sqlite.insert(schema.operations).values(chunk).run();
    await both.pg.insert(pgSchema.operations).values(chunk);
  }
  both.sqlite.insert(schema.bodies).values(bodies).run();
  await both.pg.insert(pgSchema.bodies).values(bodies);
  both.sqlite.insert(schema.operationTerms).values(terms).onConflictDoNothing().run();
  await both.pg.insert(pgSchema.operationTerms).values(terms).onConflictDoNothing();
}

/**
 * Adds the odd and the bulk operations (with bodies for two, and their search terms) after the recorded ones,
 * to both stores alike. Returns the ids of the odd rows, the first with truncated bodies, the second with none.
 */
export async function addExtraOperations(both: BothStores): Promise<{ odd: number[] }> {
  const last = both.sqlite.get<{ id: number; time: number }>(
    sql`select max(id) as id, max(time) as time from operations`,
  );
  const odd = oddOperations(last.id + 1, last.time + 60_000);
  const bulk = bulkOperations(last.id + 1 + odd.length, last.time + 120_000, 250);
  const bodies: Body[] = [
    {
      operationId: odd[0].id!,
      time: odd[0].time,
      requestBody: '{"userName":"Émile"}',
      requestTruncated: true,
      responseBody: null,
      responseTruncated: true,
    },
  ];
  const terms = [...termsOf([...odd, ...bulk]), { field: 'identity' as const, value: orphanTerm }];
  await insertBoth(both, [...odd, ...bulk], bodies, terms);
  return { odd: odd.map((o) => o.id!) };
}
