// Entra-shaped traffic for the differential test of PostgreSQL's derivation (server/store/pg/derive/): a seeded
// generator and a hand-written scenario, as batches of exchanges the way the recorder hands them over.

import { mulberry32 } from '../../server/demo/simulator/random.js';
import type { Exchange } from '../../server/scim/types.js';
import {
  addMembersBody,
  createGroupBody,
  emptyListResponse,
  exchange,
  filterQuery,
  groupResource,
  listResponse,
  PROBE_GUID,
  patchBody,
  removeMembers2017Body,
  removeMembers2020Body,
  renameGroupBody,
  scimError,
  userResource,
} from '../fixtures/entra.js';
import { entra } from './traffic.js';

const MIN = 60_000;
const start = Date.UTC(2025, 0, 15, 9, 0, 0);

/** A small seeded generator (the simulator's), so a failing seed can be run again. */
export const random = mulberry32;

export const probe = (at: number, status = 200) =>
  exchange({
    startedAt: at,
    query: filterQuery('userName', PROBE_GUID),
    status,
    resBody: status === 200 ? emptyListResponse : scimError(status, 'Unauthorized'),
  });

const group = {
  create: (at: number, id: string, name: string) =>
    exchange({
      startedAt: at,
      method: 'POST',
      path: '/scim/v2/Groups',
      reqBody: createGroupBody({ displayName: name, externalId: name.toLowerCase() }),
      status: 201,
      resBody: groupResource({ id, displayName: name, externalId: name.toLowerCase() }),
    }),
  lookup: (at: number, name: string, id?: string) =>
    exchange({
      startedAt: at,
      path: '/scim/v2/Groups',
      query: filterQuery('displayName', name, 'excludedAttributes=members'),
      resBody: id ? listResponse([groupResource({ id, displayName: name })]) : emptyListResponse,
    }),
  members: (at: number, id: string, body: Record<string, unknown>, status = 204) =>
    exchange({ startedAt: at, method: 'PATCH', path: `/scim/v2/Groups/${id}`, reqBody: body, status }),
  rename: (at: number, id: string, name: string) =>
    exchange({
      startedAt: at,
      method: 'PATCH',
      path: `/scim/v2/Groups/${id}`,
      reqBody: patchBody([{ op: 'Replace', path: 'displayName', value: name }]),
      resBody: groupResource({ id, displayName: name }),
    }),
  remove: (at: number, id: string) =>
    exchange({ startedAt: at, method: 'DELETE', path: `/scim/v2/Groups/${id}`, status: 204 }),
};

/** Strangers: another token refused by the app, no token at all, a request scimtap refused itself. */
const stranger = {
  otherToken: (at: number, fp: string) => ({
    ...exchange({ startedAt: at, status: 401, resBody: scimError(401, 'invalid token') }),
    tokenFingerprint: fp,
  }),
  noToken: (at: number, path: string) => ({
    ...exchange({ startedAt: at, path, status: 404, resBody: 'not found' }),
    tokenFingerprint: null,
  }),
  refused: (at: number) => ({
    ...exchange({ startedAt: at, status: 403, resBody: scimError(403, 'untrusted') }),
    refused: 'untrustedClient' as const,
  }),
};

/** A name written with its letters' case changed at random (SQLite's nocase lookups). */
function recase(next: () => number, s: string): string {
  return [...s].map((c) => (next() < 0.3 ? c.toUpperCase() : c)).join('');
}

/** One call of a cycle, chosen at random over a pool of users and groups. */
function randomCall(next: () => number, at: number): Exchange {
  const pick = (n: number) => Math.floor(next() * n);
  const u = pick(25);
  const [name, id] = [`user${u}@contoso.example`, `u-${u}`];
  const g = pick(4);
  const [gName, gId] = [`Group ${g}`, `g-${g}`];
  const members = () => Array.from({ length: 1 + pick(3) }, () => `u-${pick(25)}`);
  const choices: (() => Exchange)[] = [
    () => entra.lookupUser(at, recase(next, name), next() < 0.7 ? id : undefined),
    () => entra.lookupUser(at, recase(next, name), next() < 0.7 ? id : undefined),
    () => entra.createUser(at, name, id),
    () => entra.createConflict(at, name),
    () => entra.updateUser(at, id, name, `Name ${pick(100)}`),
    // a rename: the app answers with another userName
    () => entra.updateUser(at, id, `renamed${u}-${pick(3)}@contoso.example`, 'Renamed'),
    () => entra.disableUser(at, id, name),
    () => entra.deleteUser(at, id),
    () => entra.throttled(at, id),
    () => entra.upstreamDown(at),
    () => group.create(at, gId, gName),
    () => group.lookup(at, recase(next, gName), next() < 0.5 ? gId : undefined),
    () => group.members(at, gId, addMembersBody(members())),
    () => group.members(at, gId, addMembersBody(members(), 'Replace')),
    () => group.members(at, gId, removeMembers2017Body(members())),
    () => group.members(at, gId, removeMembers2020Body(members())),
    () => group.members(at, gId, addMembersBody(members()), 400),
    () => group.rename(at, gId, `${gName} ${pick(3)}`),
    () => group.remove(at, gId),
    () => stranger.otherToken(at, `ff${pick(3)}0000000000`),
    () => stranger.noToken(at, next() < 0.5 ? '/' : '/.env'),
    () => stranger.refused(at),
  ];
  return (choices[pick(choices.length)] as () => Exchange)();
}

