import type { DetectionInput, OperationSample, Streak, StuckIdentity } from '../../../detect/types.js';
import { idleRecorderStats } from '../../recorder.js';

// Scripted detection inputs for the alert evaluation's tests: the few fields the rules these tests drive read
// (credentials: the stream's run of 401/403; stuckObject: identities failing cycle after cycle), all else quiet.

export interface Script {
  /** consecutive rejected calls (credentials fires at rules.credentialsConsecutive, 3 by default) */
  rejected: number;
  status: 401 | 403;
  /** identities failing in this many consecutive cycles (stuckObject fires at rules.stuckObjectCycles, 3) */
  stuck: { name: string; streak: number }[];
}

function sample(id: number, time: number, httpStatus: number, identity: string): OperationSample {
  const errorCode = httpStatus === 401 ? 'Unauthorized' : httpStatus === 403 ? 'InsufficientRights' : 'Other';
  return {
    id,
    time,
    httpMethod: 'PATCH',
    path: '/scim/v2/Users/1',
    query: '',
    httpStatus,
    errorCode,
    reason: null,
    identity,
  };
}

function streak(consecutive: number, now: number, status: number): Streak {
  const samples = Array.from({ length: Math.min(consecutive, 5) }, (_, i) =>
    sample(i + 1, now - 1000 * (5 - i), status, `user${i}@example.com`),
  );
  return {
    consecutive,
    firstSeen: consecutive > 0 ? now - 10_000 : null,
    lastSeen: consecutive > 0 ? now - 1000 : null,
    samples,
    identities: samples.map((s) => ({ key: `user:${s.identity}`, name: s.identity as string, type: 'User' })),
    identityCount: samples.length,
    errorCodes: consecutive > 0 ? [status === 401 ? 'Unauthorized' : 'InsufficientRights'] : [],
  };
}

export function scriptedInput(s: Script, now: number): DetectionInput {
  const stuck: StuckIdentity[] = s.stuck.map((x, i) => ({
    key: `user:${x.name}`,
    name: x.name,
    type: 'User',
    streak: x.streak,
    errorCode: 'Other',
    reason: 'the app refused the change',
    firstFailedAt: now - 3_600_000,
    lastFailedAt: now - 60_000,
    lastSample: sample(100 + i, now - 60_000, 400, x.name),
  }));
  return {
    cycleIntervalMs: 40 * 60_000,
    stream: {
      auth: { ...streak(s.rejected, now, s.status), tokenFingerprints: [], lastGoodTokenFingerprint: null },
      unavailable: streak(0, now, 502),
      outcomes: [],
      latencies: [],
      lastProbe: null,
      filterAnswers: [],
    },
    cycles: [],
    sinceHealthy: { failures: 0, failuresBase: 0, since: null, lastSeen: null },
    stuck,
    recorder: idleRecorderStats(),
    unrecognised: { count: 0, firstSeen: null, lastSeen: null, addresses: [], paths: [], samples: [] },
  };
}
