// Turns one Exchange into one Operation (ARCHITECTURE §4). Pure: no I/O, no clock, never throws.

import { errorCodeOfHttpStatus, provisioningActionOf } from '../vocabulary.js';
import { decodeBody, isFormType } from './decode.js';
import {
  createRedactor,
  jsonDeeperThan,
  MAX_JSON_DEPTH,
  MAX_NAME_CHARS,
  REDACTED,
  type Redactor,
  redactBodyText,
  redactJson,
  scrubText,
  secretTexts,
} from './redact.js';
import { createScrubber, type Scrubber } from './scrub.js';
import { filterSecrets, formSecrets, querySecrets } from './secrets.js';
import {
  type ClassifyOptions,
  type ErrorCode,
  type Exchange,
  errorCodes,
  type IdentityType,
  type MemberChange,
  type ModifiedProperty,
  type Operation,
  type OperationKind,
  type OperationStatus,
  type ResourceType,
} from './types.js';

// Map, not an object literal: a path segment like `constructor` must not hit Object.prototype.
const RESOURCE_SEGMENTS = new Map<string, ResourceType>([
  ['users', 'User'],
  ['groups', 'Group'],
  ['schemas', 'Schema'],
  ['serviceproviderconfig', 'ServiceProviderConfig'],
  ['serviceproviderconfigs', 'ServiceProviderConfig'],
  ['resourcetypes', 'ResourceType'],
  ['bulk', 'Bulk'],
]);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LIST_RESPONSE_URN = 'urn:ietf:params:scim:api:messages:2.0:listresponse';
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
// small tolerant helpers

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** SCIM attribute names are case-insensitive (RFC 7643 §2.1). */
function getKey(obj: unknown, name: string): unknown {
  if (!isObject(obj)) return undefined;
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

function hasKey(obj: Json, name: string): boolean {
  const lower = name.toLowerCase();
  return Object.keys(obj).some((k) => k.toLowerCase() === lower);
}

function asText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** Entra's 2017 dialect sends booleans as "True"/"False". */
function asBool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  return null;
}

/** `urn:ietf:params:scim:schemas:core:2.0:User:userName` → `username`. */
function attrName(path: string): string {
  const i = path.lastIndexOf(':');
  return (i >= 0 ? path.slice(i + 1) : path).trim().toLowerCase();
}

/** decodeURIComponent that leaves malformed escapes (`%ZZ`, broken UTF-8) as they were. */
export function safeDecode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// request line

interface Target {
  resourceType: ResourceType;
  /** decoded segment after the resource segment */
  id: string | null;
  /** more segments after the id: a sub-resource we do not know */
  extra: boolean;
}

/** The last resource segment wins, so any upstream base path (`/scim/v2/...`) works. */
export function parseTarget(path: string): Target {
  const segs = String(path)
    .split('/')
    .filter((s) => s !== '');
  for (let i = segs.length - 1; i >= 0; i--) {
    const type = RESOURCE_SEGMENTS.get(safeDecode(segs[i]).trim().toLowerCase());
    if (type) {
      return {
        resourceType: type,
        id: i + 1 < segs.length ? safeDecode(segs[i + 1]) : null,
        extra: i + 2 < segs.length,
      };
    }
  }
  return { resourceType: 'Other', id: null, extra: false };
}

/** Query parameters, names lower-cased; a repeated parameter keeps its first non-empty value. */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = String(query).replace(/^\?/, '');
  if (q === '') return out;
  for (const part of q.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq >= 0 ? part.slice(0, eq) : part;
    const rawValue = eq >= 0 ? part.slice(eq + 1) : '';
    // form encoding: `+` is a space (Entra sends `filter=userName+eq+%22...%22`)
    const name = safeDecode(rawName.replace(/\+/g, ' ')).trim().toLowerCase();
    const value = safeDecode(rawValue.replace(/\+/g, ' '));
    if (!out.get(name)) out.set(name, value);
  }
  return out;
}

