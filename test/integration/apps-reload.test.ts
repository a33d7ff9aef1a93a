import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { ReloadRefused, type Scimtap, startScimtap } from '../../server/main.js';
import { send, startUpstream } from '../helpers/http.js';

// Reload (issue 14): the apps of an edited file replace the running ones while traffic flows, and not one
// operation is lost or doubled: an app that stays never stops, a removed app's proxy finishes and records what
// it forwarded before its database closes.

type Upstream = Awaited<ReturnType<typeof startUpstream>>;
const listResponse = JSON.stringify({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
  totalResults: 0,
  Resources: [],
});

describe('reloading the apps', () => {
  let dir: string;
  let file: string;
  let scimtap: Scimtap;
  const upstreams: Record<string, Upstream> = {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const env = () => ({
    SCIMTAP_CONFIG: file,
    SCIMTAP_LISTEN: '127.0.0.1:0',
    SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
    SCIMTAP_DB: join(dir, 'scimtap.db'),
  });
  const load = () => loadConfig(env(), [], undefined, { command: 'serve' });
  const writeApps = (ids: string[], extra: Record<string, Record<string, unknown>> = {}) =>
    writeFileSync(
      file,
      JSON.stringify({
        apps: ids.map((id) => ({ id, name: `App ${id}`, upstream: upstreams[id].url, ...extra[id] })),
      }),
    );
  /** A GET as Entra's lookup, on a kept-alive connection: its status. */
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const { port } = new URL(scimtap.proxyUrl);
      http
        .get({ port, path, agent, headers: { authorization: 'Bearer t' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
  /** `n` requests to `path`, one every `everyMs`: their statuses once all are answered. */
  const stream = async (path: string, n: number, everyMs: number) => {
    const answers: Promise<number>[] = [];
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const wait = start + i * everyMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      answers.push(get(`${path}?filter=userName%20eq%20%22u${i}%22`));
    }
    return Promise.all(answers);
  };
  const until = async (done: () => boolean) => {
    const end = Date.now() + 10_000;
    while (!done()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const recorded = (id: string) => {
    const p = scimtap.apps[id];
    p.recorder.flush();
    return (p.db.$client.prepare('SELECT count(*) AS n FROM operations').get() as { n: number }).n;
  };
  const inFile = (path: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM operations').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  /** the sample lines of /metrics labelled with app `id` */
  const metricsOf = async (id: string) =>
    (await send(`${scimtap.adminUrl}/metrics`)).body
      .toString()
      .split('\n')
      .filter((l) => !l.startsWith('#') && l.includes(`app="${id}"`));
  // biome-ignore lint/suspicious/noExplicitAny: API JSON, asserted field by field
  const api = async (path: string): Promise<any> =>
    JSON.parse((await send(`${scimtap.adminUrl}/api${path}`)).body.toString());

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scimtap-reload-'));
    file = join(dir, 'scimtap.json');
    for (const id of ['a', 'b', 'c']) {
      upstreams[id] = await startUpstream((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/scim+json' });
        res.end(listResponse);
      });
    }
    writeApps(['a', 'b']);
    scimtap = await startScimtap(load(), { logger: pino({ level: 'silent' }), periodicJobs: false });
  });
  afterAll(async () => {
    await scimtap?.stop();
    agent.destroy();
    for (const u of Object.values(upstreams)) await u.close();
  });

  it('adds and removes an app with traffic flowing, and loses no operation', async () => {
    // a: 200 requests at 100/s, through the reload; b: 100 at 50/s, removed halfway through them.
    expect(await metricsOf('b')).toContainEqual(expect.stringMatching(/^scimtap_recorder_queue_depth/));
    const toA = stream('/a/Users', 200, 10);
    const toB = stream('/b/Users', 100, 20);
    // mid-stream on both, whatever the machine's speed
    await until(() => upstreams.b.received.length >= 30 && upstreams.a.received.length >= 30);
    writeApps(['a', 'c']);
    const summary = await scimtap.reload(load());
    expect(summary).toMatchObject({
      added: ['c'],
      removed: ['b'],
      replaced: [],
      unchanged: ['a'],
      failed: [],
    });
    const [aStatuses, bStatuses] = await Promise.all([toA, toB]);

    // a never stopped: every request answered by its upstream, recorded once.
    expect(aStatuses.every((s) => s === 200)).toBe(true);
    expect(upstreams.a.received).toHaveLength(200);
    expect(recorded('a')).toBe(200);

    // b: what it forwarded before the reload is all in its database file, which stays; afterwards, unknown app.
    const forwarded = bStatuses.filter((s) => s === 200).length;
    expect(forwarded).toBeGreaterThanOrEqual(30);
    expect(forwarded).toBeLessThan(100);
    // (in the order they reached the listener, which on a shared pool of connections is not quite the order sent)
    expect(bStatuses.every((s) => s === 200 || s === 404)).toBe(true);
    expect(bStatuses.at(-1)).toBe(404);
    expect(upstreams.b.received).toHaveLength(forwarded);
    expect(inFile(join(dir, 'scimtap-b.db'))).toBe(forwarded);
    expect(await get('/b/Users')).toBe(404);

    // c answers and records.
    expect(await get('/c/Users')).toBe(200);
    expect(recorded('c')).toBe(1);
    expect(Object.keys(scimtap.apps).sort()).toEqual(['a', 'c']);
    const listed = (await api('/apps')).apps.map((x: { id: string }) => x.id).sort();
    expect(listed).toEqual(['a', 'c']);
    expect((await api('/operations?app=c')).items).toHaveLength(1);
    expect((await send(`${scimtap.adminUrl}/api/operations?app=b`)).status).toBe(404);

    // b's series are gone from /metrics, those counted per operation as well as those read at scrape time.
    expect(await metricsOf('b')).toEqual([]);
    expect(await metricsOf('a')).toContainEqual(expect.stringMatching(/^scimtap_operations_total\{/));
  });

  it('restarts a changed app on the same database, keeping its history', async () => {
    const before = recorded('c');
    const answeredBefore = upstreams.c.received.length;
    const toC = stream('/c/Users', 60, 10);
    await until(() => upstreams.c.received.length >= answeredBefore + 10);
    writeApps(['a', 'c'], { c: { name: 'App C, renamed', notifyTo: ['c-owner@example.com'] } });
    const summary = await scimtap.reload(load());
    expect(summary).toMatchObject({ added: [], removed: [], replaced: ['c'], unchanged: ['a'], failed: [] });
    const statuses = await toC;
    // Between the old pipeline's stop and the new one's start, requests to /c/ get a 503 to retry (never the
    // unknown-app 404: the app is not gone); every request the upstream answered is recorded, once.
    const forwarded = statuses.filter((s) => s === 200).length;
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(upstreams.c.received).toHaveLength(answeredBefore + forwarded);
    expect(forwarded).toBeGreaterThanOrEqual(10);
    expect(recorded('c')).toBe(before + forwarded);
    expect(scimtap.apps.c.app.name).toBe('App C, renamed');
    expect(scimtap.apps.c.config.db).toBe(join(dir, 'scimtap-c.db'));
    const row = (await api('/apps')).apps.find((x: { id: string }) => x.id === 'c');
    expect(row.name).toBe('App C, renamed');
    // The new pipeline counts from zero (its requests so far were few or none: it starts counting now), into
    // one series per label set: the old pipeline's are gone, not beside them.
    const counted = async () =>
      (await metricsOf('c'))
        .filter((l) => l.startsWith('scimtap_operations_total{'))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const since = await counted();
    expect(since).toBeLessThanOrEqual(forwarded);
    expect(await get('/c/Users')).toBe(200);
    scimtap.apps.c.recorder.flush();
    expect(await counted()).toBe(since + 1);
    const series = (await metricsOf('c')).map((l) => l.slice(0, l.lastIndexOf(' ')));
    expect(new Set(series).size).toBe(series.length);
  });

  it('refuses a file with problems, listing each, and the running apps keep answering', async () => {
    writeFileSync(
      file,
      JSON.stringify({
        apps: [
          { id: 'a', name: 'App A', upstream: upstreams.a.url },
          { id: 'Not An Id', name: 'Bad id', upstream: upstreams.c.url },
          { id: 'e', name: 'Bad upstream', upstream: 'not a url' },
        ],
      }),
    );
    let error: unknown;
    try {
      load();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/apps\.1\.id/);
    expect(problems[1]).toMatch(/apps\.2\.upstream/);
    expect(await get('/a/Users')).toBe(200);
    expect(await get('/c/Users')).toBe(200);
  });

  it('refuses to switch between an apps list and SCIMTAP_UPSTREAM alone, keeping the running apps', async () => {
    writeFileSync(file, JSON.stringify({ logLevel: 'info' }));
    const single = loadConfig({ ...env(), SCIMTAP_UPSTREAM: upstreams.a.url }, [], undefined, {
      command: 'serve',
    });
    await expect(scimtap.reload(single)).rejects.toBeInstanceOf(ReloadRefused);
    await expect(scimtap.reload(single)).rejects.toThrow(/needs a restart/);
    expect(Object.keys(scimtap.apps).sort()).toEqual(['a', 'c']);
    expect(await get('/a/Users')).toBe(200);
  });

  it('names the settings that need a restart and keeps their running values', async () => {
    writeApps(['a', 'c'], { c: { name: 'App C, renamed', notifyTo: ['c-owner@example.com'] } });
    const next = loadConfig({ ...env(), SCIMTAP_ADMIN_TOKEN: 'x'.repeat(32) }, [], undefined, {
      command: 'serve',
    });
    const summary = await scimtap.reload(next);
    expect(summary).toMatchObject({ unchanged: ['a', 'c'], needRestart: ['adminToken'] });
    // still no token asked for
    expect((await send(`${scimtap.adminUrl}/api/apps`)).status).toBe(200);
  });

  it('keeps the running apps when a new app cannot start, and says which failed', async () => {
    writeFileSync(
      file,
      JSON.stringify({
        apps: [
          { id: 'a', name: 'App a', upstream: upstreams.a.url },
          { id: 'c', name: 'App C, renamed', upstream: upstreams.c.url, notifyTo: ['c-owner@example.com'] },
          { id: 'd', name: 'App D', upstream: upstreams.b.url },
        ],
      }),
    );
    // d's database file cannot be created: its path is a directory.
    mkdirSync(join(dir, 'scimtap-d.db'));
    const summary = await scimtap.reload(load());
    expect(summary.failed).toEqual([{ id: 'd', step: 'add', error: expect.any(String) }]);
    expect(summary.unchanged).toEqual(['a', 'c']);
    expect(Object.keys(scimtap.apps).sort()).toEqual(['a', 'c']);
    expect(await get('/a/Users')).toBe(200);
    expect(await get('/d/Users')).toBe(404);
  });
});
