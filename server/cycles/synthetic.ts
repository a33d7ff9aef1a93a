import { mulberry32 } from '../demo/simulator/random.js';
import type {
  ErrorCode,
  MemberChange,
  ModifiedProperty,
  Operation,
  OperationKind,
  OperationStatus,
} from '../scim/types.js';
import { provisioningActionOf } from '../vocabulary.js';

// Classified operations shaped like Entra's traffic (an initial cycle, then incremental cycles every interval,
// with Test Connections, on-demand runs, escrowed failures, disables, deletes, renames and memberships).
// Tests and the benchmark use it to feed the cycle stage without the proxy or the classifier.

export interface SyntheticOptions {
  users: number;
  groups: number;
  /** cycles after the initial one */
  incrementalCycles: number;
  seed?: number;
  start?: number;
  intervalMin?: number;
  /** changes per incremental cycle */
  changesPerCycle?: number;
}

const PROVISIONING_AGENT = 'Microsoft.AAD.Provisioning/1.0';

/** One classified operation with Entra-like defaults. */
export function syntheticOperation(o: Partial<Operation> & Pick<Operation, 'time' | 'operation'>): Operation {
  const status: OperationStatus = o.status ?? 'success';
  return {
    durationMs: 40,
    httpMethod: 'GET',
    path: '/scim/v2/Users',
    query: '',
    httpStatus: 200,
    resourceType: 'User',
    // Entra's action for the operation, as the classifier derives it (the vocabulary's one map)
    provisioningAction: provisioningActionOf[o.operation],
    status,
    identityType: o.resourceType === 'Group' ? 'Group' : o.operation === 'testConnection' ? null : 'User',
    identity: null,
    externalId: null,
    targetId: null,
    errorCode: null,
    scimType: null,
    reason: null,
    modifiedProperties: [],
    members: [],
    requestBytes: 0,
    responseBytes: 0,
    tokenFingerprint: '1a2b3c4d5e6f',
    clientIp: '20.190.128.10',
    userAgent: PROVISIONING_AGENT,
    requestBody: null,
    responseBody: null,
    ...o,
  };
}

/** Small, seeded, good enough for test data: the simulator's mulberry32. */
export const prng: (seed: number) => () => number = mulberry32;

const FAIL: Record<number, { errorCode: ErrorCode; reason: string }> = {
  409: { errorCode: 'EntryConflict', reason: 'A user with the same userName already exists' },
  429: { errorCode: 'TooManyRequests', reason: 'Too many requests' },
  500: { errorCode: 'InternalServerError', reason: 'Internal error' },
  401: { errorCode: 'Unauthorized', reason: 'Invalid token' },
};

const userName = (i: number) => `user${i}@contoso.example`;
const groupName = (i: number) => `Group ${i}`;
const userId = (i: number) => `u-${i}`;
const groupId = (i: number) => `g-${i}`;

/** The source directory as Entra sees it, the clock, and the random source every builder draws from in turn. */
interface Traffic {
  rand: () => number;
  /** the time of the last operation; each builder moves it on a little */
  t: number;
  users: number;
  groups: number;
  created: Set<number>;
  deleted: Set<number>;
  /** users whose create keeps failing (escrowed), as Entra retries them every cycle */
  stuck: Set<number>;
  groupNames: string[];
}

const pick = (x: Traffic, n: number) => Math.floor(x.rand() * n);
const step = (x: Traffic) => {
  x.t += 20 + pick(x, 80);
  return x.t;
};

const probe = (x: Traffic, status = 200): Operation =>
  syntheticOperation({
    time: step(x),
    operation: 'testConnection',
    query: 'filter=userName+eq+%2230ae9a33-0c3d-4c65-9b3c-6c1f0a7f3e10%22',
    httpStatus: status,
    status: status === 200 ? 'success' : 'failure',
    ...(status === 200 ? {} : FAIL[status]),
    durationMs: 30 + pick(x, 40),
  });
const lookupUser = (x: Traffic, i: number, found: boolean): Operation =>
  syntheticOperation({
    time: step(x),
    operation: 'lookup',
    query: `filter=userName+eq+%22${userName(i)}%22`,
    identity: userName(i),
    targetId: found ? userId(i) : null,
    durationMs: 20 + pick(x, 60),
  });
const createUser = (x: Traffic, i: number, fail?: number): Operation =>
  syntheticOperation({
    time: step(x),
    operation: 'create',
    httpMethod: 'POST',
    identity: userName(i),
    externalId: `ext-${i}`,
    targetId: fail ? null : userId(i),
    httpStatus: fail ?? 201,
    status: fail ? 'failure' : 'success',
    ...(fail ? FAIL[fail] : {}),
    modifiedProperties: [
      { name: 'userName', value: userName(i) },
      { name: 'active', value: 'True' },
    ] satisfies ModifiedProperty[],
    durationMs: 60 + pick(x, 200),
  });
const patchUser = (x: Traffic, i: number, operation: OperationKind, fail?: number): Operation =>
  syntheticOperation({
    time: step(x),
    operation,
    httpMethod: 'PATCH',
    path: `/scim/v2/Users/${userId(i)}`,
    targetId: userId(i),
    httpStatus: fail ?? 200,
    status: fail ? 'failure' : 'success',
    ...(fail ? FAIL[fail] : {}),
    modifiedProperties:
      operation === 'disable'
        ? [{ name: 'active', value: 'False' }]
        : [{ name: 'displayName', value: `User ${i} v${pick(x, 1000)}` }],
    durationMs: 50 + pick(x, 150),
  });
