import {
  type AttrPath,
  canonicalName,
  coerceBooleans,
  type Doc,
  findKey,
  isCoreSchema,
  isObject,
  withUrn,
} from './attributes.js';
import { badRequest } from './errors.js';
import { type Comparison, matchesAll, parseFilter } from './filter.js';

export type PatchOpName = 'add' | 'replace' | 'remove';

/** `[urn:...:]attr[filter][.sub]`, e.g. `emails[type eq "work"].value` or `members[value eq "u-1"]`. */
export interface PatchPath extends AttrPath {
  filter?: Comparison[];
}

/** One operation after normalisation: lower-case op, parsed path, "True"/"False" turned into booleans. */
export interface PatchOperation {
  op: PatchOpName;
  path: PatchPath;
  value?: unknown;
}

const OPS = new Set<string>(['add', 'replace', 'remove']);
const PATCH_PATH = /^(?:(urn:[^\s[\]]+):)?([A-Za-z$][\w$-]*)(?:\[(.*)\])?(?:\.([A-Za-z$][\w$-]*))?$/s;

export function parsePatchPath(text: string): PatchPath {
  const m = PATCH_PATH.exec(text.trim());
  if (!m) throw badRequest(`Invalid path ${JSON.stringify(text)}`, 'invalidPath');
  const path: PatchPath = withUrn(m[1], m[2]!, m[4]);
  if (m[3] !== undefined) path.filter = parseFilter(m[3]);
  return path;
}

/**
 * Accepts both of Entra's PATCH dialects: `Replace` with "False" strings, and lower-case ops whose path-less
 * value is an object of (possibly dotted or URN-prefixed) attributes. Path-less ops are expanded into one
 * operation per attribute, so appliers only see operations with a path.
 */
export function parsePatchOp(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw badRequest('PATCH body must be a PatchOp JSON object', 'invalidSyntax');
  const list = body[findKey(body, 'Operations') ?? 'Operations'];
  if (!Array.isArray(list) || list.length === 0) {
    throw badRequest('PatchOp must have a non-empty "Operations" array', 'invalidSyntax');
  }
  const out: PatchOperation[] = [];
  for (const raw of list) {
    if (!isObject(raw)) throw badRequest('Each PatchOp operation must be an object', 'invalidSyntax');
    const opText = raw[findKey(raw, 'op') ?? 'op'];
    const op = typeof opText === 'string' ? opText.toLowerCase() : '';
    if (!OPS.has(op)) {
      throw badRequest(
        `Unsupported op ${JSON.stringify(opText)}: use add, replace or remove`,
        'invalidSyntax',
      );
    }
    const pathText = raw[findKey(raw, 'path') ?? 'path'];
    const value = raw[findKey(raw, 'value') ?? 'value'];
    if (pathText !== undefined && typeof pathText !== 'string')
      throw badRequest('path must be a string', 'invalidPath');
    if (pathText === undefined || pathText.trim() === '') {
      if (op === 'remove') throw badRequest('remove requires a path', 'noTarget');
      if (!isObject(value)) {
        throw badRequest(`A path-less ${op} needs an object of attributes as its value`, 'invalidValue');
      }
      expandPathless(op as PatchOpName, value, undefined, out);
      continue;
    }
    const path = parsePatchPath(pathText);
    if (op !== 'remove' && value === undefined)
      throw badRequest(`${op} of ${pathText} needs a value`, 'invalidValue');
    out.push({ op: op as PatchOpName, path, value: coerceBooleans(path.sub ?? path.attr, value) });
  }
  return out;
}

function expandPathless(op: PatchOpName, value: Doc, urn: string | undefined, out: PatchOperation[]): void {
  for (const [key, item] of Object.entries(value)) {
    // A schema URN key holds that schema's attributes; schema URNs end in a capitalised type name
    // (`...:enterprise:2.0:User`) whereas `...:User:employeeNumber` names one attribute.
    if (!urn && /^urn:/i.test(key) && isObject(item) && /:[A-Z][\w]*$/.test(key)) {
      expandPathless(op, item, isCoreSchema(key) ? undefined : key, out);
      continue;
    }
    const path = parsePatchPath(urn ? `${urn}:${key}` : key);
    if (path.filter) throw badRequest(`Path-less value keys cannot carry filters: ${key}`, 'invalidPath');
    out.push({ op, path, value: coerceBooleans(path.sub ?? path.attr, item) });
  }
}

