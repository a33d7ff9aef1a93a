import { describe, expect, it } from 'vitest';
import type { ModifiedProperty, OperationKind, OperationStatus } from '../scim/types.js';
import { activeSent, applyOutcome, type IdentityOutcome, type OutcomeInput } from './identity.js';

const fresh: IdentityOutcome = {
  lastOperation: null,
  lastOperationId: null,
  lastStatus: null,
  lastHttpStatus: null,
  lastErrorOperationId: null,
  lastErrorHttpStatus: null,
  lastErrorCode: null,
  lastReason: null,
  lastErrorAt: null,
  failingStreak: 0,
  failingSince: null,
  streakBase: 0,
  lastCycleId: null,
  lastFailedCycleId: null,
  lastSeen: 0,
  active: null,
  deleted: false,
};

let nextId = 1;
function op(
  cycleId: number,
  operation: OperationKind,
  status: OperationStatus,
  extra: Partial<OutcomeInput> = {},
): OutcomeInput {
  const id = nextId++;
  return {
    id,
    time: id * 1000,
    cycleId,
    operation,
    status,
    httpStatus: status === 'failure' ? 409 : 200,
    errorCode: status === 'failure' ? 'EntryConflict' : null,
    reason: status === 'failure' ? 'userName must be unique' : null,
    modifiedProperties: [],
    ...extra,
  };
}
const replay = (ops: OutcomeInput[], from = fresh) => ops.reduce(applyOutcome, from);
const prop = (name: string, value: string): ModifiedProperty => ({ name, value });

