import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminListener } from './index.js';

// The dashboard's HTML comes with a preload of the apps list, which every page's first render waits for.
describe('the app shell', () => {
  let webRoot: string;
  const preload = '</api/apps>; rel=preload; as=fetch; crossorigin=anonymous';
  const listener = (adminToken?: string) => createAdminListener({ apps: () => [], webRoot, adminToken });

  beforeAll(() => {
    webRoot = mkdtempSync(join(tmpdir(), 'scimtap-shell-'));
    mkdirSync(join(webRoot, 'assets'));
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>scimtap</title>');
    writeFileSync(join(webRoot, 'assets', 'app.js'), 'console.log("dashboard")');
  });
  afterAll(() => rmSync(webRoot, { recursive: true, force: true }));

  it('preloads /api/apps with the shell, at / and at a client-side route', async () => {
    for (const path of ['/', '/apps/tanium/incidents/7']) {
      const res = await listener().request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(res.headers.get('link'), path).toBe(preload);
    }
  });

  it('not with scripts nor API answers', async () => {
    expect((await listener().request('/assets/app.js')).headers.get('link')).toBeNull();
    expect((await listener().request('/api/apps')).headers.get('link')).toBeNull();
  });

  it('not with an admin token: the preload could not send it', async () => {
    const res = await listener('s3cret-admin-token').request('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('link')).toBeNull();
  });
});
