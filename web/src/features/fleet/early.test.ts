import { afterEach, describe, expect, it, vi } from 'vitest';
import { getApps } from './api.js';
import { requestAppsEarly, takeEarlyApps } from './early.js';

const answer = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('the early apps request', () => {
  afterEach(() => {
    takeEarlyApps();
    vi.unstubAllGlobals();
  });

  it("is the first read's answer, and only the first's", async () => {
    const fetch = vi.fn(async () => answer(200, { apps: [] }));
    vi.stubGlobal('fetch', fetch);
    requestAppsEarly();
    // no header of its own: it must match the preload the HTML came with
    expect(fetch).toHaveBeenLastCalledWith('/api/apps', { headers: {} });
    expect(await getApps()).toEqual({ apps: [] });
    expect(fetch).toHaveBeenCalledTimes(1);
    await getApps();
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(fetch).toHaveBeenLastCalledWith(
      '/api/apps',
      expect.objectContaining({ headers: { accept: 'application/json' } }),
    );
  });

  it('reads as a normal answer: a 404 is a scimtap without the list, a 401 an error', async () => {
    vi.stubGlobal('fetch', async () => answer(404, { error: 'notFound', message: 'no route' }));
    requestAppsEarly();
    expect(await getApps()).toBeNull();
    vi.stubGlobal('fetch', async () => answer(401, { error: 'unauthorized', message: 'token' }));
    requestAppsEarly();
    await expect(getApps()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });
});
