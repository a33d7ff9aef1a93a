import { mulberry32 } from '../../server/demo/simulator/random.js';

/**
 * The generators behind `fillOperations`: a seeded random source, an Entra-shaped tenant and one builder per
 * kind of SCIM request Entra sends. Every builder draws from the same random source in a fixed order, so a
 * seed always gives the same rows.
 */

export interface Random {
  rnd(): number;
  pick<T>(xs: readonly T[]): T;
  guid(): string;
}

export function createRandom(seed: number): Random {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const guid = () => {
    const h = () =>
      Math.floor(rnd() * 0x100000000)
        .toString(16)
        .padStart(8, '0');
    const a = h() + h() + h() + h();
    return `${a.slice(0, 8)}-${a.slice(8, 12)}-4${a.slice(13, 16)}-a${a.slice(17, 20)}-${a.slice(20, 32)}`;
  };
  return { rnd, pick, guid };
}

const givenNames = [
  'Adele',
  'Alex',
  'Diego',
  'Grady',
  'Henrietta',
  'Isaiah',
  'Johanna',
  'Joni',
  'Lee',
  'Lidia',
  'Lynne',
  'Megan',
  'Miriam',
  'Nestor',
  'Patti',
  'Pradeep',
];
const familyNames = [
  'Vance',
  'Wilber',
  'Siciliani',
  'Archie',
  'Mueller',
  'Langer',
  'Lorenz',
  'Sherman',
  'Gu',
  'Holloway',
  'Robinson',
  'Bowen',
  'Graham',
  'Wilke',
  'Fernandez',
  'Gupta',
];
export const departments = [
  'Sales',
  'Finance',
  'Engineering',
  'Legal',
  'Operations',
  'Marketing',
  'IT',
  'Research',
];

export type User = {
  userName: string;
  displayName: string;
  externalId: string;
  targetId: string | null;
  active: boolean;
};
export type Group = { displayName: string; externalId: string; targetId: string | null };

export interface Tenant {
  userList: User[];
  groupList: Group[];
}

export function createTenant({ pick, guid }: Random, users: number, groups: number): Tenant {
  const userList: User[] = Array.from({ length: users }, (_, i) => {
    const g = givenNames[i % givenNames.length];
    const f = familyNames[Math.floor(i / givenNames.length) % familyNames.length];
    return {
      userName: `${g.toLowerCase()}.${f.toLowerCase()}${i}@contoso.com`,
      displayName: `${g} ${f}`,
      externalId: guid(),
      targetId: null,
      active: true,
    };
  });
  const groupList: Group[] = Array.from({ length: groups }, (_, i) => ({
    displayName: `${pick(departments)} team ${i}`,
    externalId: guid(),
    targetId: null,
  }));
  return { userList, groupList };
}

export type Op = {
  method: string;
  path: string;
  query?: string;
  status: number | null;
  resourceType: 'User' | 'Group';
  operation: string;
  action: string;
  identity: string;
  externalId: string | null;
  targetId: string | null;
  modified?: { name: string; value: string; redacted?: boolean }[];
  members?: { op: string; ids: string[] }[];
  requestBody?: string;
};

const base = '/scim/v2';

// One builder per request Entra sends; the ones that create or delete also update the tenant's state.