export interface Comparison {
  attribute: string;
  /** lower-case operator: eq, ne, co, sw, ew, gt, lt, ge, le, pr */
  op: string;
  value: string | null;
}

/**
 * Parse caps (issue 10): input longer than these is not parsed at all, and the operation's reason says so
 * (`unparsedNote`). Every parser below is also linear, so the caps bound the work of one request rather than
 * hide a quadratic one. Entra's filters and attribute paths are a few dozen characters.
 */
export const MAX_FILTER_CHARS = 4_096;
export const MAX_ATTRIBUTE_PATH_CHARS = MAX_NAME_CHARS;
/** captured body text parsed as JSON at most; the default capture limit (64 KiB) is well under it */
export const MAX_PARSED_BODY_CHARS = 1_048_576;

/** What the reason of an operation says when scimtap gave up on part of it; always starts "scimtap did not parse". */
export function unparsedNote(
  what: 'filter' | 'attribute' | 'request body' | 'response body',
  why: 'long' | 'deep' = 'long',
): string {
  if (why === 'deep') return `scimtap did not parse the ${what}: nested deeper than ${MAX_JSON_DEPTH} levels`;
  const cap =
    what === 'filter'
      ? `${MAX_FILTER_CHARS} characters`
      : what === 'attribute'
        ? `${MAX_ATTRIBUTE_PATH_CHARS} characters`
        : `${MAX_PARSED_BODY_CHARS} characters`;
  const subject = what === 'attribute' ? 'an attribute name' : `the ${what}`;
  return `scimtap did not parse ${subject}: longer than ${cap}`;
}

// JavaScript's \s, one character at a time (the regex parser this replaces used \s).
const SPACE = /\s/;
const isSpace = (c: string | undefined) => c !== undefined && SPACE.test(c);
const isLetter = (c: string | undefined) =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));

/**
 * The first comparison of a SCIM filter: `userName eq "ada@example.com"` is all Entra sends. A hand parser
 * rather than scimmy's Filter, which throws on input like an escaped quote and loads its whole library. One
 * pass, no backtracking: a regex here took seconds on 64k spaces. Null past `maxChars` (MAX_FILTER_CHARS).
 */
export function parseFilter(filter: string, maxChars = MAX_FILTER_CHARS): Comparison | null {
  const text = String(filter);
  if (text.length > maxChars) return null;
  const n = text.length;
  let i = 0;
  while (i < n && isSpace(text[i])) i++;
  if (text[i] === '(') i++;
  while (i < n && isSpace(text[i])) i++;
  const attrStart = i;
  while (i < n && !isSpace(text[i]) && text[i] !== '(' && text[i] !== ')' && text[i] !== '"') i++;
  if (i === attrStart) return null;
  const attribute = text.slice(attrStart, i);
  if (!isSpace(text[i])) return null;
  while (i < n && isSpace(text[i])) i++;
  if (!isLetter(text[i]) || !isLetter(text[i + 1])) return null;
  const op = text.slice(i, i + 2).toLowerCase();
  i += 2;
  if (i < n && !isSpace(text[i]) && text[i] !== '"') return null;
  while (i < n && isSpace(text[i])) i++;
  if (op === 'pr') return { attribute, op, value: null };
  if (text[i] === '"') {
    // runs between escapes are sliced whole: a character at a time allocates per character
    const out: string[] = [];
    i++;
    let run = i;
    while (i < n) {
      const c = text[i];
      if (c === '"') break;
      if (c !== '\\' || i + 1 >= n) {
        i++;
        continue;
      }
      if (i > run) out.push(text.slice(run, i));
      const e = text[i + 1];
      const hex = text.slice(i + 2, i + 6);
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(hex)) {
        out.push(String.fromCharCode(Number.parseInt(hex, 16)));
        i += 6;
      } else {
        out.push(e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e);
        i += 2;
      }
      run = i;
    }
    if (i > run) out.push(text.slice(run, Math.min(i, n)));
    return { attribute, op, value: out.join('') };
  }
  const valueStart = i;
  while (i < n && !isSpace(text[i]) && text[i] !== '(' && text[i] !== ')') i++;
  return { attribute, op, value: i > valueStart ? text.slice(valueStart, i) : null };
}

