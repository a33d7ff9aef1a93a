import { describe, expect, it } from 'vitest';
import { statusRoutes } from '../api/routes/status.js';
import { createHarness } from '../cycles/testing.js';
import { evaluateRules } from '../detect/rules.js';
import type { ErrorCode, Operation, OperationKind } from '../scim/types.js';
import { sqliteAdminStore } from '../store/admin-store.js';
import { idleRecorderStats } from '../store/recorder.js';
import { createDetection } from './detection.js';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const MIN = 60_000;
const quiet = idleRecorderStats();

/** One call on a user in the cycle starting at `cycle` (0, 1, 2 ...: 40 minutes apart). */
interface Call {
  cycle: number;
  user: string;
  operation: OperationKind;
  httpStatus: number;
  errorCode?: ErrorCode;
}

function toOperation(call: Call, i: number): Operation {
  const failed = call.httpStatus >= 400;
  const create = call.operation === 'create';
  return {
    time: T0 + call.cycle * 40 * MIN + (i + 1) * 1_000,
    durationMs: 20,
    httpMethod: create ? 'POST' : call.operation === 'delete' ? 'DELETE' : 'PATCH',
    path: create ? '/scim/v2/Users' : `/scim/v2/Users/${call.user}-id`,
    query: '',
    httpStatus: call.httpStatus,
    resourceType: 'User',
    operation: call.operation,
    provisioningAction: 'other',
    status: failed ? 'failure' : 'success',
    identityType: 'User',
    // calls addressed by id carry no name, as Entra's PATCH and DELETE do
    identity: create ? `${call.user}@example.com` : null,
    externalId: null,
    targetId: `${call.user}-id`,
    errorCode: failed ? (call.errorCode ?? 'EntryConflict') : null,
    scimType: null,
    reason: failed ? `HTTP ${call.httpStatus}` : null,
    modifiedProperties: [],
    members: [],
    requestBytes: 0,
    responseBytes: 0,
    tokenFingerprint: 'aaaaaaaaaaaa',
    clientIp: '10.0.0.1',
    userAgent: null,
    requestBody: null,
    responseBody: null,
  };
}

function probe(cycle: number): Operation {
  return {
    ...toOperation({ cycle, user: 'probe', operation: 'testConnection', httpStatus: 200 }, -1),
    httpMethod: 'GET',
    path: '/scim/v2/Users',
    query: 'filter=userName+eq+%2200000000-0000-0000-0000-000000000000%22',
    identity: null,
    targetId: null,
  };
}

/** The calls of each cycle, each cycle opened by Entra's probe. */
function traffic(calls: Call[]): Operation[] {
  const ops: Operation[] = [];
  const cycles = [...new Set(calls.map((c) => c.cycle))].sort((a, b) => a - b);
  for (const cycle of cycles) {
    ops.push(probe(cycle));
    calls.forEach((call, i) => {
      if (call.cycle === cycle) ops.push(toOperation(call, i));
    });
  }
  return ops;
}

const conflict = (user: string, cycle: number): Call => ({
  cycle,
  user,
  operation: 'create',
  httpStatus: 409,
  errorCode: 'EntryConflict',
});

const cases: { name: string; calls: Call[]; stuck: number }[] = [
  // the plain case: both count ada
  {
    name: 'a user conflicting in three consecutive cycles',
    calls: [0, 1, 2].map((c) => conflict('ada', c)),
    stuck: 1,
  },
  // The token expired in the third cycle: a 401 says nothing about ada. Before: the dashboard counted her
  // (failing_streak 3), the rule did not (its last error code was excluded).
  {
    name: 'two conflicts, then a 401 when the token expired',
    calls: [
      conflict('ada', 0),
      conflict('ada', 1),
      { cycle: 2, user: 'ada', operation: 'update', httpStatus: 401, errorCode: 'Unauthorized' },
    ],
    stuck: 0,
  },
  // the app was down (502) in the third cycle: not ada's failure either
  {
    name: 'two conflicts, then the app answering 502',
    calls: [
      conflict('ada', 0),
      conflict('ada', 1),
      { cycle: 2, user: 'ada', operation: 'update', httpStatus: 502, errorCode: 'InternalServerError' },
    ],
    stuck: 0,
  },
  // A deleted user whose stale updates keep failing is not stuck. Before: the dashboard counted him, the rule did not.
  {
    name: 'a deleted user whose updates fail in three cycles',
    calls: [
      { cycle: 0, user: 'bob', operation: 'create', httpStatus: 201 },
      { cycle: 0, user: 'bob', operation: 'delete', httpStatus: 204 },
      ...[1, 2, 3].map(
        (cycle): Call => ({
          cycle,
          user: 'bob',
          operation: 'update',
          httpStatus: 404,
          errorCode: 'NotFound',
        }),
      ),
    ],
    stuck: 0,
  },
  // both kinds at once: only ada
  {
    name: 'one stuck user beside one whose third failure was a 401',
    calls: [
      ...[0, 1, 2].map((c) => conflict('ada', c)),
      conflict('cy', 0),
      conflict('cy', 1),
      { cycle: 2, user: 'cy', operation: 'update', httpStatus: 401, errorCode: 'Unauthorized' },
    ],
    stuck: 1,
  },
];

describe("the dashboard's stuck count and the stuckObject rule agree", () => {
  it.each(cases)('$name', async ({ calls, stuck }) => {
    const harness = createHarness();
    try {
      const ops = traffic(calls);
      harness.ingest(ops);
      const now = ops.at(-1)!.time + 10 * MIN;
      const { config, db } = harness;

      // what the dashboard shows: /api/status
      const status = statusRoutes({
        store: sqliteAdminStore(db),
        config,
        clock: () => now,
        firingIncidents: async () => [],
      });
      const shown = (await (await status.request('/')).json()) as { stuckIdentities: number };

      // what the email says: the stuckObject finding
      const detection = createDetection({ db, rules: config.rules, cycleIntervalMs: 40 * MIN });
      const findings = evaluateRules(detection.input(now, quiet), config.rules, now);
      const emailed = findings.find((f) => f.rule === 'stuckObject')?.evidence.count ?? 0;

      expect(shown.stuckIdentities).toBe(emailed);
      expect(emailed).toBe(stuck);
    } finally {
      harness.close();
    }
  });
});
