import { describe, expect, it } from 'vitest';
import { createDetection } from '../alerts/detection.js';
import { type RulesConfig, rulesSchema } from '../config.js';
import { createCycleStage, type StoredCycleOperation } from '../cycles/index.js';
import { createHarness } from '../cycles/testing.js';
import type { ErrorCode, IdentityType, OperationKind, OperationStatus } from '../scim/types.js';
import { idleRecorderStats, type RecorderStats } from '../store/recorder.js';
import { evaluateRules, formatDuration, percentile, rules as ruleFns } from './rules.js';
import type { ObservedOperation } from './tracker.js';
import type { Finding, RuleCode } from './types.js';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const defaults = rulesSchema.parse({});
const quietRecorder = idleRecorderStats();

/** A tiny script language for Entra-like traffic: each step appends operations at a time. */
class Traffic {
  ops: ObservedOperation[] = [];
  private id = 0;
  at = T0;

  add(partial: Partial<ObservedOperation>, n = 1): this {
    for (let i = 0; i < n; i++) {
      const status = partial.status ?? 'success';
      this.ops.push({
        id: ++this.id,
        time: this.at,
        durationMs: 40,
        cycleId: null,
        identityId: null,
        httpMethod: 'GET',
        path: '/scim/v2/Users',
        query: '',
        httpStatus: status === 'failure' ? 500 : 200,
        operation: 'lookup',
        status,
        identityType: 'User',
        identity: `user${this.id}@example.com`,
        targetId: null,
        errorCode: null,
        reason: null,
        tokenFingerprint: 'aaaaaaaaaaaa',
        ...partial,
      });
    }
    return this;
  }
  probe(httpStatus = 200): this {
    const failed = httpStatus >= 400;
    return this.add({
      operation: 'testConnection',
      query: 'filter=userName%20eq%20%223f0c1d2e-9b8a-4c7d-8e6f-5a4b3c2d1e0f%22',
      identity: null,
      httpStatus,
      status: failed ? 'failure' : 'success',
      errorCode: httpStatus === 401 ? 'Unauthorized' : httpStatus === 403 ? 'InsufficientRights' : null,
    });
  }
  ok(n = 1, operation = 'update'): this {
    return this.add({ operation, httpMethod: 'PATCH', httpStatus: 200 }, n);
  }
  fail(n: number, httpStatus: number, errorCode: string, extra: Partial<ObservedOperation> = {}): this {
    return this.add(
      { operation: 'update', httpMethod: 'PATCH', httpStatus, status: 'failure', errorCode, ...extra },
      n,
    );
  }
  wait(ms: number): this {
    this.at += ms;
    return this;
  }
}

/** a wrong token, from an address that is not Entra's */
const stranger: Partial<ObservedOperation> = {
  clientKind: 'unrecognised',
  clientIp: '203.0.113.9',
  tokenFingerprint: 'bbbbbbbbbbbb',
};
/** no token, a path no SCIM client asks for */
const scanner: Partial<ObservedOperation> = {
  clientKind: 'unrecognised',
  clientIp: '203.0.113.9',
  tokenFingerprint: null,
  path: '/.env',
  operation: 'other',
  identityType: null,
  identity: null,
  httpStatus: 401,
  status: 'failure',
  errorCode: 'Unauthorized',
};

/** The rest of a classified operation, for the cycles stage. */
function asCycleOperation(op: ObservedOperation): StoredCycleOperation {
  return {
    ...op,
    // the scripts below only ever write these vocabularies' values
    operation: op.operation as OperationKind,
    status: op.status as OperationStatus,
    identityType: op.identityType as IdentityType | null,
    errorCode: op.errorCode as ErrorCode | null,
    clientKind: op.clientKind === 'unrecognised' ? 'unrecognised' : 'provisioning',
    resourceType: op.identityType === 'Group' ? 'Group' : 'User',
    externalId: null,
    modifiedProperties: [],
    members: [],
    cycleId: null,
    identityId: null,
  };
}

