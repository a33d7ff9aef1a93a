import type { UserAttrs, UserField } from './directory.js';

/**
 * Request shapes as Entra sends them (../shared/reference/entra-scim.md §2). Pure: paths and bodies only.
 * `2017` is Entra's default PATCH dialect (capitalised ops, "True"/"False" strings, one op per attribute);
 * `flag` is what the `aadOptscim062020` Tenant URL flag turns on (RFC 7644 style, path-less value objects).
 */
export type Dialect = '2017' | 'flag';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

const quote = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function userLookupPath(userName: string): string {
  return `/Users?filter=${encodeURIComponent(`userName eq ${quote(userName)}`)}`;
}

/** Entra asks for groups without their members: a large member list would be wasted work. */
export function groupLookupPath(displayName: string): string {
  return `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq ${quote(displayName)}`)}`;
}

export function userCreateBody(u: UserAttrs): Record<string, unknown> {
  return {
    schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA],
    userName: u.userName,
    externalId: u.externalId,
    active: u.active,
    displayName: u.displayName,
    title: u.jobTitle,
    emails: [{ primary: true, type: 'work', value: u.email }],
    name: { formatted: u.displayName, familyName: u.familyName, givenName: u.givenName },
    [ENTERPRISE_SCHEMA]: { department: u.department },
  };
}

/** PATCH paths Entra uses for each mapped attribute. */
const fieldPaths: Record<UserField, string> = {
  givenName: 'name.givenName',
  familyName: 'name.familyName',
  displayName: 'displayName',
  email: 'emails[type eq "work"].value',
  department: `${ENTERPRISE_SCHEMA}:department`,
  jobTitle: 'title',
};

const patch = (ops: unknown[]) => ({ schemas: [PATCH_SCHEMA], Operations: ops });

export function userUpdateBody(
  dialect: Dialect,
  u: UserAttrs,
  fields: readonly UserField[],
): Record<string, unknown> {
  if (dialect === '2017') {
    return patch(fields.map((f) => ({ op: 'Replace', path: fieldPaths[f], value: u[f] })));
  }
  // With the flag, simple attributes travel in one path-less op; a filtered path cannot be a value key.
  const value: Record<string, string> = {};
  const ops: unknown[] = [];
  for (const f of fields) {
    if (f === 'email') ops.push({ op: 'replace', path: fieldPaths[f], value: u[f] });
    else value[fieldPaths[f]] = u[f];
  }
  if (Object.keys(value).length > 0) ops.unshift({ op: 'replace', value });
  return patch(ops);
}

/** Disable (a user left scope) or enable: Entra's 2017 dialect sends the boolean as a capitalised string. */
export function activeBody(dialect: Dialect, active: boolean): Record<string, unknown> {
  return dialect === '2017'
    ? patch([{ op: 'Replace', path: 'active', value: active ? 'True' : 'False' }])
    : patch([{ op: 'replace', path: 'active', value: active }]);
}

export function groupCreateBody(g: { displayName: string; externalId: string }): Record<string, unknown> {
  return { schemas: [GROUP_SCHEMA], displayName: g.displayName, externalId: g.externalId };
}

export function groupRenameBody(dialect: Dialect, displayName: string): Record<string, unknown> {
  return dialect === '2017'
    ? patch([{ op: 'Replace', path: 'displayName', value: displayName }])
    : patch([{ op: 'replace', value: { displayName } }]);
}

export function membersBody(
  dialect: Dialect,
  op: 'add' | 'remove',
  ids: readonly string[],
): Record<string, unknown> {
  if (dialect === '2017') {
    return patch([
      { op: op === 'add' ? 'Add' : 'Remove', path: 'members', value: ids.map((value) => ({ value })) },
    ]);
  }
  if (op === 'add') return patch([{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }]);
  return patch(ids.map((id) => ({ op: 'remove', path: `members[value eq ${quote(id)}]` })));
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** Resources of a ListResponse, or null when the answer is not one (a SCIM compliance failure). */
export function listResources(body: unknown): Record<string, unknown>[] | null {
  if (!isObject(body)) return null;
  const schemas = body.schemas;
  if (!Array.isArray(schemas) || !schemas.includes(LIST_SCHEMA)) return null;
  const resources = body.Resources ?? [];
  return Array.isArray(resources) ? resources.filter(isObject) : null;
}

/** The target's copy of a user, in the simulator's terms, to decide whether a matched user needs an update. */
export function userFromResource(r: Record<string, unknown>): UserAttrs {
  const name = isObject(r.name) ? r.name : {};
  const emails = Array.isArray(r.emails) ? r.emails.filter(isObject) : [];
  const work = emails.find((e) => e.type === 'work') ?? emails[0] ?? {};
  const enterprise = isObject(r[ENTERPRISE_SCHEMA]) ? (r[ENTERPRISE_SCHEMA] as Record<string, unknown>) : {};
  const active = r.active;
  return {
    userName: str(r.userName),
    externalId: str(r.externalId),
    givenName: str(name.givenName),
    familyName: str(name.familyName),
    displayName: str(r.displayName),
    email: str(work.value),
    department: str(enterprise.department),
    jobTitle: str(r.title),
    active: active === true || (typeof active === 'string' && active.toLowerCase() === 'true'),
  };
}