const deleteUser = (x: Traffic, i: number): Operation =>
  syntheticOperation({
    time: step(x),
    operation: 'delete',
    httpMethod: 'DELETE',
    path: `/scim/v2/Users/${userId(i)}`,
    targetId: userId(i),
    httpStatus: 204,
    durationMs: 40 + pick(x, 60),
  });
const groupOp = (
  x: Traffic,
  g: number,
  operation: OperationKind,
  extra: Partial<Operation> = {},
): Operation =>
  syntheticOperation({
    time: step(x),
    operation,
    resourceType: 'Group',
    identityType: 'Group',
    path:
      operation === 'lookup' || operation === 'create' ? '/scim/v2/Groups' : `/scim/v2/Groups/${groupId(g)}`,
    httpMethod: operation === 'lookup' ? 'GET' : operation === 'create' ? 'POST' : 'PATCH',
    httpStatus: operation === 'create' ? 201 : operation === 'lookup' ? 200 : 204,
    durationMs: 50 + pick(x, 100),
    ...extra,
  });
const members = (x: Traffic, op: MemberChange['op']): MemberChange[] => [
  { op, ids: Array.from({ length: 1 + pick(x, 4) }, () => userId(pick(x, x.users - 2))) },
];

export function* syntheticTraffic(options: SyntheticOptions): Generator<Operation> {
  const { users, groups, incrementalCycles, seed = 1, intervalMin = 40, changesPerCycle = 20 } = options;
  const x: Traffic = {
    rand: prng(seed),
    t: options.start ?? Date.UTC(2025, 0, 1, 0, 0, 0),
    users,
    groups,
    created: new Set<number>(),
    deleted: new Set<number>(),
    stuck: new Set<number>([users - 1, users - 2]),
    groupNames: Array.from({ length: groups }, (_, i) => groupName(i)),
  };

  yield* initialCycle(x);
  for (let c = 0; c < incrementalCycles; c++) {
    const cycleStart = x.t + intervalMin * 60_000 - (x.t % 1000);
    yield* betweenCycles(x, c);
    x.t = Math.max(x.t + 6 * 60_000, cycleStart);
    // every so often a cycle whose probe is refused (a rotated token): nothing follows it
    if (c % 13 === 12) {
      yield probe(x, 401);
      continue;
    }
    yield probe(x);
    yield* stuckRetries(x, c < incrementalCycles / 2);
    for (let k = 0; k < changesPerCycle; k++) yield* change(x, c);
  }
}

/** Every user and group looked up and created, then memberships. */
function* initialCycle(x: Traffic): Generator<Operation> {
  yield probe(x);
  for (let i = 0; i < x.users; i++) {
    yield lookupUser(x, i, false);
    if (x.stuck.has(i)) {
      yield createUser(x, i, 409);
    } else {
      yield createUser(x, i);
      x.created.add(i);
    }
  }
  for (let g = 0; g < x.groups; g++) {
    yield groupOp(x, g, 'lookup', { identity: x.groupNames[g], targetId: null });
    yield groupOp(x, g, 'create', {
      identity: x.groupNames[g],
      targetId: groupId(g),
    });
    yield groupOp(x, g, 'addMembers', {
      targetId: groupId(g),
      members: members(x, 'add'),
    });
  }
}

/** Now and then an admin's Test Connection or an on-demand run between cycles. */
function* betweenCycles(x: Traffic, c: number): Generator<Operation> {
  if (c % 7 === 3) {
    x.t += 12 * 60_000;
    yield probe(x);
  }
  if (c % 11 === 5) {
    x.t += 15 * 60_000;
    yield probe(x);
    const i = pick(x, x.users - 2);
    yield lookupUser(x, i, x.created.has(i));
    yield patchUser(x, i, 'update');
  }
}

/** Entra retries the escrowed creates every cycle; the conflict clears after a while: the streak ends. */
function* stuckRetries(x: Traffic, conflicting: boolean): Generator<Operation> {
  for (const i of x.stuck) {
    yield lookupUser(x, i, false);
    if (conflicting) {
      yield createUser(x, i, 409);
    } else {
      yield createUser(x, i);
      x.created.add(i);
      x.stuck.delete(i);
    }
  }
}

/** One source change in incremental cycle `c`: mostly updates, some disables, deletes and group changes. */
function* change(x: Traffic, c: number): Generator<Operation> {
  const { rand, groups, groupNames } = x;
  const i = pick(x, x.users - 2);
  if (!x.created.has(i) || x.deleted.has(i)) return;
  const roll = rand();
  if (roll < 0.7) yield patchUser(x, i, 'update', rand() < 0.05 ? (rand() < 0.5 ? 429 : 500) : undefined);
  else if (roll < 0.85) yield patchUser(x, i, 'disable');
  else if (roll < 0.92) {
    yield deleteUser(x, i);
    x.deleted.add(i);
  } else if (groups > 0) {
    const g = pick(x, groups);
    const r2 = rand();
    if (r2 < 0.4) yield groupOp(x, g, 'addMembers', { targetId: groupId(g), members: members(x, 'add') });
    else if (r2 < 0.8)
      yield groupOp(x, g, 'removeMembers', { targetId: groupId(g), members: members(x, 'remove') });
    else {
      groupNames[g] = `${groupName(g)} r${c}`;
      yield groupOp(x, g, 'update', {
        targetId: groupId(g),
        identity: groupNames[g],
        modifiedProperties: [{ name: 'displayName', value: groupNames[g] }],
      });
    }
  }
}