/**
 * The rules' input as production builds it after each committed batch: the cycles stage gives each operation its
 * cycle and identity (and keeps the identity rollups), then the alert engine's detection observes it. The
 * operations table itself is skipped: nothing here reads it back, and the escrow cases send 100,000 operations.
 */
function findings(
  t: Traffic,
  now: number,
  overrides: Partial<RulesConfig> = {},
  recorder = quietRecorder,
): Finding[] {
  const config = { ...defaults, ...overrides };
  const harness = createHarness({ withCycles: false });
  try {
    const stage = createCycleStage({ db: harness.db, config: harness.config, clock: () => now });
    const detection = createDetection({ db: harness.db, rules: config, cycleIntervalMs: 40 * MIN });
    const commit = harness.db.$client.transaction((batch: StoredCycleOperation[]) => {
      stage.beforeInsert(batch);
      stage.afterInsert(batch);
    });
    for (let i = 0; i < t.ops.length; i += 5_000) {
      const batch = t.ops.slice(i, i + 5_000).map(asCycleOperation);
      commit(batch);
      batch.forEach((op, j) => {
        const observed = t.ops[i + j];
        // what the cycles stage gave the operation, for the tests that read it
        observed.cycleId = op.cycleId;
        observed.identityId = op.identityId;
        detection.observe(observed);
      });
    }
    return evaluateRules(detection.input(now, recorder), config, now);
  } finally {
    harness.close();
  }
}

function only(rule: RuleCode, list: Finding[]): Finding | undefined {
  return list.find((f) => f.rule === rule);
}

interface Case {
  /** what the case proves */
  name: string;
  rule: RuleCode;
  traffic: () => Traffic;
  /** evaluation time, as an offset from the end of the traffic */
  after?: number;
  overrides?: Partial<RulesConfig>;
  recorder?: RecorderStats;
  expect: null | { severity?: string; count?: number; summary?: RegExp; entraReason?: string | null };
}

