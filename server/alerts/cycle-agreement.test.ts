import { describe, expect, it } from 'vitest';
import { createHarness } from '../cycles/testing.js';
import { evaluateRules } from '../detect/rules.js';
import type { ErrorCode, Operation, OperationKind, OperationStatus } from '../scim/types.js';
import type { IngestStage } from '../store/ingest.js';
import { getCycleRow } from '../store/queries/cycles.js';
import { idleRecorderStats } from '../store/recorder.js';
import { createDetection, type Detection } from './detection.js';

// One rollup (issue 12 §3): the cycle the rules test and the cycle /api/status and the dashboard show are folded by
// the same function, so a cycle's counts cannot differ between the email and the page. The case that split them:
// operations that are the client's, not the app's (Entra hung up, scimtap throttled it), which the stored rollup
// counted and detection skipped.

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const MIN = 60_000;
const quiet = idleRecorderStats();

let seq = 0;
function call(
  operation: OperationKind,
  httpStatus: number | null,
  errorCode: ErrorCode | null = null,
  status: OperationStatus = errorCode ? 'failure' : 'success',
): Operation {
  seq++;
  const probe = operation === 'testConnection';
  return {
    time: T0 + seq * 1_000,
    durationMs: 30,
    httpMethod: probe ? 'GET' : operation === 'delete' ? 'DELETE' : 'PATCH',
    path: probe ? '/scim/v2/Users' : `/scim/v2/Users/u${seq}`,
    query: probe ? 'filter=userName+eq+%2200000000-0000-0000-0000-000000000000%22' : '',
    httpStatus,
    resourceType: 'User',
    operation,
    provisioningAction: 'other',
    status,
    identityType: probe ? null : 'User',
    identity: probe ? null : `u${seq}@example.com`,
    externalId: null,
    targetId: probe ? null : `u${seq}`,
    errorCode,
    scimType: null,
    reason: errorCode,
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

const times = <T>(n: number, f: () => T): T[] => Array.from({ length: n }, f);

/** The counts both sides have. */
const counts = (c: { total: number; successes: number; failures: number; warnings: number }) => ({
  total: c.total,
  successes: c.successes,
  failures: c.failures,
  warnings: c.warnings,
});

describe('the rules and the stored cycle count a cycle alike', () => {
  it('with operations the client aborted or scimtap throttled in it', () => {
    let live: Detection | undefined;
    // detection following the committed operations, as the engine's stage does
    const follow: IngestStage = {
      afterCommit(ops) {
        for (const op of ops) live?.observe(op);
      },
    };
    const harness = createHarness({ stages: [follow] });
    try {
      const rules = { ...harness.config.rules, escrowProportionMinFailures: 3, throttlingMinCount: 3 };
      const { db } = harness;
      live = createDetection({ db, rules, cycleIntervalMs: 40 * MIN });
      const ops = [
        call('testConnection', 200),
        ...times(8, () => call('update', 200)),
        ...times(2, () => call('delete', 204)),
        ...times(5, () => call('update', 409, 'EntryConflict')),
        // the client's, not the app's: 6 more failures, 4 of them 429s, would make 11 of 22 (50%) failed and
        // 4 × 429 a throttling storm
        ...times(4, () => call('update', 429, 'ClientThrottled')),
        ...times(2, () => call('update', 408, 'ClientAborted')),
        call('delete', 408, 'ClientAborted'),
      ];
      harness.ingest(ops, 7);
      const now = ops.at(-1)!.time + 10 * MIN;
      const stored = getCycleRow(db, 1)!;

      // live, and as restored at start from the database
      const restored = createDetection({ db, rules, cycleIntervalMs: 40 * MIN });
      for (const detection of [live, restored]) {
        const input = detection.input(now, quiet);
        const cycle = input.cycles.at(-1)!;
        expect(cycle.id).toBe(stored.id);
        expect(counts(cycle)).toEqual(counts(stored));
        expect(cycle).toMatchObject({ deletes: stored.deletes, throttled: stored.throttled });
        // the cycle is over where the stored one ends: at its last operation, the client's included
        expect(cycle.lastOperationAt).toBe(stored.endedAt);
        const fired = evaluateRules(input, rules, now).map((f) => f.rule);
        // 5 of 16 failed (31%): no escrowProportion; no 429 from the app: no throttling
        expect(fired).not.toContain('escrowProportion');
        expect(fired).not.toContain('throttling');
        expect(input.sinceHealthy.failures).toBe(stored.failures);
      }
      // and what both say: the app's answers only
      expect(counts(stored)).toEqual({ total: 16, successes: 11, failures: 5, warnings: 0 });
      expect(stored).toMatchObject({ deletes: 2, throttled: 0 });
      expect(JSON.parse(stored.countsByErrorCode)).toEqual({ EntryConflict: 5 });
    } finally {
      harness.close();
    }
  });
});