// ---------------------------------------------------------------------------------------------------------
// bodies

interface Body {
  /** captured, decoded text; null when not captured or empty */
  text: string | null;
  /**
   * `unparsed`: captured but not parsed, because longer than MAX_PARSED_BODY_CHARS (the text is not kept either)
   * or nested deeper than MAX_JSON_DEPTH (kept, redacted by the tolerant scanner).
   * `undecodable`: compressed past the inflate cap (a bomb) or in an unknown coding: it cannot be judged.
   */
  state: 'empty' | 'uncaptured' | 'truncated' | 'captured' | 'unparsed' | 'undecodable';
  unparsed?: 'long' | 'deep';
  /** parsed JSON when the whole body was captured and parses */
  json: unknown;
  parsed: boolean;
  /** the text is a prefix of the body */
  truncated: boolean;
}

const DEFAULT_CAPTURE_LIMIT = 65_536;

function readBody(
  buf: Buffer | null,
  bytes: number,
  truncated: boolean,
  encoding: string | null | undefined,
  contentType: string | null | undefined,
  captureLimit: number,
): Body {
  const has = buf != null && buf.length > 0;
  if (!has)
    return {
      text: null,
      state: bytes > 0 ? 'uncaptured' : 'empty',
      json: undefined,
      parsed: false,
      truncated,
    };
  const bytesIn = Buffer.isBuffer(buf) ? buf : Buffer.from(buf);
  const decoded = decodeBody(bytesIn, encoding, contentType, truncated, captureLimit * 4);
  if (decoded.text === null)
    return {
      text: `[body not decoded: ${decoded.undecodable}]`,
      state: 'undecodable',
      json: undefined,
      parsed: false,
      truncated,
    };
  const text = decoded.text;
  if (text.length > MAX_PARSED_BODY_CHARS)
    return {
      text,
      state: 'unparsed',
      unparsed: 'long',
      json: undefined,
      parsed: false,
      truncated: decoded.truncated,
    };
  if (decoded.truncated) return { text, state: 'truncated', json: undefined, parsed: false, truncated: true };
  // V8's JSON.parse slows down faster than the text grows on deep nesting (64k `[`: 10 ms and climbing)
  if (jsonDeeperThan(text, MAX_JSON_DEPTH))
    return { text, state: 'unparsed', unparsed: 'deep', json: undefined, parsed: false, truncated: false };
  try {
    return {
      text,
      state: 'captured',
      json: JSON.parse(text.replace(/^\uFEFF/, '')),
      parsed: true,
      truncated: false,
    };
  } catch {
    return { text, state: 'captured', json: undefined, parsed: false, truncated: false };
  }
}

interface ListInfo {
  resources: unknown[];
}