const cases: Case[] = [
  // credentials
  {
    name: 'three 401s in a row fire credentials',
    rule: 'credentials',
    traffic: () => new Traffic().probe().ok(5).fail(3, 401, 'Unauthorized'),
    expect: {
      severity: 'critical',
      count: 3,
      summary: /credentials rejected \(401\)/,
      entraReason: 'EncounteredQuarantineException',
    },
  },
  {
    name: 'two 401s are not enough',
    rule: 'credentials',
    traffic: () => new Traffic().probe().ok(5).fail(2, 401, 'Unauthorized'),
    expect: null,
  },
  {
    name: 'a success between 401s resets the count',
    rule: 'credentials',
    traffic: () => new Traffic().fail(2, 401, 'Unauthorized').ok(1).fail(2, 401, 'Unauthorized'),
    expect: null,
  },
  {
    name: 'a 502 between 401s neither counts nor resets (it proves nothing about the token)',
    rule: 'credentials',
    traffic: () =>
      new Traffic()
        .fail(2, 401, 'Unauthorized')
        .fail(1, 502, 'UpstreamUnreachable')
        .fail(1, 401, 'Unauthorized'),
    expect: { count: 3 },
  },
  {
    name: '403s count like 401s and the summary says 403',
    rule: 'credentials',
    traffic: () => new Traffic().fail(3, 403, 'InsufficientRights'),
    expect: { summary: /\(403\)/ },
  },
  {
    name: "a rejected probe alone fires (Entra quarantines on the cycle's probe)",
    rule: 'credentials',
    traffic: () => new Traffic().probe(401),
    expect: { count: 1, summary: /Test Connection probe was rejected/ },
  },
  {
    name: 'a rejected probe followed by an accepted call no longer fires',
    rule: 'credentials',
    traffic: () => new Traffic().probe(401).wait(MIN).ok(1),
    expect: null,
  },
  {
    name: 'the configured threshold is honoured',
    rule: 'credentials',
    traffic: () => new Traffic().fail(3, 401, 'Unauthorized'),
    overrides: { credentialsConsecutive: 4 },
    expect: null,
  },
  // scimCompliance
  {
    name: 'a filter query answered 404 fires scimCompliance',
    rule: 'scimCompliance',
    traffic: () =>
      new Traffic()
        .ok(3)
        .add({ operation: 'lookup', status: 'failure', httpStatus: 404, errorCode: 'ScimCompliance' }),
    expect: { severity: 'critical', count: 1, summary: /404/ },
  },
  {
    name: 'an unparseable answer to the probe fires scimCompliance with the non-SCIM wording',
    rule: 'scimCompliance',
    traffic: () =>
      new Traffic().add({
        operation: 'testConnection',
        status: 'failure',
        httpStatus: 200,
        errorCode: 'ServiceIncompatible',
      }),
    expect: { summary: /non-SCIM response/ },
  },
  {
    name: 'a 404 to a GET by id is not a compliance problem',
    rule: 'scimCompliance',
    traffic: () =>
      new Traffic().add({ operation: 'read', status: 'failure', httpStatus: 404, errorCode: 'NotFound' }),
    expect: null,
  },
  {
    name: 'a 401 to a filter query is a credentials problem, not a compliance one',
    rule: 'scimCompliance',
    traffic: () =>
      new Traffic().add({
        operation: 'lookup',
        status: 'failure',
        httpStatus: 401,
        errorCode: 'Unauthorized',
      }),
    expect: null,
  },
  {
    name: 'the non-compliant answer ages out after 20 compliant ones',
    rule: 'scimCompliance',
    traffic: () =>
      new Traffic()
        .add({ operation: 'lookup', status: 'failure', httpStatus: 404, errorCode: 'ScimCompliance' })
        .add({ operation: 'lookup' }, 20),
    expect: null,
  },
  // upstreamUnavailable
  {
    name: 'five consecutive 502/503/504/timeouts fire upstreamUnavailable',
    rule: 'upstreamUnavailable',
    traffic: () =>
      new Traffic()
        .ok(10)
        .fail(2, 502, 'UpstreamUnreachable')
        .fail(1, 503, 'InternalServerError')
        .fail(1, 504, 'Timeout')
        .fail(1, null as unknown as number, 'Timeout'),
    expect: { severity: 'critical', count: 5, summary: /5 calls in a row/ },
  },
  {
    name: 'four in a row are not enough',
    rule: 'upstreamUnavailable',
    traffic: () => new Traffic().ok(10).fail(4, 502, 'UpstreamUnreachable'),
    expect: null,
  },
  {
    name: '10 of the last 20 unavailable fire even without a streak',
    rule: 'upstreamUnavailable',
    traffic: () => {
      const t = new Traffic();
      for (let i = 0; i < 10; i++) t.ok(1).fail(1, 503, 'InternalServerError');
      return t;
    },
    expect: { count: 10, summary: /10 of the last 20/ },
  },
  {
    name: '9 of the last 20 do not',
    rule: 'upstreamUnavailable',
    traffic: () => {
      const t = new Traffic().ok(2);
      for (let i = 0; i < 9; i++) t.ok(1).fail(1, 503, 'InternalServerError');
      return t;
    },
    expect: null,
  },
  {
    name: 'plain 500s are failures but not unavailability',
    rule: 'upstreamUnavailable',
    traffic: () => new Traffic().fail(8, 500, 'InternalServerError'),
    expect: null,
  },
  // escrowProportion
  {
    name: 'half of a cycle failing with 500 fires escrowProportion',
    rule: 'escrowProportion',
    traffic: () => new Traffic().probe().ok(10).fail(11, 500, 'InternalServerError'),
    expect: {
      severity: 'critical',
      count: 11,
      summary: /50% of a cycle's calls failed \(11 of 22\)/,
      entraReason: 'EncounteredEscrowProportionThreshold',
    },
  },
  {
    name: 'fewer than 10 failures never fire, whatever the share',
    rule: 'escrowProportion',
    traffic: () => new Traffic().probe().fail(9, 500, 'InternalServerError'),
    expect: null,
  },
  {
    name: '40% exactly is not above 40%',
    rule: 'escrowProportion',
    traffic: () => new Traffic().probe().ok(14).fail(10, 500, 'InternalServerError').ok(1),
    expect: null,
  },
  {
    name: 'a failed cycle keeps firing while the next cycle runs below the threshold',
    rule: 'escrowProportion',
    traffic: () =>
      new Traffic()
        .probe()
        .fail(12, 500, 'InternalServerError')
        .wait(40 * MIN)
        .probe()
        .ok(5),
    expect: { count: 12 },
  },
  {
    name: 'a completed healthy cycle after it clears the condition',
    rule: 'escrowProportion',
    traffic: () =>
      new Traffic()
        .probe()
        .fail(12, 500, 'InternalServerError')
        .wait(40 * MIN)
        .probe()
        .ok(5),
    after: 10 * MIN,
    expect: null,
  },
  // escrowTotal
  {
    name: 'failures since the last healthy cycle above 10% of 40,000 warn',
    rule: 'escrowTotal',
    traffic: () =>
      new Traffic()
        .probe()
        .ok(5)
        .wait(40 * MIN)
        .probe()
        .ok(10_000)
        .fail(4_001, 409, 'EntryConflict'),
    expect: { severity: 'warning', count: 4_001, entraReason: 'EncounteredBaseEscrowThreshold' },
  },
  {
    name: 'failures accumulate across failing cycles and go critical above 40,000',
    rule: 'escrowTotal',
    traffic: () => {
      const t = new Traffic();
      for (let i = 0; i < 3; i++)
        t.probe()
          .ok(20_000)
          .fail(14_000, 409, 'EntryConflict')
          .wait(40 * MIN);
      return t;
    },
    expect: { severity: 'critical', count: 42_000, summary: /above Entra's quarantine threshold of 40,000/ },
  },
  {
    name: 'membership failures count towards the all-kinds threshold only',
    rule: 'escrowTotal',
    traffic: () =>
      new Traffic().probe().ok(50_000).fail(6_001, 400, 'InvalidSyntax', { operation: 'addMembers' }),
    expect: { severity: 'warning', count: 6_001, entraReason: 'EncounteredTotalEscrowThreshold' },
  },
  {
    name: 'a healthy completed cycle resets the count',
    rule: 'escrowTotal',
    traffic: () =>
      new Traffic()
        .probe()
        .ok(10_000)
        .fail(4_001, 409, 'EntryConflict')
        .wait(40 * MIN)
        .probe()
        .ok(3),
    after: 10 * MIN,
    expect: null,
  },
  // tooManyDeletes
  {
    name: '600 disables in one cycle fire tooManyDeletes',
    rule: 'tooManyDeletes',
    traffic: () => new Traffic().probe().add({ operation: 'disable', httpMethod: 'PATCH' }, 600),
    expect: { severity: 'warning', count: 600, entraReason: 'TooManyDeletes' },
  },
  {
    name: 'deletes and disables add up',
    rule: 'tooManyDeletes',
    traffic: () =>
      new Traffic()
        .probe()
        .add({ operation: 'disable', httpMethod: 'PATCH' }, 300)
        .add({ operation: 'delete', httpMethod: 'DELETE', httpStatus: 204 }, 201),
    expect: { count: 501 },
  },
  {
    name: 'exactly 500 is not above the threshold',
    rule: 'tooManyDeletes',
    traffic: () => new Traffic().probe().add({ operation: 'disable', httpMethod: 'PATCH' }, 500),
    expect: null,
  },
  {
    name: '300 disables in each of two cycles do not add up',
    rule: 'tooManyDeletes',
    traffic: () =>
      new Traffic()
        .probe()
        .add({ operation: 'disable' }, 300)
        .wait(40 * MIN)
        .probe()
        .add({ operation: 'disable' }, 300),
    expect: null,
  },
  // throttling
  {
    name: '10% of a cycle answered 429 fires throttling',
    rule: 'throttling',
    traffic: () => new Traffic().probe().ok(89).fail(10, 429, 'TooManyRequests'),
    expect: { severity: 'warning', count: 10, summary: /\(10 × 429\)/ },
  },
  {
    name: 'a small share of 429s does not',
    rule: 'throttling',
    traffic: () => new Traffic().probe().ok(200).fail(10, 429, 'TooManyRequests'),
    expect: null,
  },
  {
    name: "scimtap's own 429s to a client over its share are not the app throttling",
    rule: 'throttling',
    traffic: () => new Traffic().probe().ok(89).fail(100, 429, 'ClientThrottled'),
    expect: null,
  },
  {
    name: 'one 429 in a three-call cycle is not a storm',
    rule: 'throttling',
    traffic: () => new Traffic().probe().ok(1).fail(1, 429, 'TooManyRequests'),
    expect: null,
  },
  // slowUpstream
  {
    name: 'p95 above 10 s over the last 50 calls fires slowUpstream',
    rule: 'slowUpstream',
    traffic: () => new Traffic().add({ durationMs: 200 }, 45).add({ durationMs: 12_000 }, 5),
    expect: {
      severity: 'warning',
      count: 5,
      summary: /p95 latency 12\.0 s over the last 50 calls/,
      entraReason: 'Timeout',
    },
  },
  {
    name: 'two slow calls in fifty leave the p95 fast',
    rule: 'slowUpstream',
    traffic: () => new Traffic().add({ durationMs: 200 }, 48).add({ durationMs: 30_000 }, 2),
    expect: null,
  },
  {
    name: 'one slow call alone is not a slow upstream',
    rule: 'slowUpstream',
    traffic: () => new Traffic().add({ durationMs: 30_000 }, 1),
    expect: null,
  },
  // stuckObject
  {
    name: 'the same user answered 409 in three consecutive cycles is stuck',
    rule: 'stuckObject',
    traffic: () => {
      const t = new Traffic();
      for (let i = 0; i < 3; i++) {
        t.probe()
          .add({ operation: 'lookup', identity: 'ada@example.com' })
          .fail(1, 409, 'EntryConflict', {
            operation: 'create',
            httpMethod: 'POST',
            identity: 'ada@example.com',
          })
          .ok(3)
          .wait(40 * MIN);
      }
      return t;
    },
    expect: {
      severity: 'warning',
      count: 1,
      summary: /1 object has failed in 3\+ consecutive cycles: ada@example.com/,
    },
  },
  {
    name: 'two cycles are not enough',
    rule: 'stuckObject',
    traffic: () => {
      const t = new Traffic();
      for (let i = 0; i < 2; i++) {
        t.probe()
          .fail(1, 409, 'EntryConflict', { operation: 'create', identity: 'ada@example.com' })
          .wait(40 * MIN);
      }
      return t;
    },
    expect: null,
  },
  {
    name: 'a successful write in between resets the streak',
    rule: 'stuckObject',
    traffic: () =>
      new Traffic()
        .probe()
        .fail(1, 409, 'EntryConflict', { operation: 'create', identity: 'ada@example.com' })
        .wait(40 * MIN)
        .probe()
        .fail(1, 409, 'EntryConflict', { operation: 'create', identity: 'ada@example.com' })
        .wait(40 * MIN)
        .probe()
        .add({ operation: 'create', httpMethod: 'POST', httpStatus: 201, identity: 'ada@example.com' })
        .wait(40 * MIN)
        .probe()
        .fail(1, 409, 'EntryConflict', { operation: 'create', identity: 'ada@example.com' }),
    expect: null,
  },
  {
    name: 'several failures in one cycle count as one failing cycle',
    rule: 'stuckObject',
    traffic: () =>
      new Traffic()
        .probe()
        .fail(3, 409, 'EntryConflict', { operation: 'create', identity: 'ada@example.com' }),
    expect: null,
  },
  {
    name: 'app-wide errors (401) never make an object stuck',
    rule: 'stuckObject',
    traffic: () => {
      const t = new Traffic();
      for (let i = 0; i < 3; i++)
        t.fail(1, 401, 'Unauthorized', { identity: 'ada@example.com' }).wait(40 * MIN);
      return t;
    },
    expect: null,
  },
  // stalled
  {
    name: 'no cycle for interval + grace after the last one is stalled',
    rule: 'stalled',
    traffic: () => new Traffic().probe().ok(5),
    after: 60 * MIN,
    expect: { severity: 'warning', summary: /no provisioning cycle for 1 h \(expected every 40 min\)/ },
  },
  {
    name: 'a minute before interval + grace is not',
    rule: 'stalled',
    traffic: () => new Traffic().probe().ok(5),
    after: 59 * MIN,
    expect: null,
  },
  {
    name: 'a long running cycle is not stalled',
    rule: 'stalled',
    traffic: () => {
      const t = new Traffic().probe();
      for (let i = 0; i < 30; i++) t.ok(1).wait(4 * MIN);
      return t;
    },
    expect: null,
  },
  {
    name: 'before any cycle there is nothing to be late for',
    rule: 'stalled',
    traffic: () => new Traffic(),
    after: 10 * HOUR,
    expect: null,
  },
  {
    name: 'a lone successful Test Connection is not a cycle',
    rule: 'stalled',
    traffic: () =>
      new Traffic()
        .probe()
        .ok(3)
        .wait(55 * MIN)
        .probe(),
    after: 6 * MIN,
    expect: { summary: /no provisioning cycle for 1 h 1 min/ },
  },
  // backoffSuspected
  {
    name: 'a 3 h gap after a failing cycle suggests quarantine backoff',
    rule: 'backoffSuspected',
    traffic: () => new Traffic().probe().ok(5).fail(10, 500, 'InternalServerError'),
    after: 3 * HOUR,
    expect: { severity: 'critical', summary: /no cycle for 3 h after a failing cycle/ },
  },
  {
    name: 'a cycle aborted at its rejected probe counts as failing',
    rule: 'backoffSuspected',
    traffic: () => new Traffic().probe(401),
    after: 2 * HOUR,
    expect: { summary: /no cycle for 2 h/ },
  },
  {
    name: 'the same gap after a healthy cycle is only stalled',
    rule: 'backoffSuspected',
    traffic: () => new Traffic().probe().ok(5),
    after: 3 * HOUR,
    expect: null,
  },
  {
    name: 'a next cycle 3 h after the failing one keeps it firing until that cycle completes healthy',
    rule: 'backoffSuspected',
    traffic: () =>
      new Traffic()
        .probe(401)
        .wait(3 * HOUR)
        .probe()
        .ok(3),
    expect: { summary: /the next cycle came 3 h after a failing cycle/ },
  },
  {
    name: 'a healthy completed cycle after the gap clears it',
    rule: 'backoffSuspected',
    traffic: () =>
      new Traffic()
        .probe(401)
        .wait(3 * HOUR)
        .probe()
        .ok(3),
    after: 10 * MIN,
    expect: null,
  },
  {
    name: 'a normal 40-minute gap after a failing cycle is not backoff',
    rule: 'backoffSuspected',
    traffic: () =>
      new Traffic()
        .probe()
        .fail(10, 500, 'InternalServerError')
        .wait(40 * MIN)
        .probe()
        .ok(3),
    expect: null,
  },
  // recorderFailing
  {
    name: 'a failing recorder fires',
    rule: 'recorderFailing',
    traffic: () => new Traffic(),
    recorder: { ...quietRecorder, failing: true, writeErrors: 3, lastError: 'SQLITE_FULL', lastErrorAt: T0 },
    expect: { severity: 'critical', summary: /cannot write operations/ },
  },
  {
    name: 'a drop within the window fires',
    rule: 'recorderFailing',
    traffic: () => new Traffic(),
    after: 5 * MIN,
    recorder: { ...quietRecorder, dropped: 12, lastDropAt: T0 },
    expect: { count: 12, summary: /dropped 12 operations/ },
  },
  {
    name: 'an old drop does not',
    rule: 'recorderFailing',
    traffic: () => new Traffic(),
    after: 11 * MIN,
    recorder: { ...quietRecorder, dropped: 12, lastDropAt: T0 },
    expect: null,
  },
  // unrecognised clients (issue 10): counted apart, never a provisioning failure
  {
    name: "a stranger's 401s are not Entra's credentials failing",
    rule: 'credentials',
    traffic: () => new Traffic().probe().ok(5).fail(6, 401, 'Unauthorized', stranger),
    expect: null,
  },
  {
    name: "a stranger's 401s neither count toward nor break Entra's streak",
    rule: 'credentials',
    traffic: () =>
      new Traffic()
        .probe()
        .ok(2)
        .fail(2, 401, 'Unauthorized')
        .add({ ...stranger, status: 'success' })
        .fail(1, 401, 'Unauthorized'),
    expect: { count: 3 },
  },
  {
    name: "strangers' lookups make no stuck objects",
    rule: 'stuckObject',
    traffic: () =>
      new Traffic()
        .fail(1, 404, 'NotFound', { ...stranger, identity: 'x@example.com' })
        .wait(40 * MIN)
        .fail(1, 404, 'NotFound', { ...stranger, identity: 'x@example.com' })
        .wait(40 * MIN)
        .fail(1, 404, 'NotFound', { ...stranger, identity: 'x@example.com' }),
    expect: null,
  },
  {
    name: 'five unrecognised requests within the hour fire the low rule, with addresses',
    rule: 'unrecognisedClients',
    traffic: () =>
      new Traffic()
        .add({ ...scanner, path: '/' })
        .add({ ...scanner, path: '/.env' }, 2)
        .add({ ...scanner, path: '/wp-login.php', clientIp: '198.51.100.7' }, 2),
    expect: {
      severity: 'low',
      count: 5,
      summary: /5 requests from unrecognised clients.*2 addresses/,
      entraReason: null,
    },
  },
  {
    name: 'four are not enough',
    rule: 'unrecognisedClients',
    traffic: () => new Traffic().add(scanner, 4),
    expect: null,
  },
  {
    name: 'they leave the window after an hour',
    rule: 'unrecognisedClients',
    traffic: () => new Traffic().add(scanner, 6),
    after: 61 * MIN,
    expect: null,
  },
  {
    name: 'a deleted database file fires, though every write still succeeds',
    rule: 'recorderFailing',
    traffic: () => new Traffic(),
    recorder: { ...quietRecorder, fileProblem: 'missing' },
    expect: { severity: 'critical', summary: /database file \(SCIMTAP_DB\) was deleted/ },
  },
];

describe('rules (ARCHITECTURE §6)', () => {
  for (const c of cases) {
    it(`${c.rule}: ${c.name}`, () => {
      const t = c.traffic();
      const found = only(c.rule, findings(t, t.at + (c.after ?? 0), c.overrides, c.recorder));
      if (c.expect === null) {
        expect(found).toBeUndefined();
        return;
      }
      expect(found).toBeDefined();
      const f = found!;
      expect(f.scope).toBe('app');
      if (c.expect.severity) expect(f.severity).toBe(c.expect.severity);
      if (c.expect.count !== undefined) expect(f.evidence.count).toBe(c.expect.count);
      if (c.expect.summary) expect(f.summary).toMatch(c.expect.summary);
      if (c.expect.entraReason !== undefined) expect(f.entraReason).toBe(c.expect.entraReason);
      expect(f.evidence.samples.length).toBeLessThanOrEqual(5);
      expect(f.evidence.sampleOperationIds.length).toBeLessThanOrEqual(5);
      expect(f.evidence.identities.length).toBeLessThanOrEqual(20);
    });
  }

  it('every rule has at least one firing and one quiet case', () => {
    for (const rule of Object.keys(ruleFns)) {
      expect(
        cases.some((c) => c.rule === rule && c.expect !== null),
        rule,
      ).toBe(true);
      expect(
        cases.some((c) => c.rule === rule && c.expect === null),
        rule,
      ).toBe(true);
    }
  });
});

describe('evidence', () => {
  it('credentials carries the 401 samples, the affected identities and the token fingerprints', () => {
    const t = new Traffic()
      .ok(3)
      .fail(7, 401, 'Unauthorized', { tokenFingerprint: 'bbbbbbbbbbbb', reason: 'token expired' });
    const f = only('credentials', findings(t, t.at))!;
    expect(f.evidence.samples).toHaveLength(5);
    expect(f.evidence.samples.every((s) => s.httpStatus === 401 && s.reason === 'token expired')).toBe(true);
    expect(f.evidence.sampleOperationIds).toEqual([6, 7, 8, 9, 10]);
    expect(f.evidence.identityCount).toBe(7);
    expect(f.evidence.details.tokenFingerprints).toEqual(['bbbbbbbbbbbb']);
    expect(f.evidence.details.lastGoodTokenFingerprint).toBe('aaaaaaaaaaaa');
    expect(f.evidence.details.tokenChanged).toBe(true);
  });

  it('the same token that used to work is reported as unchanged (expired or revoked)', () => {
    const t = new Traffic().ok(3).fail(3, 401, 'Unauthorized');
    expect(only('credentials', findings(t, t.at))!.evidence.details.tokenChanged).toBe(false);
  });

  it('stuckObject groups every stuck identity into one app-scoped finding, at most 20 named', () => {
    const t = new Traffic();
    for (let c = 0; c < 3; c++) {
      t.probe();
      for (let u = 0; u < 25; u++) {
        t.fail(1, 409, 'EntryConflict', {
          operation: 'create',
          identity: `user${u}@example.com`,
          reason: 'exists',
        });
      }
      t.wait(40 * MIN);
    }
    const stuck = findings(t, t.at).filter((f) => f.rule === 'stuckObject');
    expect(stuck).toHaveLength(1);
    expect(stuck[0].scope).toBe('app');
    expect(stuck[0].evidence.count).toBe(25);
    expect(stuck[0].evidence.identityCount).toBe(25);
    expect(stuck[0].evidence.identities).toHaveLength(20);
    expect(stuck[0].evidence.identities[0]).toMatchObject({
      streak: 3,
      errorCode: 'EntryConflict',
      reason: 'exists',
    });
    expect(stuck[0].summary).toMatch(/25 objects .* and 22 more/);
  });

  it("names the cycles stage's cycle", () => {
    const t = new Traffic().probe().ok(10).fail(11, 500, 'InternalServerError');
    const f = only('escrowProportion', findings(t, t.at))!;
    expect(t.ops[0].cycleId).not.toBeNull();
    expect(f.evidence.details.cycleId).toBe(t.ops[0].cycleId);
  });
});

describe('helpers', () => {
  it.each([
    // nearest rank: 95th of 1..100 is 95
    [[...Array(100).keys()].map((i) => i + 1), 0.95, 95],
    // a single value is every percentile
    [[7], 0.95, 7],
    // no values: 0
    [[], 0.95, 0],
  ])('percentile %#', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it.each([
    [59 * 1000, '1 min'],
    [60 * MIN, '1 h'],
    [185 * MIN, '3 h 5 min'],
  ])('formatDuration(%i) = %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
