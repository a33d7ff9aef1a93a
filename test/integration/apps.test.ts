import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Scimtap, startScimtap } from '../../server/main.js';
import { startScimmyUpstream } from '../helpers/scimmy-upstream.js';
import { loadFileConfig } from '../helpers/scimtap.js';

// An `apps` list of one (issue 14): Entra's Tenant URL is https://<scimtap>/<id>/, the rest of the path reaches
// the app's upstream as it came, the app's own settings run the pipeline, and a path that names no app is
// answered by scimtap, counted, and recorded nowhere.

const token = 'apps-test-token-0123456789';

describe('an apps list of one, through the real proxy', () => {
  let upstream: Awaited<ReturnType<typeof startScimmyUpstream>>;
  let scimtap: Scimtap;
  const scim = (path: string, init: RequestInit = {}) =>
    fetch(`${scimtap.proxyUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', ...init.headers },
    });
  const api = async (path: string) => (await fetch(`${scimtap.adminUrl}/api${path}`)).json();

  beforeAll(async () => {
    upstream = await startScimmyUpstream(token);
    const { config } = loadFileConfig({
      appName: 'not this one',
      apps: [{ id: 'tanium', name: 'Tanium SSO', upstream: upstream.url, rules: { tooManyDeletes: 7 } }],
    });
    scimtap = await startScimtap(config, { logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await scimtap?.stop();
    await upstream?.close();
  });

  it("forwards /<id>/... to the app's upstream without the prefix, and records the app's own path", async () => {
    const created = await scim('/tanium/Users', {
      method: 'POST',
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'ada@contoso.example',
        active: true,
      }),
    });
    expect(created.status).toBe(201);
    const found = await scim('/tanium/Users?filter=userName%20eq%20%22ada%40contoso.example%22');
    expect((await found.json()).totalResults).toBe(1);
    expect(upstream.received.map((r) => r.url)).toEqual([
      '/scim/v2/Users',
      '/scim/v2/Users?filter=userName%20eq%20%22ada%40contoso.example%22',
    ]);

    await scimtap.recorder.flush();
    const { items } = await api('/operations');
    expect(items.map((o: { path: string; operation: string }) => [o.path, o.operation])).toEqual([
      ['/Users', 'lookup'],
      ['/Users', 'create'],
    ]);
  });

  it('answers a path that names no app with a SCIM 404, records nothing and counts it', async () => {
    const before = (await api('/operations')).items.length;
    for (const path of ['/Users', '/other/Users', '/TANIUM/Users']) {
      const res = await scim(path);
      expect(res.status).toBe(404);
      expect((await res.json()).schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    }
    await scimtap.recorder.flush();
    expect((await api('/operations')).items.length).toBe(before);
    expect(upstream.received.length).toBe(2);
    const metrics = await (await fetch(`${scimtap.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^scimtap_proxy_unknown_app_requests_total 3$/m);
  });

  it("runs the pipeline with the app's name", async () => {
    const health = await api('/health');
    expect(health.appName).toBe('Tanium SSO');
  });
});