describe('applyOutcome', () => {
  const cases: { name: string; ops: () => OutcomeInput[]; expected: Partial<IdentityOutcome> }[] = [
    {
      // a create that fails in three cycles in a row: three consecutive failing cycles
      name: 'fail, fail, fail counts three cycles',
      ops: () => [op(1, 'create', 'failure'), op(2, 'create', 'failure'), op(3, 'create', 'failure')],
      expected: {
        failingStreak: 3,
        lastStatus: 'failure',
        lastErrorCode: 'EntryConflict',
        lastFailedCycleId: 3,
      },
    },
    {
      // fail → fail → success: the success resets the streak; the last error stays visible
      name: 'fail, fail, success resets the streak',
      ops: () => [op(1, 'create', 'failure'), op(2, 'create', 'failure'), op(3, 'create', 'success')],
      expected: {
        failingStreak: 0,
        lastStatus: 'success',
        lastErrorCode: 'EntryConflict',
        lastFailedCycleId: 2,
      },
    },
    {
      // several failures in one cycle (Entra's retries) count once
      name: 'failures within one cycle count once',
      ops: () => [op(1, 'update', 'failure'), op(1, 'update', 'failure'), op(1, 'update', 'failure')],
      expected: { failingStreak: 1 },
    },
    {
      // the usual escrow shape: the lookup succeeds, the create after it fails, two cycles running
      name: 'a successful lookup before a failing create is still a failing cycle',
      ops: () => [
        op(1, 'lookup', 'success'),
        op(1, 'create', 'failure'),
        op(2, 'lookup', 'success'),
        op(2, 'create', 'failure'),
      ],
      expected: { failingStreak: 2, streakBase: 1 },
    },
    {
      // a 429 followed by a successful retry in the same cycle ends the cycle well
      name: 'a retry that succeeds within the cycle settles it',
      ops: () => [
        op(1, 'update', 'failure'),
        op(2, 'update', 'failure', { httpStatus: 429 }),
        op(2, 'update', 'success'),
      ],
      expected: { failingStreak: 0, streakBase: 1 },
    },
    {
      // an expired token (401) says nothing about the object: it neither adds a failing cycle nor ends the streak
      name: 'an app-wide failure leaves the streak as it was',
      ops: () => [
        op(1, 'create', 'failure'),
        op(2, 'create', 'failure'),
        op(3, 'update', 'failure', { httpStatus: 401, errorCode: 'Unauthorized' }),
      ],
      expected: { failingStreak: 2, lastErrorCode: 'Unauthorized', lastCycleId: 3 },
    },
    {
      // a conflict after the 401 in the same cycle is the third failing cycle
      name: 'an object failure after an app-wide one in the same cycle counts that cycle',
      ops: () => [
        op(1, 'create', 'failure'),
        op(2, 'create', 'failure'),
        op(3, 'update', 'failure', { httpStatus: 401, errorCode: 'Unauthorized' }),
        op(3, 'create', 'failure'),
      ],
      expected: { failingStreak: 3 },
    },
    {
      // the app down (502) in between does not break the streak either: the next conflict makes it three
      name: 'a 502 between two failing cycles neither counts nor breaks',
      ops: () => [
        op(1, 'create', 'failure'),
        op(2, 'create', 'failure'),
        op(3, 'update', 'failure', { httpStatus: 502, errorCode: 'InternalServerError' }),
        op(4, 'create', 'failure'),
      ],
      expected: { failingStreak: 3 },
    },
    {
      // a cycle without failure between two failing ones breaks the streak
      name: 'a healthy cycle in between starts the streak again',
      ops: () => [op(1, 'create', 'failure'), op(2, 'lookup', 'success'), op(3, 'create', 'failure')],
      expected: { failingStreak: 1, lastFailedCycleId: 3 },
    },
    {
      // a disable sets active=false, an enable true
      name: 'disable',
      ops: () => [
        op(1, 'create', 'success', { modifiedProperties: [prop('active', 'True')] }),
        op(2, 'disable', 'success'),
      ],
      expected: { active: false, deleted: false, lastOperation: 'disable' },
    },
    {
      // a disable that failed changes nothing about the account
      name: 'a failed disable leaves active alone',
      ops: () => [
        op(1, 'create', 'success', { modifiedProperties: [prop('active', 'True')] }),
        op(2, 'disable', 'failure'),
      ],
      expected: { active: true, failingStreak: 1 },
    },
    {
      // an update (PUT) that sends active=false switches the account off too
      name: 'an update sending active',
      ops: () => [op(1, 'update', 'success', { modifiedProperties: [prop('active', 'false')] })],
      expected: { active: false },
    },
    {
      // delete sets the deleted flag
      name: 'delete',
      ops: () => [op(1, 'create', 'success'), op(2, 'delete', 'success')],
      expected: { deleted: true, lastOperation: 'delete', lastStatus: 'success' },
    },
    {
      // a create after a delete (the object came back) clears the flag
      name: 'create after delete',
      ops: () => [
        op(1, 'delete', 'success'),
        op(2, 'create', 'success', { modifiedProperties: [prop('active', 'true')] }),
      ],
      expected: { deleted: false, active: true },
    },
  ];
  it.each(cases)('$name', ({ ops, expected }) => {
    expect(replay(ops())).toMatchObject(expected);
  });

  it('keeps failingSince at the first failure of the streak', () => {
    // since-when survives a successful lookup in a later cycle of the same streak
    const first = op(1, 'create', 'failure');
    const s = replay([
      first,
      op(2, 'lookup', 'success'),
      op(2, 'create', 'failure'),
      op(3, 'create', 'failure'),
    ]);
    expect(s).toMatchObject({ failingStreak: 3, failingSince: first.time });
    // and restarts with a new streak
    const again = op(5, 'create', 'failure');
    expect(replay([op(4, 'create', 'success'), again], s)).toMatchObject({
      failingStreak: 1,
      failingSince: again.time,
    });
  });

  it('keeps the last failure as one operation, apart from the last outcome', () => {
    // the demo's bug: a 201 create after an expired token showed as "201 Unauthorized"; every lastError*
    // field and lastFailedCycleId must come from the 401, every last* outcome field from the 201
    const refused = op(4, 'update', 'failure', {
      httpStatus: 401,
      errorCode: 'Unauthorized',
      reason: 'Invalid bearer token: the token has expired',
    });
    const created = op(6, 'create', 'success', { httpStatus: 201 });
    expect(replay([op(3, 'lookup', 'success'), refused, created])).toMatchObject({
      lastOperationId: created.id,
      lastStatus: 'success',
      lastHttpStatus: 201,
      lastCycleId: 6,
      lastErrorOperationId: refused.id,
      lastErrorHttpStatus: 401,
      lastErrorCode: 'Unauthorized',
      lastReason: 'Invalid bearer token: the token has expired',
      lastErrorAt: refused.time,
      lastFailedCycleId: 4,
    });
  });

  it('replaces every field of the last failure with a newer failure, none left from the old one', () => {
    // a 500 without a reason after a 409 with one: the 409's reason must not stay beside the 500
    const conflict = op(1, 'create', 'failure');
    const crash = op(2, 'update', 'failure', {
      httpStatus: 500,
      errorCode: 'InternalServerError',
      reason: null,
    });
    expect(replay([conflict, crash])).toMatchObject({
      lastErrorOperationId: crash.id,
      lastErrorHttpStatus: 500,
      lastErrorCode: 'InternalServerError',
      lastReason: null,
      lastFailedCycleId: 2,
    });
  });

  it('records the last operation and time', () => {
    // the row's last* columns follow the newest operation
    const last = op(7, 'read', 'warning', { httpStatus: 200 });
    expect(replay([op(7, 'lookup', 'success'), last])).toMatchObject({
      lastOperation: 'read',
      lastOperationId: last.id,
      lastStatus: 'warning',
      lastSeen: last.time,
      lastCycleId: 7,
    });
  });
});

describe('activeSent', () => {
  it.each([
    // Entra's 2017 dialect sends strings
    [[prop('active', 'True')], true],
    [[prop('active', 'False')], false],
    // JSON-rendered values
    [[prop('active', 'false')], false],
    [[prop('Active', '"true"')], true],
    // not sent
    [[prop('displayName', 'Ada')], null],
    // a redacted value says nothing
    [[{ name: 'active', value: '[redacted]', redacted: true }], null],
  ] as [ModifiedProperty[], boolean | null][])('%j → %s', (props, expected) => {
    expect(activeSent(props)).toBe(expected);
  });
});
