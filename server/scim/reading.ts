// An exchange as classification reads it (ARCHITECTURE §4): what it asked for (its target, query, bodies and
// filter) and which operation that is. classify.ts judges and records it.

import { asListResponse, type ListInfo, readBody } from './body.js';
import { asBool, asText, getKey, num } from './json.js';
import type { JudgeInput } from './judge.js';
import { type PatchOp, patchKind, patchOps } from './patch.js';
import { type Comparison, parseFilter, parseQuery, parseTarget, type Target } from './request-line.js';
import type { Exchange, OperationKind } from './types.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An exchange as classification reads it: what it asked for, and which operation that is. It is also all that
 * `judge` needs, so it is built once and serves both.
 */
export interface Reading extends JudgeInput {
  target: Target;
  /** a request to .../Users/.search (RFC 7644 §3.4.3) */
  isSearch: boolean;
  /** a PATCH's operations (none for other methods) */
  ops: PatchOp[];
  /** a query's filter as sent (`filter` is what scimtap parsed of it) */
  filterText: string | null;
}

/** `captureLimit`: how much of a body was kept (a compressed one is inflated up to 4 times that). */
export function readExchange(ex: Exchange, captureLimit: number): Reading {
  const method = String(ex.method ?? '')
    .trim()
    .toUpperCase();
  // A request scimtap refused itself (a dot-segment path) never reached the app: it is about no resource.
  const refused = ex.failure === 'Refused';
  const target: Target = refused
    ? { resourceType: 'Other', id: null, extra: false }
    : parseTarget(ex.path ?? '');
  const params = parseQuery(ex.query ?? '');
  const httpStatus = Number.isInteger(ex.httpStatus) ? (ex.httpStatus as number) : null;
  const req = readBody(
    ex.requestBody,
    num(ex.requestBytes),
    ex.requestTruncated === true,
    ex.requestContentEncoding,
    ex.requestContentType,
    captureLimit,
  );
  const res = readBody(
    ex.responseBody,
    num(ex.responseBytes),
    ex.responseTruncated === true,
    ex.responseContentEncoding,
    ex.responseContentType,
    captureLimit,
  );
  const { resourceType } = target;
  const isUserOrGroup = resourceType === 'User' || resourceType === 'Group';
  const isSearch = target.id !== null && target.id.toLowerCase() === '.search';
  const ops = method === 'PATCH' ? patchOps(req.json) : [];
  const resList = res.parsed ? asListResponse(res.json) : null;

  const filterText =
    isUserOrGroup && !target.extra ? queryFilterText(method, isSearch, params, req.json) : null;
  let operation = operationOf(method, target, isUserOrGroup, isSearch, filterText, ops, req.json);
  const filter = filterText !== null ? parseFilter(filterText) : null;
  if (operation === 'lookup' && isConnectionProbe(filter, resList)) operation = 'testConnection';
  const isFilterQuery = operation === 'lookup' || operation === 'testConnection';
  return {
    ex,
    httpStatus,
    operation,
    isFilterQuery,
    isUserOrGroup,
    method,
    req,
    res,
    resList,
    params,
    filter,
    target,
    isSearch,
    ops,
    filterText,
  };
}

/** A query's filter: a GET's `filter` parameter, or the `filter` in the body of a POST to .search. */
function queryFilterText(
  method: string,
  isSearch: boolean,
  params: Map<string, string>,
  body: unknown,
): string | null {
  if (isSearch) return method === 'POST' ? asText(getKey(body, 'filter')) : null;
  if (method !== 'GET') return null;
  const f = params.get('filter');
  return f !== undefined && f.trim() !== '' ? f : null;
}

/** Which SCIM operation the request is, from its method, its target and (PUT, PATCH) its body. */
function operationOf(
  method: string,
  target: Target,
  isUserOrGroup: boolean,
  isSearch: boolean,
  filterText: string | null,
  ops: PatchOp[],
  body: unknown,
): OperationKind {
  const { resourceType } = target;
  if (target.extra || method === '') return 'other';
  if (
    resourceType === 'Schema' ||
    resourceType === 'ResourceType' ||
    resourceType === 'ServiceProviderConfig'
  ) {
    return method === 'GET' ? 'schemaDiscovery' : 'other';
  }
  if (!isUserOrGroup) return 'other';
  // POST .../Users/.search (RFC 7644 §3.4.3) is a query with the filter in the body
  if (isSearch) return method === 'POST' ? 'lookup' : 'other';
  if (method === 'GET') return target.id !== null ? 'read' : filterText !== null ? 'lookup' : 'list';
  if (method === 'POST') return target.id === null ? 'create' : 'other';
  if (target.id === null) return 'other';
  // a full replace that switches the account off is what Entra would call a disable
  if (method === 'PUT') return asBool(getKey(body, 'active')) === false ? 'disable' : 'update';
  if (method === 'PATCH') return patchKind(resourceType, ops);
  if (method === 'DELETE') return 'delete';
  return 'other';
}

/**
 * Entra's probe filters on a random GUID; a GUID that matches a resource is a real lookup (e.g. objectId
 * used as the matching attribute), because a random probe value never matches.
 */
function isConnectionProbe(filter: Comparison | null, resList: ListInfo | null): boolean {
  return (
    filter?.op === 'eq' &&
    filter.value !== null &&
    GUID.test(filter.value.trim()) &&
    !(resList && resList.resources.length > 0)
  );
}
