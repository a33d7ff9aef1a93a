// Turns one Exchange into one Operation (ARCHITECTURE §4). Pure: no I/O, no clock, never throws. Its parts:
// request-line.ts (path, query, filter), body.ts (captured bodies), patch.ts (PATCH operations and members),
// properties.ts (modified properties), judge.ts (success, failure or warning, and the error code), json.ts.

import { provisioningActionOf } from '../vocabulary.js';
import { asListResponse, type CapturedBody, DEFAULT_CAPTURE_LIMIT, type ListInfo, readBody } from './body.js';
import { isFormType } from './decode.js';
import { asBool, asText, attrName, getKey, isObject, num } from './json.js';
import { errorInfo, judge } from './judge.js';
import { memberChangeOf, memberIds, mergeMembers, patchKind, patchOps, patchValue } from './patch.js';
import { PropertyList } from './properties.js';
import { createRedactor, type Redactor } from './redact.js';
import { redactBodyText, scrubText, secretTexts } from './redact-text.js';
import {
  MAX_FILTER_CHARS,
  parseFilter,
  parseQuery,
  parseTarget,
  type Target,
  unparsedNote,
} from './request-line.js';
import { createScrubber, type Scrubber } from './scrub.js';
import { filterSecrets, formSecrets, querySecrets } from './secrets.js';
import {
  type ClassifyOptions,
  type ErrorCode,
  type Exchange,
  errorCodes,
  type IdentityType,
  type MemberChange,
  type Operation,
  type OperationKind,
} from './types.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_REASON = 1000;
const UNPARSED_BODY = '[body not kept: longer than scimtap parses]';

export function classify(exchange: Exchange, options: ClassifyOptions): Operation {
  try {
    return classifyExchange(exchange, options);
  } catch (err) {
    return fallbackOperation(exchange, err);
  }
}

// ---------------------------------------------------------------------------------------------------------
// the classifier

const SKIPPED_BODY_KEYS = new Set(['schemas', 'id', 'meta']);

