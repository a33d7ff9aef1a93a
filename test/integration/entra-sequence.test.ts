import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMembersBody,
  createGroupBody,
  createUserBody,
  filterQuery,
  PROBE_GUID,
  patch2017Disable,
  patch2017Update,
  patch2020Update,
  removeMembers2017Body,
  removeMembers2020Body,
} from '../fixtures/entra.js';
import { send, sha256 } from '../helpers/http.js';
import { startScimmyUpstream } from '../helpers/scimmy-upstream.js';
import { startTestScimtap } from '../helpers/scimtap.js';

const token = `token-${'A1b2C3d4E5'.repeat(5)}f6G7h8I9`;
const headers = (body?: string) => ({
  authorization: `Bearer ${token}`,
  'user-agent': 'Microsoft.AAD.Provisioning/1.0',
  ...(body ? { 'content-type': 'application/scim+json', 'content-length': Buffer.byteLength(body) } : {}),
});

describe('an Entra-like sequence through scimtap to a real SCIM server (SCIMMY)', () => {
  let upstream: Awaited<ReturnType<typeof startScimmyUpstream>>;
  let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;
  const sent: { label: string; bodyHash: string | null; responseHash: string; status: number }[] = [];
  const directResponses: string[] = [];
  let sequenceEnd = 0;

  async function call(label: string, method: string, path: string, body?: unknown) {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await send(scimtap.proxyUrl, { method, path, headers: headers(text), body: text });
    sent.push({
      label,
      bodyHash: text ? sha256(text) : null,
      responseHash: sha256(res.body),
      status: res.status,
    });
    return {
      status: res.status,
      json: res.body.length ? JSON.parse(res.body.toString()) : null,
      raw: res.body,
    };
  }

  beforeAll(async () => {
    upstream = await startScimmyUpstream(token);
    scimtap = await startTestScimtap(upstream.url);

    const userName = 'ada.lovelace@contoso.example';
    const probe = await call('probe', 'GET', `/Users?${filterQuery('userName', PROBE_GUID)}`);
    expect(probe.status).toBe(200);
    await call('lookup', 'GET', `/Users?${filterQuery('userName', userName)}`);
    const created = await call(
      'create',
      'POST',
      '/Users',
      createUserBody({ userName, externalId: 'ada-ext', password: 'Sup3r-Secret-Pa55!' }),
    );
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    await call('update2017', 'PATCH', `/Users/${id}`, patch2017Update);
    await call('update2020', 'PATCH', `/Users/${id}`, patch2020Update);
    await call('disable', 'PATCH', `/Users/${id}`, patch2017Disable);
    await call(
      'groupLookup',
      'GET',
      `/Groups?excludedAttributes=members&${filterQuery('displayName', 'Finance')}`,
    );
    const group = await call('groupCreate', 'POST', '/Groups', createGroupBody({ displayName: 'Finance' }));
    const gid = group.json.id as string;
    await call('addMembers', 'PATCH', `/Groups/${gid}`, addMembersBody([id]));
    await call('removeMembers2017', 'PATCH', `/Groups/${gid}`, removeMembers2017Body([id]));
    await call('addMembersAgain', 'PATCH', `/Groups/${gid}`, addMembersBody([id]));
    await call('removeMembers2020', 'PATCH', `/Groups/${gid}`, removeMembers2020Body([id]));
    await call('deleteUser', 'DELETE', `/Users/${id}`);
    await call('deleteGroup', 'DELETE', `/Groups/${gid}`);

    // The same read straight from the upstream, to compare what the client got through the proxy.
    const direct = await send(
      `${upstream.url}/Groups?excludedAttributes=members&${filterQuery('displayName', 'Nobody')}`,
      {
        headers: headers(),
      },
    );
    directResponses.push(sha256(direct.body));
    scimtap.recorder.flush();
    // Later tests send more traffic through the proxy; this one checks only the sequence above.
    sequenceEnd = (scimtap.db.$client.prepare('select max(id) as n from operations').get() as { n: number })
      .n;
  });

  afterAll(async () => {
    await scimtap?.stop();
    await upstream?.close();
  });

  it('delivers byte-identical request bodies to the upstream', () => {
    const withBodies = sent.filter((s) => s.bodyHash);
    const upstreamHashes = upstream.received.filter((r) => r.bodyLength > 0).map((r) => r.bodyHash);
    expect(upstreamHashes).toEqual(withBodies.map((s) => s.bodyHash));
  });

  it('returns byte-identical responses to the client', async () => {
    const viaProxy = await send(
      `${scimtap.proxyUrl}/Groups?excludedAttributes=members&${filterQuery('displayName', 'Nobody')}`,
      { headers: headers() },
    );
    expect(sha256(viaProxy.body)).toBe(directResponses[0]);
  });

  it('records every exchange with the expected operation, action, status and identity', () => {
    const rows = scimtap.db.$client
      .prepare(
        'select operation, provisioning_action as action, status, identity_type as type, identity, http_status as http from operations where id <= ? order by id',
      )
      .all(sequenceEnd) as {
      operation: string;
      action: string;
      status: string;
      type: string | null;
      identity: string | null;
      http: number;
    }[];
    const userName = 'ada.lovelace@contoso.example';
    const reasons = scimtap.db.$client
      .prepare('select reason from operations where status != ?')
      .all('success');
    expect(reasons).toEqual([]);
    expect(rows.map((r) => [r.operation, r.action, r.status])).toEqual([
      ['testConnection', 'other', 'success'],
      ['lookup', 'other', 'success'],
      ['create', 'create', 'success'],
      ['update', 'update', 'success'],
      ['update', 'update', 'success'],
      ['disable', 'disable', 'success'],
      ['lookup', 'other', 'success'],
      ['create', 'create', 'success'],
      ['addMembers', 'update', 'success'],
      ['removeMembers', 'update', 'success'],
      ['addMembers', 'update', 'success'],
      ['removeMembers', 'update', 'success'],
      ['delete', 'delete', 'success'],
      ['delete', 'delete', 'success'],
    ]);
    expect(rows[1]).toMatchObject({ type: 'User', identity: userName });
    expect(rows[2]).toMatchObject({ type: 'User', identity: userName, http: 201 });
    expect(rows[6]).toMatchObject({ type: 'Group', identity: 'Finance' });
    expect(rows[7]).toMatchObject({ type: 'Group', identity: 'Finance', http: 201 });
  });

  it('keeps neither the bearer token nor a password in the database files', () => {
    scimtap.recorder.flush();
    for (const file of [scimtap.dbPath, `${scimtap.dbPath}-wal`]) {
      const bytes = readFileSync(file);
      expect(bytes.includes(Buffer.from(token)), `${file} holds the token`).toBe(false);
      expect(bytes.includes(Buffer.from('Sup3r-Secret-Pa55!')), `${file} holds the password`).toBe(false);
    }
    const fingerprints = scimtap.db.$client
      .prepare('select distinct token_fingerprint as f from operations')
      .all();
    expect(fingerprints).toEqual([{ f: sha256(token).slice(0, 12) }]);
  });
});
