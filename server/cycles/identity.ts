import type { ErrorCode, ModifiedProperty, OperationKind, OperationStatus } from '../scim/types.js';
import { isAppWideFailure } from './failing.js';

/** The outcome part of an identity row: what its operations say, as opposed to how it is found (key, name, ids). */
export interface IdentityOutcome {
  lastOperation: OperationKind | null;
  lastOperationId: number | null;
  lastStatus: OperationStatus | null;
  lastHttpStatus: number | null;
  lastErrorOperationId: number | null;
  lastErrorHttpStatus: number | null;
  lastErrorCode: ErrorCode | null;
  lastReason: string | null;
  lastErrorAt: number | null;
  failingStreak: number;
  failingSince: number | null;
  streakBase: number;
  lastCycleId: number | null;
  lastFailedCycleId: number | null;
  lastSeen: number;
  active: boolean | null;
  deleted: boolean;
}

export interface OutcomeInput {
  /** the stored operation's id */
  id: number;
  time: number;
  cycleId: number | null;
  operation: OperationKind;
  status: OperationStatus;
  httpStatus: number | null;
  errorCode: ErrorCode | null;
  reason: string | null;
  modifiedProperties: ModifiedProperty[];
}

// Transitions (one operation on one identity):
//
//   operation / status                      → change
//   any, in a cycle it had not appeared in  streakBase := failingStreak (its streak as of that previous cycle)
//   app-wide failure (failing.ts: 401, 5xx  lastError* only: failingStreak stays as it was (it says nothing
//     down, 429, non-SCIM answer ...)         about the object)
//   failure                                 failingStreak := streakBase + 1; lastError* and
//                                           lastFailedCycleId := this one's, every field from this operation
//   success or warning                      failingStreak := 0
//   create ok                               active := the `active` sent (if any); deleted := false
//   enable ok / disable ok                  active := true / false
//   update ok that sets `active`            active := that value
//   delete ok                               deleted := true
//
// The streak follows the identity's LAST operation in each cycle: a lookup that succeeds before a create that
// fails is still a failing cycle, and a retry that succeeds after a 429 is not. `failingSince` is the first
// failure of the current streak; it is left in place on recovery (meaningful while failingStreak > 0).
export function applyOutcome(s: IdentityOutcome, op: OutcomeInput): IdentityOutcome {
  const next: IdentityOutcome = {
    ...s,
    lastOperation: op.operation,
    lastOperationId: op.id,
    lastStatus: op.status,
    lastHttpStatus: op.httpStatus,
    lastSeen: op.time,
  };
  const failed = op.status === 'failure';
  if (failed) {
    // All from this one operation: a failure's fields must never pair with another call's.
    next.lastErrorOperationId = op.id;
    next.lastErrorHttpStatus = op.httpStatus;
    next.lastErrorCode = op.errorCode;
    next.lastReason = op.reason;
    next.lastErrorAt = op.time;
    next.lastFailedCycleId = op.cycleId;
  }

  if (op.cycleId !== null) {
    const firstInCycle = s.lastCycleId !== op.cycleId;
    const base = firstInCycle ? s.failingStreak : s.streakBase;
    next.streakBase = base;
    next.lastCycleId = op.cycleId;
    if (isAppWideFailure(op)) {
      // the token, the app or the client failed, not the object: the streak stays as it was
    } else if (failed) {
      // Still the same streak if the previous cycle failed, or if this cycle already failed once.
      const continuing = base > 0 || (!firstInCycle && s.failingStreak > 0);
      next.failingSince = continuing && s.failingSince !== null ? s.failingSince : op.time;
      next.failingStreak = base + 1;
    } else {
      next.failingStreak = 0;
    }
  }

  if (!failed) {
    switch (op.operation) {
      case 'create': {
        const active = activeSent(op.modifiedProperties);
        if (active !== null) next.active = active;
        next.deleted = false;
        break;
      }
      case 'enable':
        next.active = true;
        break;
      case 'disable':
        next.active = false;
        break;
      case 'update': {
        const active = activeSent(op.modifiedProperties);
        if (active !== null) next.active = active;
        break;
      }
      case 'delete':
        next.deleted = true;
        break;
    }
  }
  return next;
}

/** The `active` value a create or update sent; Entra may send it as the strings "True" / "False". */
export function activeSent(props: ModifiedProperty[]): boolean | null {
  for (const p of props) {
    if (p.name.toLowerCase() !== 'active' || p.redacted) continue;
    const v = p.value.trim().replace(/^"|"$/g, '').toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
  }
  return null;
}