/** Applies one operation to a (cloned) resource document, RFC 7644 §3.5.2 with Entra's leniencies. */
export function applyOperation(doc: Doc, { op, path, value }: PatchOperation): void {
  let container = doc;
  if (path.urn) {
    const urnKey = findKey(doc, path.urn) ?? path.urn;
    const ext = doc[urnKey];
    if (!isObject(ext)) {
      if (op === 'remove') return;
      doc[urnKey] = {};
    }
    container = doc[urnKey] as Doc;
  }
  const key = findKey(container, path.attr) ?? canonicalName(path.attr);
  const current = container[key];
  if (path.filter) {
    applyFiltered(container, key, op, path, value);
  } else if (path.sub) {
    applySub(container, key, op, path.sub, value);
  } else if (op === 'remove') {
    if (value !== undefined && Array.isArray(current)) {
      const remaining = current.filter((item) => !toArray(value).some((v) => sameItem(item, v)));
      if (remaining.length) container[key] = remaining;
      else delete container[key];
    } else {
      delete container[key];
    }
  } else if (op === 'add' && Array.isArray(current)) {
    for (const item of toArray(value)) if (!current.some((c) => sameItem(c, item))) current.push(item);
  } else if (isObject(current) && isObject(value)) {
    // Add or replace of a complex attribute replaces the given sub-attributes and keeps the others.
    merge(current, value);
  } else {
    container[key] = value;
  }
}

function applySub(container: Doc, key: string, op: PatchOpName, sub: string, value: unknown): void {
  const current = container[key];
  const targets = Array.isArray(current) ? current.filter(isObject) : isObject(current) ? [current] : [];
  if (op === 'remove') {
    for (const target of targets) delete target[findKey(target, sub) ?? sub];
    return;
  }
  if (targets.length === 0) {
    container[key] = { [canonicalName(sub)]: value };
    return;
  }
  for (const target of targets) target[findKey(target, sub) ?? canonicalName(sub)] = value;
}

function applyFiltered(container: Doc, key: string, op: PatchOpName, path: PatchPath, value: unknown): void {
  const filter = path.filter!;
  const list = Array.isArray(container[key]) ? (container[key] as unknown[]) : undefined;
  const matches = (list ?? []).filter((item): item is Doc => isObject(item) && matchesAll(item, filter));
  if (op === 'remove') {
    if (!list || matches.length === 0) return;
    if (path.sub) {
      for (const item of matches) delete item[findKey(item, path.sub) ?? path.sub];
    } else {
      const remaining = list.filter((item) => !matches.includes(item as Doc));
      if (remaining.length) container[key] = remaining;
      else delete container[key];
    }
    return;
  }
  if (!path.sub && !isObject(value)) {
    throw badRequest(`${op} of a filtered path needs an object value or a sub-attribute`, 'invalidValue');
  }
  if (matches.length === 0) {
    // Entra replaces `emails[type eq "work"].value` on users that have no work email yet: create the entry.
    const created: Doc = {};
    for (const c of filter) if (!c.urn && !c.sub) created[canonicalName(c.attr)] = c.value;
    if (path.sub) created[canonicalName(path.sub)] = value;
    else merge(created, value as Doc);
    container[key] = [...(list ?? []), created];
    return;
  }
  for (const item of matches) {
    if (path.sub) item[findKey(item, path.sub) ?? canonicalName(path.sub)] = value;
    else merge(item, value as Doc);
  }
}

function merge(target: Doc, source: Doc): void {
  for (const [k, v] of Object.entries(source)) target[findKey(target, k) ?? canonicalName(k)] = v;
}

export function toArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

// Multi-valued complex items are the same when their `value` matches (members, emails); others by JSON.
function sameItem(a: unknown, b: unknown): boolean {
  if (isObject(a) && isObject(b)) {
    const va = a[findKey(a, 'value') ?? 'value'];
    const vb = b[findKey(b, 'value') ?? 'value'];
    if (va !== undefined || vb !== undefined) return va === vb;
  }
  return JSON.stringify(a) === JSON.stringify(b);
}
