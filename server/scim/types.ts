// What the proxy hands over and what classification makes of it (ARCHITECTURE §4).
import type {
  ErrorCode,
  IdentityType,
  OperationKind,
  OperationStatus,
  ProvisioningAction,
  ResourceType,
} from '../vocabulary.js';

/** What the proxy saw of one request/response pair, before any interpretation. */
export interface Exchange {
  /** ms since epoch when the request arrived */
  startedAt: number;
  /** ms from arrival until the response finished (or failed) */
  durationMs: number;
  method: string;
  /** request path as received by the listener, without the query string, not decoded */
  path: string;
  /** raw query string without the leading '?', '' if none */
  query: string;
  /** first 12 hex digits of SHA-256 of the bearer token (or of the whole header if not Bearer); null if absent */
  tokenFingerprint: string | null;
  clientIp: string | null;
  userAgent: string | null;
  requestContentType: string | null;
  /** bounded copy of the request body (null when capture is off or there was no body) */
  requestBody: Buffer | null;
  /** full size of the request body as forwarded */
  requestBytes: number;
  requestTruncated: boolean;
  /** status the client got (502/504 when scimtap answered itself); null if the client went away first */
  httpStatus: number | null;
  responseContentType: string | null;
  responseBody: Buffer | null;
  responseBytes: number;
  responseTruncated: boolean;
  /** `Content-Encoding` of the request and of the response, when sent */
  requestContentEncoding?: string | null;
  responseContentEncoding?: string | null;
  /**
   * Secrets the exchange carried outside its captured bodies: the Authorization header's credential, and secret
   * values of a request body past the capture limit. Scrubbed from every recorded field; never stored.
   */
  credentials?: string[];
  /** set when the exchange did not complete normally */
  failure: ExchangeFailure | null;
  /** human-readable detail for `failure` */
  failureDetail: string | null;
  /** scimtap answered 403 itself: the client's address is outside SCIMTAP_TRUSTED_CLIENTS */
  refused?: 'untrustedClient';
}

/**
 * `Refused`: scimtap answered 400 itself and forwarded nothing (a path with a dot-segment).
 * `ClientThrottled`: scimtap answered 429 itself, the client being over its share of the upstream pool.
 */
export type ExchangeFailure =
  | 'UpstreamUnreachable'
  | 'Timeout'
  | 'ClientAborted'
  | 'Refused'
  | 'ClientThrottled';

// The names an Operation's fields take live in ../vocabulary.ts (shared with the schema, the API and web/).
export {
  type ClientKind,
  clientKinds,
  type ErrorCode,
  errorCodes,
  type IdentityType,
  type OperationKind,
  type OperationStatus,
  operationKinds,
  operationStatuses,
  type ProvisioningAction,
  provisioningActions,
  type ResourceType,
  resourceTypes,
} from '../vocabulary.js';

export interface ModifiedProperty {
  /** attribute path as sent, e.g. `active`, `name.familyName`, `emails[type eq "work"].value` */
  name: string;
  /** new value rendered as text (JSON for objects); `[redacted]` when redacted */
  value: string;
  redacted?: boolean;
}

export interface MemberChange {
  op: 'add' | 'remove' | 'replace';
  /** member ids (the `value` of each member) */
  ids: string[];
}

/** One classified exchange: what scimtap stores and shows. */
export interface Operation {
  time: number;
  durationMs: number;
  httpMethod: string;
  path: string;
  query: string;
  httpStatus: number | null;
  resourceType: ResourceType;
  operation: OperationKind;
  provisioningAction: ProvisioningAction;
  status: OperationStatus;
  identityType: IdentityType | null;
  /** userName for users, displayName for groups */
  identity: string | null;
  externalId: string | null;
  /** id of the resource in the app: from the path, else from the response `id` */
  targetId: string | null;
  errorCode: ErrorCode | null;
  scimType: string | null;
  reason: string | null;
  modifiedProperties: ModifiedProperty[];
  members: MemberChange[];
  requestBytes: number;
  responseBytes: number;
  tokenFingerprint: string | null;
  clientIp: string | null;
  userAgent: string | null;
  /** captured request body as text, redacted per capture mode; null when not captured */
  requestBody: string | null;
  responseBody: string | null;
}

export type CaptureMode = 'full' | 'redacted' | 'none';

export interface ClassifyOptions {
  capture: CaptureMode;
  /** attribute names (case-insensitive, matched at any depth and in PATCH paths) to redact; default ['password'] */
  redact: string[];
  /** SCIMTAP_CAPTURE_LIMIT_BYTES: a compressed body is inflated up to 4 times this, and kept up to this */
  captureLimitBytes?: number;
}