function classifyExchange(ex: Exchange, options: ClassifyOptions): Operation {
  const capture = options?.capture === 'full' || options?.capture === 'none' ? options.capture : 'redacted';
  const isRedacted = createRedactor(Array.isArray(options?.redact) ? options.redact : undefined);
  const showSecrets = capture === 'full';

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
  const captureLimit =
    typeof options?.captureLimitBytes === 'number' && options.captureLimitBytes > 0
      ? options.captureLimitBytes
      : DEFAULT_CAPTURE_LIMIT;
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

  // --- operation
  let filterText: string | null = null;
  let operation: OperationKind = 'other';
  if (target.extra || method === '') {
    operation = 'other';
  } else if (
    resourceType === 'Schema' ||
    resourceType === 'ResourceType' ||
    resourceType === 'ServiceProviderConfig'
  ) {
    operation = method === 'GET' ? 'schemaDiscovery' : 'other';
  } else if (isUserOrGroup) {
    if (isSearch) {
      // POST .../Users/.search (RFC 7644 §3.4.3) is a query with the filter in the body
      if (method === 'POST') {
        filterText = asText(getKey(req.json, 'filter'));
        operation = 'lookup';
      }
    } else if (method === 'GET') {
      const f = params.get('filter');
      filterText = f !== undefined && f.trim() !== '' ? f : null;
      operation = target.id !== null ? 'read' : filterText !== null ? 'lookup' : 'list';
    } else if (method === 'POST') {
      operation = target.id === null ? 'create' : 'other';
    } else if (method === 'PUT' && target.id !== null) {
      // a full replace that switches the account off is what Entra would call a disable
      operation = asBool(getKey(req.json, 'active')) === false ? 'disable' : 'update';
    } else if (method === 'PATCH' && target.id !== null) {
      operation = patchKind(resourceType, ops);
    } else if (method === 'DELETE' && target.id !== null) {
      operation = 'delete';
    }
  }
  // What scimtap gave up on (issue 10), said in the reason; the forwarded bytes are never affected.
  const unparsed: string[] = [];
  if (filterText !== null && filterText.length > MAX_FILTER_CHARS) unparsed.push(unparsedNote('filter'));
  const filter = filterText !== null ? parseFilter(filterText) : null;
  // Entra's probe filters on a random GUID; a GUID that matches a resource is a real lookup (e.g. objectId
  // used as the matching attribute), because a random probe value never matches.
  if (
    operation === 'lookup' &&
    filter?.op === 'eq' &&
    filter.value !== null &&
    GUID.test(filter.value.trim()) &&
    !(resList && resList.resources.length > 0)
  ) {
    operation = 'testConnection';
  }
  const isFilterQuery = operation === 'lookup' || operation === 'testConnection';

  // --- status and error code
  const verdict = judge({
    ex,
    httpStatus,
    operation,
    isFilterQuery,
    isUserOrGroup,
    method,
    res,
    resList,
    params,
    filter,
    req,
  });
  let reason = verdict.reason;
  let scimType: string | null = null;
  if (verdict.status === 'failure' && verdict.fromHttp) {
    const info = errorInfo(res.json);
    scimType = info.scimType;
    reason = info.detail ?? reason;
  }
  // Secrets this exchange carried, wherever the app echoes them back (an error detail, an HTML error page).
  const scrub = exchangeScrubber(ex, req, filterText, isRedacted, showSecrets);
  if (reason !== null && !showSecrets) reason = scrubText(reason, isRedacted);
  if (reason !== null) reason = scrub(reason);
  if (reason !== null && reason.length > MAX_REASON) reason = `${reason.slice(0, MAX_REASON)}…`;

  // --- identity
  const identityType: IdentityType | null =
    operation === 'testConnection'
      ? null
      : resourceType === 'User'
        ? 'User'
        : resourceType === 'Group'
          ? 'Group'
          : null;
  let identity: string | null = null;
  let externalId: string | null = null;
  let targetId: string | null = null;
  if (identityType !== null) {
    const idAttr = identityType === 'User' ? 'username' : 'displayname';
    // 1. the request: POST/PUT bodies, PATCH ops that set the attribute
    if ((method === 'POST' && operation === 'create') || method === 'PUT') {
      identity = asText(getKey(req.json, idAttr));
      externalId = asText(getKey(req.json, 'externalId'));
    } else if (method === 'PATCH') {
      identity = patchValue(ops, idAttr);
      externalId = patchValue(ops, 'externalid');
    }
    // 2. the filter of a lookup
    if (filter?.op === 'eq' && filter.value !== null) {
      const a = attrName(filter.attribute);
      if (a === idAttr) identity ??= filter.value;
      if (a === 'externalid') externalId ??= filter.value;
      if (a === 'id') targetId = filter.value;
    }
    // 3. the path, else the resource the app answered with
    if (target.id !== null && !isSearch) targetId = target.id;
    if (httpStatus !== null && httpStatus >= 200 && httpStatus < 300 && res.parsed) {
      const resource = isFilterQuery || operation === 'list' ? singleResource(resList) : res.json;
      if (isObject(resource)) {
        identity ??= asText(getKey(resource, idAttr));
        externalId ??= asText(getKey(resource, 'externalId'));
        targetId ??= asText(getKey(resource, 'id'));
      }
    }
  }

  // --- modified properties and members
  const props = new PropertyList(isRedacted, showSecrets);
  let members: MemberChange[] = [];
  if ((operation === 'create' || method === 'PUT') && isUserOrGroup && isObject(req.json)) {
    for (const [k, v] of Object.entries(req.json)) {
      if (!SKIPPED_BODY_KEYS.has(k.toLowerCase())) props.addFlattened(k, v);
    }
    const m = getKey(req.json, 'members');
    if (resourceType === 'Group' && Array.isArray(m) && (method === 'PUT' || m.length > 0)) {
      members = [{ op: method === 'PUT' ? 'replace' : 'add', ids: memberIds(m) }];
    }
  } else if (method === 'PATCH' && isUserOrGroup) {
    for (const o of ops) {
      if (o.path !== null) props.addFlattened(o.path, o.hasValue ? o.value : null);
      else if (isObject(o.value)) for (const [k, v] of Object.entries(o.value)) props.addFlattened(k, v);
    }
    if (resourceType === 'Group') {
      members = mergeMembers(ops.map(memberChangeOf).filter((c): c is MemberChange => c !== null));
    }
  }

  // --- captured bodies
  const bodyOut = (b: CapturedBody): string | null => {
    if (capture === 'none' || b.text === null || b.text === '') return null;
    if (b.unparsed === 'long') return UNPARSED_BODY;
    const kept = scrub(showSecrets ? b.text : redactBodyText(b.text, isRedacted), b.truncated);
    // an inflated body is kept to the capture limit, like any other
    return kept.length > captureLimit ? `${kept.slice(0, captureLimit)}…` : kept;
  };
  const opt = (v: string | null) => (v === null ? null : scrub(v));
  if (props.overlong) unparsed.push(unparsedNote('attribute'));
  if (req.unparsed) unparsed.push(unparsedNote('request body', req.unparsed));
  if (res.unparsed) unparsed.push(unparsedNote('response body', res.unparsed));
  if (unparsed.length > 0)
    reason = reason === null ? unparsed.join('; ') : `${reason}; ${unparsed.join('; ')}`;

  return {
    time: num(ex.startedAt),
    durationMs: num(ex.durationMs),
    httpMethod: String(ex.method ?? ''),
    path: scrub(String(ex.path ?? '')),
    query: scrub(String(ex.query ?? '')),
    httpStatus,
    resourceType,
    operation,
    provisioningAction: provisioningActionOf[operation],
    status: verdict.status,
    identityType,
    identity: opt(identity),
    externalId: opt(externalId),
    targetId: opt(targetId),
    errorCode: verdict.errorCode,
    scimType: opt(scimType),
    reason,
    modifiedProperties: scrub.active
      ? props.items.map((p) => ({ ...p, name: scrub(p.name), value: scrub(p.value) }))
      : props.items,
    members: scrub.active ? members.map((m) => ({ ...m, ids: m.ids.map((id) => scrub(id)) })) : members,
    requestBytes: num(ex.requestBytes),
    responseBytes: num(ex.responseBytes),
    tokenFingerprint: ex.tokenFingerprint ?? null,
    clientIp: ex.clientIp ?? null,
    userAgent: typeof ex.userAgent === 'string' ? scrub(ex.userAgent) : null,
    requestBody: bodyOut(req),
    responseBody: bodyOut(res),
  };
}

