import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../../server/demo/target/index.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import { EntraClient } from './alerts-harness.js';

// Entra's provisioning log names the target of a delete; scimtap's names the target of every call addressed by
// id (updates, disables, deletes, member changes) with the name it learnt from the lookup or create.

let target: Target;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;

beforeAll(async () => {
  target = await startTarget();
  scimtap = await startTestScimtap(new URL(target.url).origin);
  const entra = new EntraClient(() => scimtap.proxyUrl, target.token);
  await entra.probe();
  await entra.provision('ada@example.com');
  await entra.update('ada@example.com', 'Ada L.');
  await entra.disable('ada@example.com');
  const group = await entra.request('POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Engineering',
    externalId: 'eng',
  });
  await entra.request('PATCH', `/Groups/${group.body.id}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'Add', path: 'members', value: [{ value: entra.ids.get('ada@example.com') }] }],
  });
  await entra.request('DELETE', `/Users/${entra.ids.get('ada@example.com')}`);
  scimtap.recorder.flush();
});

afterAll(async () => {
  await scimtap?.stop();
  await target?.close();
});

describe('the provisioning log names the target of calls addressed by id', () => {
  it('in the API', async () => {
    const { items } = (await (await fetch(`${scimtap.adminUrl}/api/operations?limit=100`)).json()) as {
      items: { operation: string; identity: string | null; targetId: string | null }[];
    };
    const byOperation = Object.fromEntries(items.map((o) => [o.operation, o.identity]));
    expect(byOperation).toMatchObject({
      update: 'ada@example.com',
      disable: 'ada@example.com',
      delete: 'ada@example.com',
      addMembers: 'Engineering',
    });
    for (const o of items.filter((i) => i.targetId)) expect(o.identity, o.operation).toBeTruthy();
  });

  it('in the CSV', async () => {
    const rows = parse(await (await fetch(`${scimtap.adminUrl}/api/export.csv`)).text(), {
      columns: true,
    }) as Record<string, string>[];
    const del = rows.find((r) => r.operation === 'delete');
    expect(del?.identity).toBe('ada@example.com');
    expect(rows.find((r) => r.operation === 'addMembers')?.identity).toBe('Engineering');
  });
});
