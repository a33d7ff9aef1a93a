// Turns one Exchange into one Operation (ARCHITECTURE §4). Pure: no I/O, no clock, never throws. Its parts:
// reading.ts (what the exchange asked for, and which operation it is), request-line.ts (path, query, filter),
// body.ts (captured bodies), patch.ts (PATCH operations and members), properties.ts (modified properties),
// judge.ts (success, failure or warning, and the error code), json.ts.

import { provisioningActionOf } from '../vocabulary.js';
import { type CapturedBody, DEFAULT_CAPTURE_LIMIT, type ListInfo } from './body.js';
import { isFormType } from './decode.js';
import { asText, attrName, getKey, isObject, type Json, num } from './json.js';
import { errorInfo, judge } from './judge.js';
import { memberChangeOf, memberIds, mergeMembers, patchValue } from './patch.js';
import { PropertyList } from './properties.js';
import { type Reading, readExchange } from './reading.js';
import { createRedactor, type Redactor } from './redact.js';
import { redactBodyText, scrubText, secretTexts } from './redact-text.js';
import { type Comparison, MAX_FILTER_CHARS, unparsedNote } from './request-line.js';
import { createScrubber, type Scrubber } from './scrub.js';
import { filterSecrets, formSecrets, querySecrets } from './secrets.js';
import {
  type CaptureMode,
  type ClassifyOptions,
  type ErrorCode,
  type Exchange,
  errorCodes,
  type IdentityType,
  type MemberChange,
  type Operation,
  type OperationKind,
  type ResourceType,
} from './types.js';

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

/** Reads the exchange (reading.ts), judges it, and records who it is about, what it changed, what is kept. */
function classifyExchange(ex: Exchange, options: ClassifyOptions): Operation {
  const capture = options?.capture === 'full' || options?.capture === 'none' ? options.capture : 'redacted';
  const isRedacted = createRedactor(Array.isArray(options?.redact) ? options.redact : undefined);
  const showSecrets = capture === 'full';
  const captureLimit =
    typeof options?.captureLimitBytes === 'number' && options.captureLimitBytes > 0
      ? options.captureLimitBytes
      : DEFAULT_CAPTURE_LIMIT;
  const r = readExchange(ex, captureLimit);
  const { httpStatus, operation, req, res } = r;
  const { resourceType } = r.target;

  // --- status and error code
  const verdict = judge(r);
  let reason = verdict.reason;
  let scimType: string | null = null;
  if (verdict.status === 'failure' && verdict.fromHttp) {
    const info = errorInfo(res.json);
    scimType = info.scimType;
    reason = info.detail ?? reason;
  }
  // Secrets this exchange carried, wherever the app echoes them back (an error detail, an HTML error page).
  const scrub = exchangeScrubber(ex, req, r.filterText, isRedacted, showSecrets);
  if (reason !== null && !showSecrets) reason = scrubText(reason, isRedacted);
  if (reason !== null) reason = scrub(reason);
  if (reason !== null && reason.length > MAX_REASON) reason = `${reason.slice(0, MAX_REASON)}…`;

  // --- identity
  const identityType = identityTypeOf(operation, resourceType);
  let identity: string | null = null;
  let externalId: string | null = null;
  let targetId: string | null = null;
  if (identityType !== null) {
    const idAttr = identityType === 'User' ? 'username' : 'displayname';
    const matched = matchedAttribute(r.filter);
    const answered = answeredResource(r);
    identity = identifyingValue(r, idAttr, idAttr, matched, answered);
    externalId = identifyingValue(r, 'externalId', 'externalid', matched, answered);
    targetId = targetIdOf(r, matched, answered);
  }

  // --- modified properties and members
  const props = modifiedProperties(r, isRedacted, showSecrets);
  const members = memberChanges(r);
  reason = withUnparsedNotes(reason, r, props);

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
    identity: scrubOrNull(scrub, identity),
    externalId: scrubOrNull(scrub, externalId),
    targetId: scrubOrNull(scrub, targetId),
    errorCode: verdict.errorCode,
    scimType: scrubOrNull(scrub, scimType),
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
    requestBody: keptBody(req, capture, scrub, isRedacted, showSecrets, captureLimit),
    responseBody: keptBody(res, capture, scrub, isRedacted, showSecrets, captureLimit),
  };
}

// ---------------------------------------------------------------------------------------------------------
// who it is about, and what it changed

/** Whom the exchange is about: a user or a group, but not Entra's connection test (its GUID names no one). */
function identityTypeOf(operation: OperationKind, resourceType: ResourceType): IdentityType | null {
  if (operation === 'testConnection') return null;
  return resourceType === 'User' ? 'User' : resourceType === 'Group' ? 'Group' : null;
}

/** The attribute an equality filter matched on (lower-cased), if the query had one. */
function matchedAttribute(filter: Comparison | null): string | null {
  return filter?.op === 'eq' && filter.value !== null ? attrName(filter.attribute) : null;
}