function asListResponse(v: unknown): ListInfo | null {
  if (!isObject(v)) return null;
  const resources = getKey(v, 'Resources');
  if (Array.isArray(resources)) return { resources };
  if (resources != null) return null;
  const schemas = getKey(v, 'schemas');
  const hasSchema =
    Array.isArray(schemas) &&
    schemas.some((s) => typeof s === 'string' && s.toLowerCase() === LIST_RESPONSE_URN);
  const total = Number(getKey(v, 'totalResults'));
  // RFC 7644 §3.4.2: Resources may be left out only when there are no results
  if (total === 0 || (hasSchema && getKey(v, 'totalResults') === undefined)) return { resources: [] };
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// PATCH

interface PatchOp {
  op: string;
  path: string | null;
  value: unknown;
  hasValue: boolean;
}

function patchOps(body: unknown): PatchOp[] {
  const ops = getKey(body, 'Operations');
  if (!Array.isArray(ops)) return [];
  const out: PatchOp[] = [];
  for (const o of ops) {
    if (!isObject(o)) continue;
    const path = getKey(o, 'path');
    out.push({
      op: String(asText(getKey(o, 'op')) ?? '')
        .trim()
        .toLowerCase(),
      path: typeof path === 'string' && path.trim() !== '' ? path.trim() : null,
      value: getKey(o, 'value'),
      hasValue: hasKey(o, 'value'),
    });
  }
  return out;
}

/** Last `active` set by the ops, whether as path `active` or inside a path-less value object. */
function patchActive(ops: PatchOp[]): boolean | null {
  let active: boolean | null = null;
  for (const o of ops) {
    if (o.op !== 'add' && o.op !== 'replace') continue;
    if (o.path !== null) {
      if (attrName(o.path) === 'active') active = asBool(o.value) ?? active;
    } else if (isObject(o.value) && hasKey(o.value, 'active')) {
      active = asBool(getKey(o.value, 'active')) ?? active;
    }
  }
  return active;
}

function memberIds(v: unknown): string[] {
  const items = Array.isArray(v) ? v : v == null ? [] : [v];
  const ids: string[] = [];
  for (const item of items) {
    const id = asText(isObject(item) ? getKey(item, 'value') : item);
    if (id !== null) ids.push(id);
  }
  return ids;
}

/** A member change when the op touches only `members`; null when it touches anything else. */
function memberChangeOf(o: PatchOp): MemberChange | null {
  if (o.op !== 'add' && o.op !== 'remove' && o.op !== 'replace') return null;
  if (o.path !== null) {
    // indexOf rather than /\[(.*)\]/: that regex is quadratic on a path of many `[` and no `]`
    const open = o.path.indexOf('[');
    const close = o.path.lastIndexOf(']');
    const p = attrName(open >= 0 ? o.path.slice(0, open) : o.path);
    if (p !== 'members') return null;
    if (open >= 0 && close > open) {
      // 2020 dialect: `members[value eq "u-1"]`, no value
      const c = parseFilter(o.path.slice(open + 1, close));
      const ids = c && attrName(c.attribute) === 'value' && c.value !== null ? [c.value] : [];
      return { op: o.op, ids: [...ids, ...memberIds(o.value)] };
    }
    return { op: o.op, ids: memberIds(o.value) };
  }
  if (isObject(o.value)) {
    const keys = Object.keys(o.value);
    if (keys.length > 0 && keys.every((k) => attrName(k) === 'members')) {
      return { op: o.op, ids: memberIds(getKey(o.value, 'members')) };
    }
  }
  return null;
}

/** One entry per kind, in the order the kinds first appear. */
function mergeMembers(changes: MemberChange[]): MemberChange[] {
  const out: MemberChange[] = [];
  for (const c of changes) {
    const same = out.find((m) => m.op === c.op);
    // a loop, not push(...ids): spreading a hostile 100k-id array overflows the call stack
    if (same) for (const id of c.ids) same.ids.push(id);
    else out.push({ op: c.op, ids: [...c.ids] });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// modified properties

class PropertyList {
  readonly items: ModifiedProperty[] = [];
  /** a name over MAX_ATTRIBUTE_PATH_CHARS was seen: its value is hidden, not rendered */
  overlong = false;
  constructor(
    private readonly isRedacted: Redactor,
    private readonly showSecrets: boolean,
  ) {}

  /** Complex values are flattened one level (`name.givenName`; `urn:...:User:employeeNumber`). */
  addFlattened(name: string, value: unknown): void {
    if (
      isObject(value) &&
      name.length <= MAX_ATTRIBUTE_PATH_CHARS &&
      Object.keys(value).length > 0 &&
      !this.hidden(name)
    ) {
      const sep = name.toLowerCase().startsWith('urn:') ? ':' : '.';
      for (const [k, v] of Object.entries(value)) this.add(`${name}${sep}${k}`, v);
    } else {
      this.add(name, value);
    }
  }

  add(name: string, value: unknown): void {
    if (name.length > MAX_ATTRIBUTE_PATH_CHARS) {
      this.overlong = true;
      this.items.push({ name, value: REDACTED, redacted: true });
    } else if (this.hidden(name)) this.items.push({ name, value: REDACTED, redacted: true });
    else this.items.push({ name, value: this.render(value) });
  }

  private hidden(name: string): boolean {
    return !this.showSecrets && this.isRedacted(name);
  }

  private render(v: unknown): string {
    if (v === null || v === undefined) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    try {
      return JSON.stringify(this.showSecrets ? v : redactJson(v, this.isRedacted).value) ?? '';
    } catch {
      return '[unrenderable]';
    }
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
  const bodyOut = (b: Body): string | null => {
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
  req: Body,
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

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function patchKind(resourceType: ResourceType, ops: PatchOp[]): OperationKind {
  if (resourceType === 'User') {
    const active = patchActive(ops);
    return active === false ? 'disable' : active === true ? 'enable' : 'update';
  }
  const changes = ops.map(memberChangeOf);
  if (changes.length === 0 || changes.some((c) => c === null)) return 'update';
  // several kinds in one PATCH: the first op names it, `members` records them all
  const first = (changes[0] as MemberChange).op;
  return first === 'add' ? 'addMembers' : first === 'remove' ? 'removeMembers' : 'replaceMembers';
}

/** The value a PATCH sets for a simple attribute (`userName`, `displayName`, `externalId`), if any. */
function patchValue(ops: PatchOp[], attr: string): string | null {
  let found: string | null = null;
  for (const o of ops) {
    if (o.op !== 'add' && o.op !== 'replace') continue;
    if (o.path !== null && attrName(o.path) === attr) found = asText(o.value) ?? found;
    else if (o.path === null && isObject(o.value)) {
      for (const [k, v] of Object.entries(o.value)) if (attrName(k) === attr) found = asText(v) ?? found;
    }
  }
  return found;
}

function singleResource(list: ListInfo | null): unknown {
  return list && list.resources.length === 1 ? list.resources[0] : null;
}

function errorInfo(body: unknown): { detail: string | null; scimType: string | null } {
  if (!isObject(body)) return { detail: null, scimType: null };
  const errors = getKey(body, 'Errors');
  // SCIM 1.1 apps answer {"Errors":[{"description":..., "code":...}]}
  const legacy =
    Array.isArray(errors) && isObject(errors[0]) ? asText(getKey(errors[0], 'description')) : null;
  const detail = asText(getKey(body, 'detail')) ?? asText(getKey(body, 'message')) ?? legacy;
  return { detail: detail?.trim() ? detail : null, scimType: asText(getKey(body, 'scimType')) };
}

interface Verdict {
  status: OperationStatus;
  errorCode: ErrorCode | null;
  /** scimtap's own words; replaced by the SCIM error body's detail when `fromHttp` */
  reason: string | null;
  fromHttp: boolean;
}

interface JudgeInput {
  ex: Exchange;
  httpStatus: number | null;
  operation: OperationKind;
  isFilterQuery: boolean;
  isUserOrGroup: boolean;
  method: string;
  req: Body;
  res: Body;
  resList: ListInfo | null;
  params: Map<string, string>;
  filter: Comparison | null;
}

const FAILURE_REASONS = new Map<string, string>([
  ['UpstreamUnreachable', 'upstream unreachable'],
  ['Timeout', 'upstream did not answer in time'],
  ['ClientAborted', 'the client closed the connection before the answer'],
  ['ClientThrottled', 'scimtap refused the request: the client was over its share of upstream connections'],
]);

function judge(j: JudgeInput): Verdict {
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

function ok(): Verdict {
  return { status: 'success', errorCode: null, reason: null, fromHttp: false };
}

function excludesMembers(j: JudgeInput): boolean {
  const fromQuery = j.params.get('excludedattributes');
  const fromBody = getKey(j.req.json, 'excludedAttributes');
  const list = [
    ...(fromQuery ? fromQuery.split(',') : []),
    ...(Array.isArray(fromBody) ? fromBody : typeof fromBody === 'string' ? fromBody.split(',') : []),
  ];
  return list.some((a) => typeof a === 'string' && attrName(a) === 'members');
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
