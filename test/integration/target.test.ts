import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { refusesUser } from '../../server/demo/target/faults.js';
import { generateTaniumToken, startTarget, type Target } from '../../server/demo/target/index.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const PROBE_GUID = '3f0c1d2e-9b8a-4c7d-8e6f-5a4b3c2d1e0f';

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: SCIM JSON is inspected field by field in the assertions.
  body: any;
  headers: Headers;
}

let target: Target;

async function call(
  t: Target,
  method: string,
  path: string,
  body?: unknown,
  authorization: string | null = `Bearer ${t.token}`,
): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/scim+json' };
  if (authorization !== null) headers.authorization = authorization;
  if (body !== undefined) headers['content-type'] = 'application/scim+json';
  const res = await fetch(t.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

const scim = (method: string, path: string, body?: unknown) => call(target, method, path, body);
const filterQuery = (attr: string, value: string) => `filter=${encodeURIComponent(`${attr} eq "${value}"`)}`;
const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

let seq = 0;
function newUser(overrides: Record<string, unknown> = {}) {
  seq++;
  return {
    schemas: [USER, ENTERPRISE],
    userName: `user${seq}@example.com`,
    externalId: `ext-${seq}`,
    active: true,
    displayName: `User ${seq}`,
    name: { givenName: 'Given', familyName: `Family${seq}` },
    emails: [{ type: 'work', value: `user${seq}@example.com`, primary: true }],
    [ENTERPRISE]: { employeeNumber: String(seq) },
    ...overrides,
  };
}

async function createUser(overrides: Record<string, unknown> = {}) {
  const res = await scim('POST', '/Users', newUser(overrides));
  expect(res.status).toBe(201);
  return res.body as { id: string; userName: string; displayName: string };
}

async function createGroup(displayName = `Group ${++seq}`, members: string[] = []) {
  const body: Record<string, unknown> = {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName,
    externalId: `gext-${seq}`,
  };
  if (members.length) body.members = members.map((value) => ({ value }));
  const res = await scim('POST', '/Groups', body);
  expect(res.status).toBe(201);
  return res.body as { id: string; displayName: string };
}

const memberIds = async (groupId: string) =>
  ((await scim('GET', `/Groups/${groupId}`)).body.members as { value: string }[]).map((m) => m.value).sort();

function expectScimError(res: Answer, status: number, scimType?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/scim+json');
  expect(res.body.schemas).toEqual([ERROR]);
  expect(res.body.status).toBe(String(status));
  expect(typeof res.body.detail).toBe('string');
  if (scimType) expect(res.body.scimType).toBe(scimType);
}

beforeAll(async () => {
  target = await startTarget({ port: 0 });
});

afterAll(async () => {
  await target.close();
});

afterEach(() => {
  target.setFaults({
    tokenExpired: false,
    errorRate: 0,
    throttleRate: 0,
    latencyMs: 0,
    nonCompliantFilter: false,
    conflictUserNames: [],
    refuseUserShare: 0,
    random: undefined,
  });
});

describe('startTarget and tokens', () => {
  // Tanium's token shape: `token-` + 58 letters/digits, reproducible from an injected random source.
  it('generates Tanium-shaped tokens, deterministically when given a random source', () => {
    expect(generateTaniumToken()).toMatch(/^token-[A-Za-z0-9]{58}$/);
    const seeded = () => {
      let x = 0.1;
      return () => (x = (x * 9301 + 0.49297) % 1);
    };
    expect(generateTaniumToken(seeded())).toBe(generateTaniumToken(seeded()));
    expect(generateTaniumToken(() => 0)).toBe(`token-${'A'.repeat(58)}`);
  });

  // Port 0 picks a free port, and url/port/token describe where and how to call the target.
  it('listens on a random port and reports its url and default token', () => {
    expect(target.port).toBeGreaterThan(0);
    expect(target.url).toBe(`http://127.0.0.1:${target.port}/scim/v2`);
    expect(target.token).toMatch(/^token-[A-Za-z0-9]{58}$/);
  });

  // A custom basePath and token are honoured, and meta timestamps come from the injected clock.
  it('honours basePath, token and clock options', async () => {
    const t = await startTarget({
      basePath: 'tenant/scim/',
      token: 'secret',
      clock: () => Date.UTC(2024, 0, 2),
    });
    try {
      expect(t.url).toBe(`http://127.0.0.1:${t.port}/tenant/scim`);
      const res = await call(t, 'POST', '/Users', newUser());
      expect(res.status).toBe(201);
      expect(res.body.meta.created).toBe('2024-01-02T00:00:00.000Z');
      expect((await call(t, 'GET', '/Users', undefined, 'Bearer wrong')).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  // Invalid fault settings are refused up front instead of producing odd behaviour later.
  it('rejects out-of-range fault settings', () => {
    expect(() => target.setFaults({ errorRate: 1.5 })).toThrow(RangeError);
    expect(() => target.setFaults({ latencyMs: -1 })).toThrow(RangeError);
    expect(target.faults.errorRate).toBe(0);
  });
});

describe('authentication (401)', () => {
  // Every route, discovery included, needs the bearer token; the detail says what is wrong.
  it.each([
    ['no Authorization header', null, /missing/i],
    ['a Basic scheme', 'Basic dXNlcjpwYXNz', /Bearer/],
    ['a wrong token', 'Bearer token-wrong', /Invalid bearer token/],
  ])('answers 401 with a SCIM error for %s', async (_, authorization, detail) => {
    for (const path of ['/Users', '/Groups', '/Schemas', '/ServiceProviderConfig', '/nope']) {
      const res = await call(target, 'GET', path, undefined, authorization);
      expectScimError(res, 401);
      expect(res.body.detail).toMatch(detail);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  // Tanium's documented pitfall: the token pasted without its `token-` prefix gets a precise hint.
  it('explains a token sent without its token- prefix', async () => {
    const res = await call(
      target,
      'GET',
      '/Users',
      undefined,
      `Bearer ${target.token.slice('token-'.length)}`,
    );
    expectScimError(res, 401);
    expect(res.body.detail).toContain('token-');
  });
});

describe('discovery and routing', () => {
  // Schema discovery (Entra calls /Schemas when provisioning settings are saved) answers 200 in SCIM JSON.
  it('serves /ServiceProviderConfig, /Schemas and /ResourceTypes', async () => {
    const spc = await scim('GET', '/ServiceProviderConfig');
    expect(spc.status).toBe(200);
    expect(spc.headers.get('content-type')).toBe('application/scim+json');
    expect(spc.body.patch.supported).toBe(true);
    expect(spc.body.filter.supported).toBe(true);
    expect(spc.body.authenticationSchemes[0].type).toBe('oauthbearertoken');

    const schemas = await scim('GET', '/Schemas');
    expect(schemas.status).toBe(200);
    expect(schemas.body.schemas).toEqual([LIST]);
    expect(schemas.body.Resources.map((s: { id: string }) => s.id)).toContain(USER);
    const user = await scim('GET', `/Schemas/${USER}`);
    expect(user.status).toBe(200);
    const userName = user.body.attributes.find((a: { name: string }) => a.name === 'userName');
    expect(userName).toMatchObject({ required: true, uniqueness: 'server' });

    const types = await scim('GET', '/ResourceTypes');
    expect(types.status).toBe(200);
    expect(types.body.totalResults).toBe(2);
    expect((await scim('GET', '/ResourceTypes/Group')).body.endpoint).toBe('/Groups');
  });

  // Unknown routes, unknown schemas and paths outside the base path are 404 SCIM errors.
  it('answers 404 with a SCIM error for unknown routes', async () => {
    expectScimError(await scim('GET', '/Bulk'), 404);
    expectScimError(await scim('GET', '/Schemas/urn:nope'), 404);
    expectScimError(await scim('GET', '/Users/a/b'), 404);
    const outside = await fetch(target.url.replace('/scim/v2', '/other'), {
      headers: { authorization: `Bearer ${target.token}` },
    });
    expect(outside.status).toBe(404);
    expect((await outside.json()).schemas).toEqual([ERROR]);
  });

  // A known route with a verb it does not support says so (405) and lists the allowed verbs.
  it('answers 405 for unsupported methods', async () => {
    const res = await scim('DELETE', '/Users');
    expectScimError(res, 405);
    expect(res.headers.get('allow')).toBe('GET, POST');
  });
});

describe('users', () => {
  // POST answers 201 with a server id, meta and a Location header; GET by id returns the same resource.
  it('creates (201) and reads (200) a user', async () => {
    const body = newUser();
    const res = await scim('POST', '/Users', body);
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/scim+json');
    expect(res.body.id).toEqual(expect.any(String));
    expect(res.body).toMatchObject({ userName: body.userName, externalId: body.externalId, active: true });
    expect(res.body.schemas).toEqual([USER, ENTERPRISE]);
    expect(res.body.meta).toMatchObject({
      resourceType: 'User',
      location: `${target.url}/Users/${res.body.id}`,
    });
    expect(res.headers.get('location')).toBe(res.body.meta.location);

    const read = await scim('GET', `/Users/${res.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
  });

  // Tanium requires userName, active, displayName and externalId: each missing one is 400 invalidValue.
  it.each(['userName', 'active', 'displayName', 'externalId'])(
    'rejects a user without %s (400)',
    async (attr) => {
      const body: Record<string, unknown> = newUser();
      delete body[attr];
      expectScimError(await scim('POST', '/Users', body), 400, 'invalidValue');
    },
  );

  // A body that is not JSON is 400 invalidSyntax, not a 500.
  it('rejects malformed JSON (400 invalidSyntax)', async () => {
    expectScimError(await scim('POST', '/Users', '{"userName":'), 400, 'invalidSyntax');
  });

  // userName is unique case-insensitively: a second create is 409 with scimType uniqueness.
  it('answers 409 uniqueness for a duplicate userName', async () => {
    const user = await createUser();
    const res = await scim('POST', '/Users', newUser({ userName: user.userName.toUpperCase() }));
    expectScimError(res, 409, 'uniqueness');
  });

  // GET of an unknown id is a 404 SCIM error (what Entra sees for a user deleted in the app).
  it('answers 404 for an unknown user id', async () => {
    expectScimError(await scim('GET', '/Users/does-not-exist'), 404);
  });

  // Entra's matching lookup returns exactly the user, case-insensitively on userName.
  it('finds a user by userName, externalId and displayName eq filters', async () => {
    const user = await createUser();
    const body = newUser();
    for (const query of [
      filterQuery('userName', user.userName.toUpperCase()),
      filterQuery('externalId', `ext-${user.userName.match(/\d+/)![0]}`),
      filterQuery('displayName', user.displayName),
    ]) {
      const res = await scim('GET', `/Users?${query}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ schemas: [LIST], totalResults: 1, itemsPerPage: 1, startIndex: 1 });
      expect(res.body.Resources[0].id).toBe(user.id);
    }
    expect((await scim('GET', `/Users?${filterQuery('userName', body.userName)}`)).body.totalResults).toBe(0);
  });

  // Entra's Test Connection probe (random GUID) gets 200 and an empty ListResponse, never 404.
  it('answers the GUID probe with an empty ListResponse', async () => {
    const res = await scim('GET', `/Users?${filterQuery('userName', PROBE_GUID)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      schemas: [LIST],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });
  });

  // Only `eq` (joined by `and`) is supported; anything else is 400 invalidFilter.
  it('rejects unsupported filters (400 invalidFilter)', async () => {
    expectScimError(
      await scim('GET', `/Users?filter=${encodeURIComponent('userName co "a"')}`),
      400,
      'invalidFilter',
    );
    expectScimError(await scim('GET', '/Users?filter='), 400, 'invalidFilter');
  });

  // startIndex/count page a list; totalResults counts every match.
  it('pages lists with startIndex and count', async () => {
    const t = await startTarget();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await call(t, 'POST', '/Users', newUser())).body.id);
      const page = await call(t, 'GET', '/Users?startIndex=2&count=2');
      expect(page.body).toMatchObject({ totalResults: 5, startIndex: 2, itemsPerPage: 2 });
      expect(page.body.Resources.map((r: { id: string }) => r.id)).toEqual(ids.slice(1, 3));
      const tail = await call(t, 'GET', '/Users?startIndex=5&count=10');
      expect(tail.body.Resources.map((r: { id: string }) => r.id)).toEqual(ids.slice(4));
      expect((await call(t, 'GET', '/Users?count=0')).body).toMatchObject({
        totalResults: 5,
        itemsPerPage: 0,
      });
    } finally {
      await t.close();
    }
  });

  // Entra's default dialect: capitalised ops, "False" strings, filtered and URN paths; answer 200 + resource.
  it('applies a PATCH in Entra default dialect (Replace, "False", emails filter, enterprise URN)', async () => {
    const user = await createUser();
    const res = await scim(
      'PATCH',
      `/Users/${user.id}`,
      patch(
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'Replace', path: 'displayName', value: 'Ada Lovelace' },
        { op: 'Replace', path: 'name.familyName', value: 'Lovelace' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'ada@example.com' },
        { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' },
        { op: 'Add', path: `${ENTERPRISE}:department`, value: 'Research' },
      ),
    );
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(false);
    expect(res.body.displayName).toBe('Ada Lovelace');
    expect(res.body.name).toEqual({ givenName: 'Given', familyName: 'Lovelace' });
    expect(res.body.emails).toEqual([{ type: 'work', value: 'ada@example.com', primary: true }]);
    expect(res.body.phoneNumbers).toEqual([{ type: 'mobile', value: '+1 555 0100' }]);
    expect(res.body[ENTERPRISE]).toMatchObject({ department: 'Research' });
    expect((await scim('GET', `/Users/${user.id}`)).body.active).toBe(false);
  });

  // Entra's aadOptscim062020 dialect: lower-case ops, path-less object values with dotted and URN keys.
  it('applies a PATCH in the flag dialect (path-less object with dotted keys)', async () => {
    const user = await createUser();
    const res = await scim(
      'PATCH',
      `/Users/${user.id}`,
      patch(
        { op: 'replace', value: { active: false, displayName: 'Ada L', 'name.givenName': 'Ada' } },
        {
          op: 'replace',
          value: { [`${ENTERPRISE}:employeeNumber`]: '42', [ENTERPRISE]: { costCenter: 'CC1' } },
        },
        { op: 'remove', path: 'emails[type eq "work"]' },
      ),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ active: false, displayName: 'Ada L', name: { givenName: 'Ada' } });
    expect(res.body[ENTERPRISE]).toEqual({ employeeNumber: '42', costCenter: 'CC1' });
    expect(res.body.emails).toBeUndefined();
  });

  // Re-enabling with "True" and case-insensitive attribute names work too.
  it('re-enables a disabled user with "True"', async () => {
    const user = await createUser({ active: false });
    const res = await scim(
      'PATCH',
      `/Users/${user.id}`,
      patch({ op: 'Replace', path: 'Active', value: 'True' }),
    );
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(true);
    expect(res.body.Active).toBeUndefined();
  });

  // A PATCH renaming userName onto another user's is 409 and leaves the user unchanged.
  it('answers 409 when a PATCH would duplicate a userName', async () => {
    const a = await createUser();
    const b = await createUser();
    const res = await scim(
      'PATCH',
      `/Users/${b.id}`,
      patch(
        { op: 'Replace', path: 'displayName', value: 'changed' },
        { op: 'Replace', path: 'userName', value: a.userName },
      ),
    );
    expectScimError(res, 409, 'uniqueness');
    expect((await scim('GET', `/Users/${b.id}`)).body.displayName).toBe(b.displayName);
  });

  // Bad PatchOps are 400s: unknown op, path-less remove, removing a required attribute, unknown user is 404.
  it('rejects invalid PATCH requests', async () => {
    const user = await createUser();
    expectScimError(
      await scim('PATCH', `/Users/${user.id}`, patch({ op: 'Move', path: 'x' })),
      400,
      'invalidSyntax',
    );
    expectScimError(await scim('PATCH', `/Users/${user.id}`, { schemas: [PATCH_OP] }), 400, 'invalidSyntax');
    expectScimError(await scim('PATCH', `/Users/${user.id}`, patch({ op: 'remove' })), 400, 'noTarget');
    expectScimError(
      await scim('PATCH', `/Users/${user.id}`, patch({ op: 'Remove', path: 'externalId' })),
      400,
      'invalidValue',
    );
    expectScimError(
      await scim('PATCH', `/Users/${user.id}`, patch({ op: 'Replace', path: 'active', value: 'maybe' })),
      400,
      'invalidValue',
    );
    expectScimError(
      await scim('PATCH', '/Users/missing', patch({ op: 'Replace', path: 'active', value: 'False' })),
      404,
    );
  });

  // PUT replaces the whole resource and answers 200.
  it('replaces a user with PUT (200)', async () => {
    const user = await createUser();
    const replacement = newUser({ userName: user.userName, displayName: 'Replaced', emails: undefined });
    const res = await scim('PUT', `/Users/${user.id}`, replacement);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: user.id, displayName: 'Replaced' });
    expect(res.body.emails).toBeUndefined();
    expect(res.body.meta.version).toBe('W/"2"');
  });

  // DELETE answers 204 with no body; the user is then gone (404) and a second DELETE is 404.
  it('deletes a user (204) and then reports it missing (404)', async () => {
    const user = await createUser();
    const res = await fetch(`${target.url}/Users/${user.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${target.token}` },
    });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expectScimError(await scim('GET', `/Users/${user.id}`), 404);
    expectScimError(await scim('DELETE', `/Users/${user.id}`), 404);
    expect((await scim('GET', `/Users?${filterQuery('userName', user.userName)}`)).body.totalResults).toBe(0);
  });
});

describe('groups', () => {
  // Groups are created (201), unique by displayName (409), and read back with their members.
  it('creates a group (201), refuses a duplicate displayName (409)', async () => {
    const user = await createUser();
    const group = await createGroup(`Finance ${seq}`, [user.id]);
    expect(await memberIds(group.id)).toEqual([user.id]);
    const dup = await scim('POST', '/Groups', {
      displayName: group.displayName.toLowerCase(),
      externalId: 'x',
    });
    expectScimError(dup, 409, 'uniqueness');
    expectScimError(await scim('POST', '/Groups', { displayName: 'No externalId' }), 400, 'invalidValue');
    expectScimError(await scim('GET', '/Groups/missing'), 404);
  });

  // Entra looks groups up with excludedAttributes=members: members must not come back (list and by id).
  it('honours excludedAttributes=members on lookups and reads', async () => {
    const user = await createUser();
    const group = await createGroup(`Sales ${seq}`, [user.id]);
    const res = await scim(
      'GET',
      `/Groups?excludedAttributes=members&${filterQuery('displayName', group.displayName)}`,
    );
    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBe(1);
    expect(res.body.Resources[0].id).toBe(group.id);
    expect(res.body.Resources[0].members).toBeUndefined();
    expect(
      (await scim('GET', `/Groups/${group.id}?excludedAttributes=members`)).body.members,
    ).toBeUndefined();
    const withMembers = await scim('GET', `/Groups?${filterQuery('externalId', `gext-${seq}`)}`);
    expect(withMembers.body.Resources[0].members).toEqual([{ value: user.id, display: user.displayName }]);
  });

  // Entra default dialect: Add/Remove with value arrays and Replace displayName, each answered 204.
  it('applies group PATCHes in the default dialect (Add/Remove members, rename)', async () => {
    const [a, b, c] = [await createUser(), await createUser(), await createUser()];
    const group = await createGroup();
    const add = await scim(
      'PATCH',
      `/Groups/${group.id}`,
      patch({ op: 'Add', path: 'members', value: [{ value: a.id }, { value: b.id }, { value: c.id }] }),
    );
    expect(add.status).toBe(204);
    expect(add.body).toBeUndefined();
    expect(await memberIds(group.id)).toEqual([a.id, b.id, c.id].sort());

    const remove = await scim(
      'PATCH',
      `/Groups/${group.id}`,
      patch({ op: 'Remove', path: 'members', value: [{ value: b.id }] }),
    );
    expect(remove.status).toBe(204);
    expect(await memberIds(group.id)).toEqual([a.id, c.id].sort());

    const rename = await scim(
      'PATCH',
      `/Groups/${group.id}`,
      patch({ op: 'Replace', path: 'displayName', value: `Renamed ${seq}` }),
    );
    expect(rename.status).toBe(204);
    expect((await scim('GET', `/Groups/${group.id}`)).body.displayName).toBe(`Renamed ${seq}`);
  });

  // Flag dialect: lower-case add, `members[value eq "id"]` removal with no value, path-less rename.
  it('applies group PATCHes in the flag dialect (members filter removal, path-less replace)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const group = await createGroup();
    expect(
      (
        await scim(
          'PATCH',
          `/Groups/${group.id}`,
          patch({ op: 'add', path: 'members', value: [{ value: a.id }, { value: b.id }] }),
        )
      ).status,
    ).toBe(204);
    const remove = await scim(
      'PATCH',
      `/Groups/${group.id}`,
      patch({ op: 'remove', path: `members[value eq "${a.id}"]` }),
    );
    expect(remove.status).toBe(204);
    expect(await memberIds(group.id)).toEqual([b.id]);
    const rename = await scim(
      'PATCH',
      `/Groups/${group.id}`,
      patch({ op: 'replace', value: { displayName: `Flag ${seq}`, externalId: 'gx' } }),
    );
    expect(rename.status).toBe(204);
    expect((await scim('GET', `/Groups/${group.id}`)).body).toMatchObject({
      displayName: `Flag ${seq}`,
      externalId: 'gx',
    });
    // Removing every member: remove with path members and no value.
    expect(
      (await scim('PATCH', `/Groups/${group.id}`, patch({ op: 'Remove', path: 'members' }))).status,
    ).toBe(204);
    expect(await memberIds(group.id)).toEqual([]);
  });

  // A PATCH adding an unknown user is 400 and applies nothing (not even its other operations).
  it('rejects unknown members atomically (400)', async () => {
    const a = await createUser();
    const group = await createGroup();
    const res = await scim(
      'PATCH',
      `/Groups/${group.id}`,
      patch(
        { op: 'Replace', path: 'displayName', value: 'never' },
        { op: 'Add', path: 'members', value: [{ value: a.id }, { value: 'ghost' }] },
      ),
    );
    expectScimError(res, 400, 'invalidValue');
    const after = await scim('GET', `/Groups/${group.id}`);
    expect(after.body.displayName).toBe(group.displayName);
    expect(after.body.members).toEqual([]);
  });

  // Renaming a group onto another group's displayName is 409 uniqueness.
  it('answers 409 when a rename collides', async () => {
    const a = await createGroup();
    const b = await createGroup();
    const res = await scim(
      'PATCH',
      `/Groups/${b.id}`,
      patch({ op: 'Replace', path: 'displayName', value: a.displayName }),
    );
    expectScimError(res, 409, 'uniqueness');
  });

  // Deleting a user takes it out of every group it belonged to.
  it('drops a deleted user from its groups', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const group = await createGroup(undefined, [a.id, b.id]);
    expect((await scim('DELETE', `/Users/${a.id}`)).status).toBe(204);
    expect(await memberIds(group.id)).toEqual([b.id]);
  });

  // PUT replaces a group including its members (200); DELETE answers 204 and the group is gone.
  it('replaces (200) and deletes (204) a group', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const group = await createGroup(undefined, [a.id]);
    const put = await scim('PUT', `/Groups/${group.id}`, {
      displayName: `Put ${seq}`,
      externalId: 'p',
      members: [{ value: b.id }],
    });
    expect(put.status).toBe(200);
    expect(put.body.members).toEqual([{ value: b.id, display: b.displayName }]);
    expect((await scim('DELETE', `/Groups/${group.id}`)).status).toBe(204);
    expectScimError(await scim('GET', `/Groups/${group.id}`), 404);
  });
});

describe('faults', () => {
  // tokenExpired turns every request, even a correct one, into a 401 SCIM error until it is cleared.
  it('tokenExpired answers 401 to everything, then recovers', async () => {
    target.setFaults({ tokenExpired: true });
    const res = await scim('GET', '/ServiceProviderConfig');
    expectScimError(res, 401);
    expect(res.body.detail).toMatch(/expired/);
    target.setFaults({ tokenExpired: false });
    expect((await scim('GET', '/ServiceProviderConfig')).status).toBe(200);
  });

  // errorRate 1 answers 500 with a SCIM error body.
  it('errorRate answers 500', async () => {
    target.setFaults({ errorRate: 1 });
    expectScimError(await scim('GET', '/Users'), 500);
  });

  // throttleRate 1 answers 429 with a Retry-After header.
  it('throttleRate answers 429 with Retry-After', async () => {
    target.setFaults({ throttleRate: 1 });
    const res = await scim('GET', '/Users');
    expectScimError(res, 429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  // Rates draw from the injected random source: throttle first, then error, one draw each.
  it('uses the injected random source, throttle before error', async () => {
    const draws = [0.9, 0.1, 0.4, 0.6, 0.9, 0.9];
    target.setFaults({ throttleRate: 0.5, errorRate: 0.5, random: () => draws.shift()! });
    expect((await scim('GET', '/ServiceProviderConfig')).status).toBe(500); // 0.9 no throttle, 0.1 error
    expect((await scim('GET', '/ServiceProviderConfig')).status).toBe(429); // 0.4 throttle
    expect((await scim('GET', '/ServiceProviderConfig')).status).toBe(200); // 0.6, 0.9 neither
    expect(draws).toEqual([0.9]);
  });

  // tokenExpired is checked before throttling and errors, as a real auth layer would be.
  it('applies tokenExpired before throttle and error', async () => {
    target.setFaults({ tokenExpired: true, throttleRate: 1, errorRate: 1 });
    expect((await scim('GET', '/Users')).status).toBe(401);
    target.setFaults({ tokenExpired: false });
    expect((await scim('GET', '/Users')).status).toBe(429);
  });

  // latencyMs delays answers by at least that long.
  it('latencyMs delays every answer', async () => {
    target.setFaults({ latencyMs: 150 });
    const started = performance.now();
    expect((await scim('GET', '/ServiceProviderConfig')).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  // nonCompliantFilter answers 404 to a filter with no match (what gets Entra to quarantine), 200 otherwise.
  it('nonCompliantFilter answers 404 instead of an empty ListResponse', async () => {
    const user = await createUser();
    target.setFaults({ nonCompliantFilter: true });
    expectScimError(await scim('GET', `/Users?${filterQuery('userName', PROBE_GUID)}`), 404);
    expectScimError(await scim('GET', `/Groups?${filterQuery('displayName', PROBE_GUID)}`), 404);
    expect((await scim('GET', `/Users?${filterQuery('userName', user.userName)}`)).body.totalResults).toBe(1);
  });

  // conflictUserNames always get 409 uniqueness on create, even when no such user exists.
  it('conflictUserNames answer 409 uniqueness on create', async () => {
    target.setFaults({ conflictUserNames: ['Stuck@Example.com'] });
    const res = await scim('POST', '/Users', newUser({ userName: 'stuck@example.com' }));
    expectScimError(res, 409, 'uniqueness');
    expect(
      (await scim('GET', `/Users?${filterQuery('userName', 'stuck@example.com')}`)).body.totalResults,
    ).toBe(0);
  });
});

describe('refused users (refuseUserShare)', () => {
  const userNames = Array.from({ length: 200 }, (_, i) => `drift${i}@example.com`);
  const faults = (share: number, salt = 7) => ({ refuseUserShare: share, refuseSalt: salt });

  // The refused users are a share of all users, and a larger share refuses every user a smaller one refused.
  it('picks about the share of users, a growing share keeping the users it refused', () => {
    const refused = (share: number, salt?: number) =>
      userNames.filter((u) => refusesUser(faults(share, salt), u));
    expect(refused(0)).toEqual([]);
    expect(refused(1)).toEqual(userNames);
    const third = refused(0.3);
    expect(third.length).toBeGreaterThan(40);
    expect(third.length).toBeLessThan(80);
    const more = new Set(refused(0.6));
    expect(third.every((u) => more.has(u))).toBe(true);
    expect(more.size).toBeGreaterThan(third.length);
    // another salt (another seed) picks other users; the userName's case does not matter
    expect(refused(0.3, 8)).not.toEqual(third);
    expect(refusesUser(faults(0.3), third[0]!.toUpperCase())).toBe(true);
  });

  // A refused user's create answers 409 uniqueness, its updates 400 invalidValue; its delete goes through.
  it('answers 409 to a create and 400 invalidValue to an update of a refused user, and lets others through', async () => {
    const user = await createUser({ title: 'Payroll Clerk' });
    target.setFaults({ refuseUserShare: 1 });
    expectScimError(await scim('POST', '/Users', newUser()), 409, 'uniqueness');
    const patch = {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    };
    const refused = await scim('PATCH', `/Users/${user.id}`, patch);
    expectScimError(refused, 400, 'invalidValue');
    expect(refused.body.detail).toContain('Payroll Clerk');
    expectScimError(
      await scim('PUT', `/Users/${user.id}`, newUser({ userName: user.userName })),
      400,
      'invalidValue',
    );
    // groups are not users: they go through
    expect(
      (await scim('POST', '/Groups', { displayName: `G ${++seq}`, externalId: `g-${seq}` })).status,
    ).toBe(201);
    target.setFaults({ refuseUserShare: 0 });
    expect((await scim('PATCH', `/Users/${user.id}`, patch)).status).toBe(200);
    target.setFaults({ refuseUserShare: 1 });
    expect((await scim('DELETE', `/Users/${user.id}`)).status).toBe(204);
  });

  it('rejects a share outside 0..1', () => {
    expect(() => target.setFaults({ refuseUserShare: 1.5 })).toThrow(RangeError);
  });
});

describe('bookkeeping and lifecycle', () => {
  // counts(), requests and reset() report and clear the target's state.
  it('counts resources and requests, and reset() clears them', async () => {
    const t = await startTarget({ faults: { errorRate: 0 } });
    try {
      const user = (await call(t, 'POST', '/Users', newUser())).body;
      await call(t, 'POST', '/Groups', { displayName: 'G', externalId: 'g', members: [{ value: user.id }] });
      await call(t, 'GET', '/Users', undefined, null);
      expect(t.counts()).toEqual({ users: 1, groups: 1 });
      expect(t.requests).toBe(3);
      t.reset();
      expect(t.counts()).toEqual({ users: 0, groups: 0 });
      expect(t.requests).toBe(0);
      expect(
        (await call(t, 'GET', `/Users?${filterQuery('userName', user.userName)}`)).body.totalResults,
      ).toBe(0);
      expect((await call(t, 'POST', '/Users', newUser({ userName: user.userName }))).status).toBe(201);
    } finally {
      await t.close();
    }
  });

  // close() ends open keep-alive connections and pending delayed answers, and frees the port for reuse.
  it('close() frees the port', async () => {
    const t = await startTarget({ faults: { latencyMs: 10_000 } });
    const pending = call(t, 'GET', '/Users').catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await t.close();
    expect(await pending).toBeInstanceOf(Error);
    await expect(fetch(`${t.url}/Users`)).rejects.toThrow();
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(t.port, '127.0.0.1', () => probe.close(() => resolve()));
    });
    await t.close(); // idempotent
  });
});