/** The user or group a successful answer carried: its body, or a query's single result. */
function answeredResource(r: Reading): Json | null {
  const s = r.httpStatus;
  if (s === null || s < 200 || s >= 300 || !r.res.parsed) return null;
  const resource = r.isFilterQuery || r.operation === 'list' ? singleResource(r.resList) : r.res.json;
  return isObject(resource) ? resource : null;
}

/**
 * An identifying attribute (`key` as in a body, `attr` lower-cased as PATCH paths and filters are compared):
 * what the request set, else what an equality filter matched, else what the app answered with.
 */
function identifyingValue(
  r: Reading,
  key: string,
  attr: string,
  matched: string | null,
  answered: Json | null,
): string | null {
  return (
    requestedValue(r, key, attr) ??
    (matched === attr ? r.filter!.value : null) ??
    (answered !== null ? asText(getKey(answered, key)) : null)
  );
}

/** What the request itself set: the attribute of a POST (create) or PUT body, or what a PATCH sets it to. */
function requestedValue(r: Reading, key: string, attr: string): string | null {
  if ((r.method === 'POST' && r.operation === 'create') || r.method === 'PUT') {
    return asText(getKey(r.req.json, key));
  }
  return r.method === 'PATCH' ? patchValue(r.ops, attr) : null;
}

/** The resource's id: from the path, else what an equality filter on `id` matched, else the app's answer. */
function targetIdOf(r: Reading, matched: string | null, answered: Json | null): string | null {
  return (
    (r.target.id !== null && !r.isSearch ? r.target.id : null) ??
    (matched === 'id' ? r.filter!.value : null) ??
    (answered !== null ? asText(getKey(answered, 'id')) : null)
  );
}

const SKIPPED_BODY_KEYS = new Set(['schemas', 'id', 'meta']);

/** The attributes a create, a PUT or a PATCH of a user or group sets. */
function modifiedProperties(r: Reading, isRedacted: Redactor, showSecrets: boolean): PropertyList {
  const props = new PropertyList(isRedacted, showSecrets);
  const { method, req } = r;
  if ((r.operation === 'create' || method === 'PUT') && r.isUserOrGroup && isObject(req.json)) {
    for (const [k, v] of Object.entries(req.json)) {
      if (!SKIPPED_BODY_KEYS.has(k.toLowerCase())) props.addFlattened(k, v);
    }
  } else if (method === 'PATCH' && r.isUserOrGroup) {
    for (const o of r.ops) {
      if (o.path !== null) props.addFlattened(o.path, o.hasValue ? o.value : null);
      else if (isObject(o.value)) for (const [k, v] of Object.entries(o.value)) props.addFlattened(k, v);
    }
  }
  return props;
}

/** The members a create, a PUT or a PATCH of a group adds, removes or replaces. */
function memberChanges(r: Reading): MemberChange[] {
  const { method, req } = r;
  if (r.target.resourceType !== 'Group') return [];
  if ((r.operation === 'create' || method === 'PUT') && isObject(req.json)) {
    const m = getKey(req.json, 'members');
    if (Array.isArray(m) && (method === 'PUT' || m.length > 0)) {
      return [{ op: method === 'PUT' ? 'replace' : 'add', ids: memberIds(m) }];
    }
  } else if (method === 'PATCH') {
    return mergeMembers(r.ops.map(memberChangeOf).filter((c): c is MemberChange => c !== null));
  }
  return [];
}

// ---------------------------------------------------------------------------------------------------------
// what is kept

/** What scimtap gave up on (issue 10), said in the reason; the forwarded bytes are never affected. */
function withUnparsedNotes(reason: string | null, r: Reading, props: PropertyList): string | null {
  const unparsed: string[] = [];
  if (r.filterText !== null && r.filterText.length > MAX_FILTER_CHARS) unparsed.push(unparsedNote('filter'));
  if (props.overlong) unparsed.push(unparsedNote('attribute'));
  if (r.req.unparsed) unparsed.push(unparsedNote('request body', r.req.unparsed));
  if (r.res.unparsed) unparsed.push(unparsedNote('response body', r.res.unparsed));
  if (unparsed.length === 0) return reason;
  return reason === null ? unparsed.join('; ') : `${reason}; ${unparsed.join('; ')}`;
}

/** A captured body as recorded: nothing, a note that it was too long to parse, or its text, scrubbed. */
function keptBody(
  b: CapturedBody,
  capture: CaptureMode,
  scrub: Scrubber,
  isRedacted: Redactor,
  showSecrets: boolean,
  captureLimit: number,
): string | null {
  if (capture === 'none' || b.text === null || b.text === '') return null;
  if (b.unparsed === 'long') return UNPARSED_BODY;
  // A body that parsed is redacted from that parse: readBody parsed this very text.
  const known = b.parsed ? { json: b.json } : undefined;
  const kept = scrub(showSecrets ? b.text : redactBodyText(b.text, isRedacted, known), b.truncated);
  // an inflated body is kept to the capture limit, like any other
  return kept.length > captureLimit ? `${kept.slice(0, captureLimit)}…` : kept;
}

function scrubOrNull(scrub: Scrubber, v: string | null): string | null {
  return v === null ? null : scrub(v);
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
