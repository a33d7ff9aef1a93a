import { appWideErrorCodes } from '../vocabulary.js';

// One definition of what a failure says (issue 12 §3). The identity fold (identity.ts), the cycle rollups, the
// detection windows and the rules all ask these, so the dashboard and the email never count differently.

/** The fields the definitions read. */
export interface FailureFacts {
  status: string;
  httpStatus: number | null;
  errorCode: string | null;
}

// Errors that say nothing about the object itself: the vocabulary's list, as a set for the hot lookups.
const appWide: ReadonlySet<string> = new Set(appWideErrorCodes);

/**
 * The client hung up before the answer (ClientAborted), or scimtap turned it away over its share of the upstream
 * (ClientThrottled): the operation records the client, not the app. It belongs to its cycle, and counts in none
 * of the cycle's outcome counts (rollup.ts countOutcome) nor in detection's windows.
 */
export function isClientSide(op: Pick<FailureFacts, 'errorCode'>): boolean {
  return op.errorCode === 'ClientAborted' || op.errorCode === 'ClientThrottled';
}

export function isAuthFailure(op: Pick<FailureFacts, 'httpStatus'>): boolean {
  return op.httpStatus === 401 || op.httpStatus === 403;
}

export function isUnavailable(op: Pick<FailureFacts, 'httpStatus' | 'errorCode'>): boolean {
  return (
    op.httpStatus === 502 ||
    op.httpStatus === 503 ||
    op.httpStatus === 504 ||
    op.errorCode === 'Timeout' ||
    op.errorCode === 'UpstreamUnreachable'
  );
}

/** A filter query's answer that is not SCIM (404, not a ListResponse, unparseable): what Entra quarantines on. */
export function isNonCompliantFilterAnswer(op: Pick<FailureFacts, 'httpStatus' | 'errorCode'>): boolean {
  return (
    op.errorCode === 'ScimCompliance' ||
    op.errorCode === 'ServiceIncompatible' ||
    (op.httpStatus === 404 && op.errorCode !== 'UpstreamUnreachable')
  );
}

/** A failure that is the object's own (a conflict, a bad attribute, a 500 on this user): what makes it stuck. */
export function isObjectFailure(op: FailureFacts): boolean {
  if (op.status !== 'failure') return false;
  if (op.errorCode !== null && appWide.has(op.errorCode)) return false;
  return !isAuthFailure(op) && !isUnavailable(op);
}

/** An app-wide failure: says something about the app or the token, nothing about the object. */
export function isAppWideFailure(op: FailureFacts): boolean {
  return op.status === 'failure' && !isObjectFailure(op);
}

// Entra's base escrow threshold counts failed objects, not failed member changes (a group's member PATCH that
// fails is retried with the group): membership failures count only towards the total.
const membershipOperations: ReadonlySet<string> = new Set(['addMembers', 'removeMembers', 'replaceMembers']);

/** Does this failed operation count towards the base escrow threshold (`failuresBase`)? */
export function countsTowardEscrowBase(op: { operation: string }): boolean {
  return !membershipOperations.has(op.operation);
}

/** A cycle's base escrow failures from its stored counts by operation. */
export function escrowBaseFailures(
  failures: number,
  countsByOperation: Record<string, { failure?: number } | undefined>,
): number {
  let membership = 0;
  for (const op of membershipOperations) membership += countsByOperation[op]?.failure ?? 0;
  return failures - membership;
}