/**
 * `cycles` cycles of random calls, each opened by Entra's probe (one in five refused), separated by more than
 * the cycle gap; some with a silence inside longer than the gap. Returned in batches of 1 to 12.
 */
export function generatedTraffic(seed: number, cycles = 10): Exchange[][] {
  const next = random(seed);
  const all: Exchange[] = [];
  let at = start;
  for (let c = 0; c < cycles; c++) {
    at += (20 + Math.floor(next() * 60)) * MIN;
    all.push(probe(at, next() < 0.2 ? 401 : 200));
    const calls = 5 + Math.floor(next() * 40);
    for (let i = 0; i < calls; i++) {
      at += next() < 0.04 ? 7 * MIN : 500 + Math.floor(next() * 3000);
      all.push(randomCall(next, at));
    }
  }
  return inBatches(all, next);
}

function inBatches(all: Exchange[], next: () => number): Exchange[][] {
  const batches: Exchange[][] = [];
  for (let i = 0; i < all.length; ) {
    const n = 1 + Math.floor(next() * 12);
    batches.push(all.slice(i, i + n));
    i += n;
  }
  return batches;
}

/** Renames, a name tied to an id later (linkTarget), a name equal to another user's id, member replace. */
export function scenario(): Exchange[][] {
  let at = start;
  const t = (step = 1_000) => {
    at += step;
    return at;
  };
  const cycle1 = [
    probe(t()),
    entra.lookupUser(t(), 'alice@contoso.example'),
    entra.createUser(t(), 'alice@contoso.example', 'u-1'),
    entra.lookupUser(t(), 'ALICE@Contoso.example', 'u-1'),
    entra.lookupUser(t(), 'bob@contoso.example'),
    entra.createUser(t(), 'bob@contoso.example', 'u-2'),
    // a user whose userName is another user's id: its key is taken, so it shares alice's row
    entra.lookupUser(t(), 'u-1'),
    entra.updateUser(t(), 'u-1', 'alice.smith@contoso.example', 'Alice Smith'),
    group.lookup(t(), 'Finance'),
    group.create(t(), 'g-1', 'Finance'),
    group.members(t(), 'g-1', addMembersBody(['u-1', 'u-2', 'u-9'])),
    group.members(t(), 'g-1', addMembersBody(['u-3'], 'Replace')),
    group.members(t(), 'g-1', addMembersBody(['u-1', 'u-2'])),
    group.members(t(), 'g-1', removeMembers2020Body(['u-2'])),
    exchange({
      startedAt: t(),
      method: 'PATCH',
      path: '/scim/v2/Groups/g-1',
      reqBody: renameGroupBody,
      resBody: groupResource({ id: 'g-1', displayName: 'Finance EMEA' }),
    }),
    stranger.otherToken(t(), 'ee0000000000'),
    stranger.noToken(t(), '/'),
  ];
  const cycle2 = [
    probe(t(40 * MIN)),
    group.lookup(t(), 'finance emea', 'g-1'),
    entra.lookupUser(t(), 'Alice.Smith@contoso.example', 'u-1'),
    entra.disableUser(t(), 'u-1', 'alice.smith@contoso.example'),
    entra.deleteUser(t(), 'u-2'),
    group.members(t(), 'g-1', addMembersBody(['u-2', 'u-4'])),
    entra.throttled(t(), 'u-1'),
    entra.createConflict(t(), 'carol@contoso.example'),
    entra.lookupUser(t(), 'carol@contoso.example', 'u-5'),
    group.create(t(), 'g-2', 'Sales'),
    stranger.refused(t()),
  ];
  const cycle3 = [
    probe(t(45 * MIN), 401),
    entra.updateUser(t(6 * MIN), 'u-5', 'carol@contoso.example', 'Carol'),
    group.remove(t(), 'g-1'),
    entra.deleteUser(t(), 'u-1'),
    entra.createUser(t(), 'alice@contoso.example', 'u-7'),
    entra.lookupUser(t(), 'ALICE@contoso.example', 'u-7'),
    userResourceLookup(t()),
  ];
  return [cycle1.slice(0, 5), cycle1.slice(5), cycle2.slice(0, 3), cycle2.slice(3), cycle3];
}

/** A lookup answered with a user whose externalId differs from what was known (setExternalId). */
function userResourceLookup(at: number): Exchange {
  return exchange({
    startedAt: at,
    query: filterQuery('userName', 'carol@contoso.example'),
    resBody: listResponse([
      userResource({ id: 'u-5', userName: 'carol@contoso.example', externalId: 'carol2' }),
    ]),
  });
}

/**
 * Keys given up and taken again: `u-7` first names a user not found (its key), then that user is tied to id
 * u-100 and gives the key up, and bob, tied to id u-7, takes it. Lookups first, ties in one later batch.
 */
export function rekeys(): Exchange[][] {
  const at = start;
  return [
    [probe(at), entra.lookupUser(at + 1_000, 'u-7'), entra.lookupUser(at + 2_000, 'bob@contoso.example')],
    [
      entra.createUser(at + 3_000, 'u-7', 'u-100'),
      entra.createUser(at + 4_000, 'bob@contoso.example', 'u-7'),
      entra.lookupUser(at + 5_000, 'U-7', 'u-100'),
      entra.lookupUser(at + 6_000, 'bob@contoso.example', 'u-7'),
    ],
  ];
}