/**
 * One scrubber for everything this exchange recorded, over every secret it carried: the Authorization
 * credential and a long body's values (from the proxy), credential parameters of the query, and unless capture
 * is `full`, the values of redacted attributes in the query, a filter and the request body (JSON or form).
 */
function exchangeScrubber(
  ex: Exchange,
  req: CapturedBody,
  filterText: string | null,
  isRedacted: Redactor,
  showSecrets: boolean,
): Scrubber {
  const secrets: string[] = [];
  if (Array.isArray(ex.credentials)) for (const c of ex.credentials) secrets.push(c);
  secrets.push(...querySecrets(String(ex.query ?? ''), showSecrets ? null : isRedacted));
  const text = req.text;
  if (text) {
    if (isFormType(ex.requestContentType)) {
      secrets.push(...formSecrets(text, showSecrets ? null : isRedacted));
    } else if (!showSecrets) {
      // JSON escapes (\u0070) could spell a name without its letters, so such bodies are always scanned
      const mayHold = !isRedacted.mentionedIn || text.includes('\\u') || isRedacted.mentionedIn(text);
      if (mayHold) secrets.push(...secretTexts(text, isRedacted));
    }
  }
  if (filterText !== null && !showSecrets) secrets.push(...filterSecrets(filterText, isRedacted));
  return createScrubber(secrets);
}

function singleResource(list: ListInfo | null): unknown {
  return list && list.resources.length === 1 ? list.resources[0] : null;
}

/** Used only if classification itself failed: metadata kept, bodies dropped (they might hold secrets). */
function fallbackOperation(ex: Exchange, err: unknown): Operation {
  const safe = <T>(f: () => T, d: T): T => {
    try {
      return f() ?? d;
    } catch {
      return d;
    }
  };
  const httpStatus = safe(() => (Number.isInteger(ex.httpStatus) ? (ex.httpStatus as number) : null), null);
  const failure = safe(() => ex.failure, null);
  const errorCode: ErrorCode | null = safe(
    () => (failure && (errorCodes as readonly string[]).includes(failure) ? (failure as ErrorCode) : null),
    null,
  );
  const ok2xx = httpStatus !== null && httpStatus >= 200 && httpStatus < 300 && !failure;
  return {
    time: safe(() => num(ex.startedAt), 0),
    durationMs: safe(() => num(ex.durationMs), 0),
    httpMethod: safe(() => String(ex.method ?? ''), ''),
    // the query may hold a secret we could not work out: keep only the path, scrubbed of the credential
    path: safe(() => createScrubber(ex.credentials ?? [])(String(ex.path ?? '')), ''),
    query: '',
    httpStatus,
    resourceType: 'Other',
    operation: 'other',
    provisioningAction: 'other',
    status: ok2xx ? 'success' : 'failure',
    identityType: null,
    identity: null,
    externalId: null,
    targetId: null,
    errorCode,
    scimType: null,
    reason: safe(
      () => `scimtap could not classify this exchange: ${String((err as Error)?.message ?? err)}`,
      null,
    ),
    modifiedProperties: [],
    members: [],
    requestBytes: safe(() => num(ex.requestBytes), 0),
    responseBytes: safe(() => num(ex.responseBytes), 0),
    tokenFingerprint: safe(
      () => (typeof ex.tokenFingerprint === 'string' ? ex.tokenFingerprint : null),
      null,
    ),
    clientIp: safe(() => (typeof ex.clientIp === 'string' ? ex.clientIp : null), null),
    userAgent: safe(() => (typeof ex.userAgent === 'string' ? ex.userAgent : null), null),
    requestBody: null,
    responseBody: null,
  };
}
