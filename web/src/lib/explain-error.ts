import { type ErrorCode, errorCodeOfHttpStatus } from '../../../server/vocabulary.js';

export interface Explanation {
  /** one line: what happened, in plain words */
  summary: string;
  /** what the on-call engineer should check or do */
  action: string;
  /** what Entra does with this failure (ARCHITECTURE §6, entra-scim.md §3) */
  entra?: string;
}

const byCode: Record<ErrorCode, Explanation> = {
  Unauthorized: {
    summary: 'The app rejected the credentials (HTTP 401): the Secret Token is wrong, expired or revoked.',
    action:
      'Generate a new token in the app and paste it into Entra (Provisioning → Admin Credentials → Secret Token), then Test Connection. Tanium tokens must include their "token-" prefix.',
    entra: 'At Test Connection or cycle start Entra quarantines the job (EncounteredQuarantineException).',
  },
  InsufficientRights: {
    summary: 'The app accepted the token but refused the action (HTTP 403): the token lacks permission.',
    action: 'Give the token (or the account it belongs to) the SCIM provisioning permission in the app.',
    entra: 'At Test Connection or cycle start Entra quarantines the job (EncounteredQuarantineException).',
  },
  NotFound: {
    summary:
      'The object does not exist in the app (HTTP 404): it was deleted there, or Entra holds a stale id.',
    action:
      'Check whether the object was removed in the app; Entra recreates it or reports it until matched again.',
  },
  EntryConflict: {
    summary: 'The app already has a user or group with the same unique name (HTTP 409, uniqueness).',
    action:
      'Find the existing object in the app (same userName or displayName), then delete it, rename it, or fix the attribute mapping so Entra matches it.',
    entra: 'Entra escrows the object and retries it in later cycles; many of these count toward quarantine.',
  },
  TooManyRequests: {
    summary: 'The app throttled the request (HTTP 429).',
    action: 'Ask the app vendor for a higher rate limit; Entra sends up to about 25 requests per second.',
    entra: 'Retried; long 429 storms can end in quarantine.',
  },
  InternalServerError: {
    summary: 'The app failed while handling the request (HTTP 5xx).',
    action: 'Check the app’s status page or logs; the failure is on the app side, not in the data.',
    entra: 'Entra retries in about 40 minutes.',
  },
  InvalidSyntax: {
    summary:
      'The app rejected the request as invalid (HTTP 400): an attribute value or format it does not accept.',
    action:
      'Read the reason below and fix the attribute mapping in Entra (required attributes, formats, lengths).',
  },
  Timeout: {
    summary: 'The app did not answer within SCIMTAP_UPSTREAM_TIMEOUT_MS; scimtap answered 504.',
    action: 'Check the app’s latency and availability; Entra expects answers well within 60 s.',
    entra: 'Entra retries in about 40 minutes; repeated timeouts can lead to quarantine.',
  },
  UpstreamUnreachable: {
    summary:
      'scimtap could not reach the app (connection refused, reset, DNS or TLS failure); it answered 502.',
    action: 'Check SCIMTAP_UPSTREAM, DNS, firewalls and the app’s TLS certificate (SCIMTAP_UPSTREAM_CA).',
    entra: 'If most calls fail, Entra quarantines the job.',
  },
  ServiceIncompatible: {
    summary: 'The app answered with a body that is not valid SCIM (unparseable or the wrong shape).',
    action:
      'Compare the response body below with RFC 7644; a proxy or login page in front of the app can cause this.',
    entra: 'Reported as SystemForCrossDomainIdentityManagementServiceIncompatible.',
  },
  MultipleEntriesInResponse: {
    summary: 'A lookup that should match one object matched several.',
    action: 'Remove the duplicates in the app, or make the matching attribute unique.',
  },
  ScimCompliance: {
    summary: 'A filter query got 404 or a non-ListResponse; SCIM requires 200 with an empty ListResponse.',
    action: 'This is an app (or gateway) defect: a filter that matches nothing must return totalResults 0.',
    entra: 'Entra treats this as a compliance failure and quarantines the job.',
  },
  ClientAborted: {
    summary:
      'The client (Entra) closed the connection before the app answered, or sent its request body too slowly (HTTP 408 from scimtap).',
    action:
      'Usually harmless; if frequent, the app is too slow for Entra’s timeout. A 408 from an unknown address is a slow client cut off (SCIMTAP_BODY_TIMEOUT_MS).',
  },
  ClientThrottled: {
    summary:
      'scimtap refused the request (HTTP 429): this client address had its full share of connections to the app in use.',
    action:
      'From an unknown address: a client flooding the proxy, turned away so Entra is still served. From Entra, or every request when scimtap sits behind a load balancer: raise SCIMTAP_CLIENT_CONCURRENCY.',
    entra: 'Entra retries throttled calls; long 429 storms can end in quarantine.',
  },
};

/**
 * Plain words for a failure. Uses the error code when there is one, else the HTTP status, and adds the SCIM
 * scimType when it says more than the code (e.g. `mutability`). Returns null for a success.
 */
export function explainError(
  errorCode: string | null | undefined,
  httpStatus: number | null | undefined,
  scimType?: string | null,
): Explanation | null {
  let base: Explanation | undefined = errorCode ? byCode[errorCode as ErrorCode] : undefined;
  if (!base && httpStatus != null && httpStatus >= 400) {
    // Without a code (older rows), a 502 or 504 is most likely scimtap's own answer: the app unreachable or slow.
    if (httpStatus === 504) base = byCode.Timeout;
    else if (httpStatus === 502) base = byCode.UpstreamUnreachable;
    else base = byCode[errorCodeOfHttpStatus(httpStatus)];
  }
  if (!base) {
    if (!errorCode) return null;
    return {
      summary: `The request failed (${errorCode}).`,
      action: 'See the reason and the response body below.',
    };
  }
  const note = scimType ? scimTypeNotes[scimType] : undefined;
  return note ? { ...base, summary: `${base.summary} ${note}` } : base;
}

// RFC 7644 §3.12 scimType values, when the app sends one.
const scimTypeNotes: Record<string, string> = {
  invalidFilter: 'The app could not parse the filter (scimType invalidFilter).',
  tooMany: 'The app refused to return that many results (scimType tooMany).',
  mutability: 'An attribute that cannot be changed was sent (scimType mutability).',
  invalidSyntax: 'The request body did not follow the SCIM schema (scimType invalidSyntax).',
  invalidPath: 'A PATCH path was not understood (scimType invalidPath).',
  noTarget: 'A PATCH path matched nothing (scimType noTarget).',
  invalidValue: 'A required attribute is missing or a value is not allowed (scimType invalidValue).',
  invalidVers: 'The ETag version did not match (scimType invalidVers).',
  sensitive: 'The request carried sensitive data in a place the app refuses (scimType sensitive).',
};