export const userLookup = (u: User, found: boolean): Op => ({
  method: 'GET',
  path: `${base}/Users`,
  query: `filter=userName+eq+%22${encodeURIComponent(u.userName)}%22`,
  status: 200,
  resourceType: 'User',
  operation: 'lookup',
  action: 'other',
  identity: u.userName,
  externalId: null,
  targetId: found ? u.targetId : null,
});
export const groupLookup = (g: Group): Op => ({
  method: 'GET',
  path: `${base}/Groups`,
  query: `filter=displayName+eq+%22${encodeURIComponent(g.displayName)}%22&excludedAttributes=members`,
  status: 200,
  resourceType: 'Group',
  operation: 'lookup',
  action: 'other',
  identity: g.displayName,
  externalId: null,
  targetId: g.targetId,
});
export const createUser = ({ rnd, guid }: Random, u: User): Op => {
  u.targetId = guid();
  u.active = true;
  const modified = [
    { name: 'userName', value: u.userName },
    { name: 'active', value: 'true' },
    { name: 'displayName', value: u.displayName },
    { name: 'emails[type eq "work"].value', value: u.userName },
    { name: 'externalId', value: u.externalId },
  ];
  if (rnd() < 0.05) modified.push({ name: 'password', value: '[redacted]', redacted: true } as never);
  return {
    method: 'POST',
    path: `${base}/Users`,
    status: 201,
    resourceType: 'User',
    operation: 'create',
    action: 'create',
    identity: u.userName,
    externalId: u.externalId,
    targetId: u.targetId,
    modified,
    requestBody: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: u.userName,
      active: true,
      displayName: u.displayName,
      externalId: u.externalId,
    }),
  };
};
export const createGroup = ({ guid }: Random, g: Group): Op => {
  g.targetId = guid();
  return {
    method: 'POST',
    path: `${base}/Groups`,
    status: 201,
    resourceType: 'Group',
    operation: 'create',
    action: 'create',
    identity: g.displayName,
    externalId: g.externalId,
    targetId: g.targetId,
    modified: [
      { name: 'displayName', value: g.displayName },
      { name: 'externalId', value: g.externalId },
    ],
  };
};
export const patchUser = (u: User, operation: string, action: string, modified: Op['modified']): Op => ({
  method: 'PATCH',
  path: `${base}/Users/${u.targetId}`,
  status: 200,
  resourceType: 'User',
  operation,
  action,
  identity: u.userName,
  externalId: u.externalId,
  targetId: u.targetId,
  modified,
  requestBody: JSON.stringify({
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: (modified ?? []).map((m) => ({ op: 'Replace', path: m.name, value: m.value })),
  }),
});
export const readUser = (u: User): Op => ({
  method: 'GET',
  path: `${base}/Users/${u.targetId}`,
  status: 200,
  resourceType: 'User',
  operation: 'read',
  action: 'other',
  identity: u.userName,
  externalId: u.externalId,
  targetId: u.targetId,
});
export const deleteUser = (u: User): Op => {
  const op: Op = {
    method: 'DELETE',
    path: `${base}/Users/${u.targetId}`,
    status: 204,
    resourceType: 'User',
    operation: 'delete',
    action: 'delete',
    identity: u.userName,
    externalId: u.externalId,
    targetId: u.targetId,
  };
  u.targetId = null;
  return op;
};
export const groupMembers = (
  { rnd, pick, guid }: Random,
  userList: User[],
  g: Group,
  op: 'add' | 'remove',
): Op => {
  const ids = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(userList).targetId ?? guid());
  return {
    method: 'PATCH',
    path: `${base}/Groups/${g.targetId}`,
    status: 204,
    resourceType: 'Group',
    operation: op === 'add' ? 'addMembers' : 'removeMembers',
    action: 'update',
    identity: g.displayName,
    externalId: g.externalId,
    targetId: g.targetId,
    members: [{ op, ids }],
    requestBody: JSON.stringify({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: op === 'add' ? 'Add' : 'Remove', path: 'members', value: ids.map((value) => ({ value })) },
      ],
    }),
  };
};
export const renameGroup = (g: Group): Op => ({
  method: 'PATCH',
  path: `${base}/Groups/${g.targetId}`,
  status: 204,
  resourceType: 'Group',
  operation: 'update',
  action: 'update',
  identity: g.displayName,
  externalId: g.externalId,
  targetId: g.targetId,
  modified: [{ name: 'displayName', value: g.displayName }],
});
export const probe = ({ guid }: Random): Op => ({
  method: 'GET',
  path: `${base}/Users`,
  query: `filter=userName+eq+%22${guid()}%22`,
  status: 200,
  resourceType: 'User',
  operation: 'testConnection',
  action: 'other',
  identity: null as never,
  externalId: null,
  targetId: null,
});
