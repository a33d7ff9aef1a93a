import { type AttrPath, type Doc, getAttr, isObject, parseAttrPath } from './attributes.js';
import { badRequest } from './errors.js';

export type FilterValue = string | number | boolean | null;

/** `attrPath eq value`. A filter is a conjunction of these: the only shape Entra sends. */
export interface Comparison extends AttrPath {
  value: FilterValue;
}

const COMPARISON =
  /\s*([^\s()[\]]+)\s+eq\s+("(?:[^"\\]|\\.)*"|true|false|null|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*/iy;
const AND = /and\s+/iy;

/** Parses `a eq "x" [and b eq "y" ...]`; anything else is a 400 invalidFilter. */
export function parseFilter(text: string): Comparison[] {
  const comparisons: Comparison[] = [];
  let pos = 0;
  for (;;) {
    COMPARISON.lastIndex = pos;
    const m = COMPARISON.exec(text);
    const path = m ? parseAttrPath(m[1]!) : undefined;
    if (!m || !path) break;
    comparisons.push({ ...path, value: parseLiteral(m[2]!) });
    pos = COMPARISON.lastIndex;
    if (pos === text.length) return comparisons;
    AND.lastIndex = pos;
    if (!AND.test(text)) break;
    pos = AND.lastIndex;
  }
  throw badRequest(
    `Unsupported filter ${JSON.stringify(text)}: this target supports 'attribute eq "value"' joined by 'and'`,
    'invalidFilter',
  );
}

function parseLiteral(token: string): FilterValue {
  return JSON.parse(token.startsWith('"') ? token : token.toLowerCase()) as FilterValue;
}

// RFC 7643: ids and externalId compare case-exactly; userName, displayName, type... do not.
const CASE_EXACT = new Set(['id', 'externalid']);

export function valuesEqual(attr: string, actual: unknown, expected: FilterValue): boolean {
  if (typeof actual === 'string' && typeof expected === 'string') {
    return CASE_EXACT.has(attr.toLowerCase())
      ? actual === expected
      : actual.toLowerCase() === expected.toLowerCase();
  }
  return actual === expected || (expected === null && actual === undefined);
}

/** The values an attribute path designates in `doc`, multi-valued attributes flattened. */
function valuesAt(doc: Doc, path: AttrPath): unknown[] {
  const container = path.urn ? getAttr(doc, path.urn) : doc;
  if (!isObject(container)) return [];
  const value = getAttr(container, path.attr);
  const items = Array.isArray(value) ? value : [value];
  // `emails eq "x"` compares the `value` sub-attribute of a multi-valued complex attribute.
  const sub = path.sub ?? (Array.isArray(value) ? 'value' : undefined);
  if (!sub) return items;
  return items.map((item) => (isObject(item) ? getAttr(item, sub) : undefined));
}

export function matchesAll(doc: Doc, comparisons: readonly Comparison[], id?: string): boolean {
  return comparisons.every((c) => {
    if (id !== undefined && !c.urn && !c.sub && c.attr.toLowerCase() === 'id') return c.value === id;
    return valuesAt(doc, c).some((actual) => valuesEqual(c.sub ?? c.attr, actual, c.value));
  });
}
