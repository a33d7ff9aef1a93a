import { errorCodeOfHttpStatus } from '../vocabulary.js';
import type { CapturedBody, ListInfo } from './body.js';
import { asText, attrName, getKey, isObject } from './json.js';
import type { Comparison } from './request-line.js';
import type { ErrorCode, Exchange, OperationKind, OperationStatus } from './types.js';

// The verdict on an exchange: success, failure or warning, and which Entra-style error code and reason.

export interface Verdict {
  status: OperationStatus;
  errorCode: ErrorCode | null;
  /** scimtap's own words; replaced by the SCIM error body's detail when `fromHttp` */
  reason: string | null;
  fromHttp: boolean;
}

export interface JudgeInput {
  ex: Exchange;
  httpStatus: number | null;
  operation: OperationKind;
  isFilterQuery: boolean;
  isUserOrGroup: boolean;
  method: string;
  req: CapturedBody;
  res: CapturedBody;
  resList: ListInfo | null;
  params: Map<string, string>;
  filter: Comparison | null;
}

export const FAILURE_REASONS = new Map<string, string>([
  ['UpstreamUnreachable', 'upstream unreachable'],
  ['Timeout', 'upstream did not answer in time'],
  ['ClientAborted', 'the client closed the connection before the answer'],
  ['ClientThrottled', 'scimtap refused the request: the client was over its share of upstream connections'],
]);

export function judge(j: JudgeInput): Verdict {
  const fail = (errorCode: ErrorCode | null, reason: string, fromHttp = false): Verdict => ({
    status: 'failure',
    errorCode,
    reason,
    fromHttp,
  });
  const { ex, httpStatus: s, res } = j;

  // scimtap refused the request itself (HTTP 400, ARCHITECTURE §3): hostile traffic, its words
  if (ex.failure === 'Refused') {
    return fail('InvalidSyntax', asText(ex.failureDetail) ?? 'scimtap refused the request');
  }
  // scimtap's own failures (the proxy answered 502/504 or the client left): the proxy's words
  if (ex.failure != null) {
    const code = FAILURE_REASONS.has(ex.failure) ? (ex.failure as ErrorCode) : null;
    const own = asText(ex.failureDetail) ?? FAILURE_REASONS.get(ex.failure) ?? String(ex.failure);
    const detail = errorInfo(res.json).detail;
    return { status: 'failure', errorCode: code, reason: detail ?? own, fromHttp: false };
  }
  // no status and no recorded failure: the client went away before the answer
  if (s === null) return fail('ClientAborted', 'no response was sent');

  if (s >= 200 && s < 300) {
    const cannotJudge =
      res.state === 'uncaptured' ||
      res.state === 'truncated' ||
      res.state === 'unparsed' ||
      res.state === 'undecodable';
    if (j.isFilterQuery) {
      // Entra requires 200 + ListResponse to a filter query; anything else is a SCIM compliance failure
      if (cannotJudge) return ok();
      if (res.state === 'empty')
        return fail('ScimCompliance', `HTTP ${s} with an empty body to a filter query`);
      if (!res.parsed)
        return fail('ScimCompliance', `HTTP ${s} with a body that is not JSON to a filter query`);
      if (!j.resList) return fail('ScimCompliance', `HTTP ${s} to a filter query is not a ListResponse`);
      // Entra asks groups without members; an app that sends them anyway breaks its matching
      if (excludesMembers(j) && j.resList.resources.some((r) => getKey(r, 'members') != null)) {
        return fail('MultipleEntriesInResponse', 'members returned although excludedAttributes=members');
      }
      // an equality filter on a matching attribute must find at most one object
      if (j.filter?.op === 'eq' && j.resList.resources.length > 1) {
        return fail('MultipleEntriesInResponse', `${j.resList.resources.length} resources match one filter`);
      }
      return ok();
    }
    const expectsBody =
      j.isUserOrGroup && (j.operation === 'create' || j.operation === 'read' || j.operation === 'list');
    // Entra needs the created or read resource (its id) in the answer; a truncated copy is not evidence
    if (expectsBody && !cannotJudge) {
      if (res.state === 'empty') return fail('ServiceIncompatible', `HTTP ${s} with an empty body`);
      if (!res.parsed) return fail('ServiceIncompatible', `HTTP ${s} with a body that is not JSON`);
      if (!isObject(res.json))
        return fail('ServiceIncompatible', `HTTP ${s} with a body that is not a SCIM resource`);
      if (j.operation === 'list' && !j.resList) {
        return fail('ServiceIncompatible', `HTTP ${s} to a list is not a ListResponse`);
      }
    }
    // RFC 7644 §3.3: a create answers 201; Entra accepts 200 but it is not compliant
    if (j.operation === 'create' && s !== 201) {
      return {
        status: 'warning',
        errorCode: null,
        reason: `${j.method} create answered ${s} instead of 201`,
        fromHttp: false,
      };
    }
    return ok();
  }
  // a filter query must answer an empty ListResponse, never 404: Entra quarantines on it
  if (s === 404 && j.isFilterQuery) return fail('ScimCompliance', 'HTTP 404 to a filter query', true);
  return fail(errorCodeOfHttpStatus(s), `HTTP ${s}`, true);
}

export function ok(): Verdict {
  return { status: 'success', errorCode: null, reason: null, fromHttp: false };
}

export function excludesMembers(j: JudgeInput): boolean {
  const fromQuery = j.params.get('excludedattributes');
  const fromBody = getKey(j.req.json, 'excludedAttributes');
  const list = [
    ...(fromQuery ? fromQuery.split(',') : []),
    ...(Array.isArray(fromBody) ? fromBody : typeof fromBody === 'string' ? fromBody.split(',') : []),
  ];
  return list.some((a) => typeof a === 'string' && attrName(a) === 'members');
}

export function errorInfo(body: unknown): { detail: string | null; scimType: string | null } {
  if (!isObject(body)) return { detail: null, scimType: null };
  const errors = getKey(body, 'Errors');
  // SCIM 1.1 apps answer {"Errors":[{"description":..., "code":...}]}
  const legacy =
    Array.isArray(errors) && isObject(errors[0]) ? asText(getKey(errors[0], 'description')) : null;
  const detail = asText(getKey(body, 'detail')) ?? asText(getKey(body, 'message')) ?? legacy;
  return { detail: detail?.trim() ? detail : null, scimType: asText(getKey(body, 'scimType')) };
}
