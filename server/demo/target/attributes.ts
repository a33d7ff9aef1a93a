/** A resource's attributes as stored: JSON with `id`, `meta` and `schemas` kept outside. */
export type Doc = Record<string, unknown>;

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const CORE_SCHEMAS = new Set([USER_SCHEMA.toLowerCase(), GROUP_SCHEMA.toLowerCase()]);

/** Attribute reference: `[urn:...:]attr[.sub]`; `urn` is unset for core-schema attributes. */
export interface AttrPath {
  urn?: string;
  attr: string;
  sub?: string;
}

export function isObject(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// SCIM attribute names are case-insensitive (RFC 7643 §2.1); new keys take these spellings.
const CANONICAL = new Map(
  [
    'userName',
    'displayName',
    'externalId',
    'active',
    'name',
    'givenName',
    'familyName',
    'middleName',
    'formatted',
    'honorificPrefix',
    'honorificSuffix',
    'nickName',
    'title',
    'userType',
    'preferredLanguage',
    'locale',
    'timezone',
    'profileUrl',
    'emails',
    'phoneNumbers',
    'addresses',
    'streetAddress',
    'locality',
    'region',
    'postalCode',
    'country',
    'primary',
    'type',
    'value',
    'display',
    'members',
    'roles',
    'employeeNumber',
    'costCenter',
    'organization',
    'division',
    'department',
    'manager',
    'password',
  ].map((name) => [name.toLowerCase(), name]),
);

export function canonicalName(name: string): string {
  return CANONICAL.get(name.toLowerCase()) ?? name;
}

/** The key under which `obj` holds attribute `name`, matched case-insensitively. */
export function findKey(obj: Doc, name: string): string | undefined {
  if (name in obj) return name;
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return key;
  return undefined;
}

export function getAttr(obj: Doc, name: string): unknown {
  const key = findKey(obj, name);
  return key === undefined ? undefined : obj[key];
}

// Entra's default PATCH dialect sends booleans as "True"/"False"; only these attributes are boolean.
const BOOLEAN_ATTRS = new Set(['active', 'primary']);

/** Turns "True"/"False" strings into booleans wherever the attribute named `name` (or a nested one) is boolean. */
export function coerceBooleans(name: string, value: unknown): unknown {
  if (typeof value === 'string') {
    if (!BOOLEAN_ATTRS.has(name.toLowerCase())) return value;
    const lower = value.toLowerCase();
    return lower === 'true' ? true : lower === 'false' ? false : value;
  }
  if (Array.isArray(value)) return value.map((item) => coerceBooleans(name, item));
  if (isObject(value)) {
    for (const key of Object.keys(value)) value[key] = coerceBooleans(key, value[key]);
  }
  return value;
}

const ATTR_PATH = /^(?:(urn:[^\s[\]]+):)?([A-Za-z$][\w$-]*)(?:\.([A-Za-z$][\w$-]*))?$/;

export function parseAttrPath(text: string): AttrPath | undefined {
  const m = ATTR_PATH.exec(text);
  if (!m) return undefined;
  return withUrn(m[1], m[2]!, m[3]);
}

export function withUrn(urn: string | undefined, attr: string, sub: string | undefined): AttrPath {
  const path: AttrPath = { attr };
  if (urn && !CORE_SCHEMAS.has(urn.toLowerCase())) path.urn = urn;
  if (sub) path.sub = sub;
  return path;
}

export function isCoreSchema(urn: string): boolean {
  return CORE_SCHEMAS.has(urn.toLowerCase());
}
