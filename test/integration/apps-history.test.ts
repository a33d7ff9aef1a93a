import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { type Scimtap, startScimtap } from '../../server/main.js';
import { send, startUpstream } from '../helpers/http.js';

// Moving the one app of SCIMTAP_UPSTREAM into an `apps` list of several: each app of the list records into a file
// of its own, so the single app's history stays in SCIMTAP_DB's file. scimtap says so once at startup, with the
// line that keeps it, and an entry's `db` keeps it.

const listResponse = JSON.stringify({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
  totalResults: 0,
  Resources: [],
});

describe("an app moved into a list keeps its history in the file its entry's db names", () => {
  let dir: string;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  const running: Scimtap[] = [];
  const env = (more: Record<string, string> = {}) => ({
    SCIMTAP_LISTEN: '127.0.0.1:0',
    SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
    SCIMTAP_DB: join(dir, 'scimtap.db'),
    ...more,
  });
  const loadApps = (apps: Record<string, unknown>[]) => {
    writeFileSync(join(dir, 'scimtap.json'), JSON.stringify({ apps }));
    return loadConfig(env({ SCIMTAP_CONFIG: join(dir, 'scimtap.json') }), [], undefined, {
      command: 'serve',
    });
  };
  const entry = (id: string, more: Record<string, unknown> = {}) => ({
    id,
    name: `App ${id}`,
    upstream: upstream.url,
    ...more,
  });
  /** scimtap with `config`, and the warnings it logs */
  const start = async (config: ReturnType<typeof loadConfig>) => {
    const warnings: { msg: string; db?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const scimtap = await startScimtap(config, { logger, periodicJobs: false });
    running.push(scimtap);
    return { scimtap, warnings };
  };
  const stop = async (scimtap: Scimtap) => {
    await scimtap.stop();
    running.splice(running.indexOf(scimtap), 1);
  };
  const lookup = (scimtap: Scimtap, prefix: string) =>
    send(`${scimtap.proxyUrl}${prefix}/Users?filter=userName%20eq%20%22ada%22`, {
      headers: { authorization: 'Bearer t' },
    });
  const operations = async (scimtap: Scimtap, app: string) =>
    JSON.parse((await send(`${scimtap.adminUrl}/api/operations?app=${app}`)).body.toString()).items;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scimtap-history-'));
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/scim+json' });
      res.end(listResponse);
    });
    // The history: scimtap ran one app (SCIMTAP_UPSTREAM) into SCIMTAP_DB and recorded two operations.
    const single = loadConfig(env({ SCIMTAP_UPSTREAM: upstream.url }), [], undefined, { command: 'serve' });
    const { scimtap } = await start(single);
    for (let i = 0; i < 2; i++) expect((await lookup(scimtap, '')).status).toBe(200);
    scimtap.recorder.flush();
    await stop(scimtap);
  });
  afterAll(async () => {
    for (const scimtap of [...running]) await scimtap.stop();
    await upstream?.close();
  });

  it('warns once, naming the file and the line that keeps it, when no app of the list records into it', async () => {
    const { scimtap, warnings } = await start(loadApps([entry('tanium'), entry('hr')]));
    expect(scimtap.apps.tanium.config.db).toBe(join(dir, 'scimtap-tanium.db'));
    expect(scimtap.apps.hr.config.db).toBe(join(dir, 'scimtap-hr.db'));
    const about = warnings.filter((w) => w.db === join(dir, 'scimtap.db'));
    expect(about).toHaveLength(1);
    expect(about[0].msg).toContain(`${join(dir, 'scimtap.db')} (SCIMTAP_DB) holds the operations`);
    expect(about[0].msg).toContain(`tanium into ${join(dir, 'scimtap-tanium.db')}`);
    expect(about[0].msg.endsWith(`"db": ${JSON.stringify(join(dir, 'scimtap.db'))}`)).toBe(true);
    // a reload does not say it again
    expect((await scimtap.reload(loadApps([entry('tanium'), entry('hr', { name: 'HR' })]))).replaced).toEqual(
      ['hr'],
    );
    expect(warnings.filter((w) => w.db === join(dir, 'scimtap.db'))).toHaveLength(1);
    expect(await operations(scimtap, 'tanium')).toHaveLength(0);
    await stop(scimtap);
  });

  it('records into the named file: the history is there, and nothing is said', async () => {
    const db = join(dir, 'scimtap.db');
    const { scimtap, warnings } = await start(loadApps([entry('tanium', { db }), entry('hr')]));
    expect(scimtap.apps.tanium.config.db).toBe(db);
    expect(scimtap.apps.hr.config.db).toBe(join(dir, 'scimtap-hr.db'));
    expect(warnings.filter((w) => w.db === db)).toEqual([]);
    expect(await operations(scimtap, 'tanium')).toHaveLength(2);
    expect((await lookup(scimtap, '/tanium')).status).toBe(200);
    scimtap.apps.tanium.recorder.flush();
    expect(await operations(scimtap, 'tanium')).toHaveLength(3);
    await stop(scimtap);
  });

  it('restarts an app whose db changed on the new file, and back on its own when the entry names none', async () => {
    const db = join(dir, 'scimtap.db');
    const { scimtap } = await start(loadApps([entry('tanium'), entry('hr')]));
    const moved = await scimtap.reload(loadApps([entry('tanium', { db }), entry('hr')]));
    expect(moved).toMatchObject({ replaced: ['tanium'], unchanged: ['hr'], failed: [] });
    expect(scimtap.apps.tanium.config.db).toBe(db);
    expect(await operations(scimtap, 'tanium')).toHaveLength(3);
    const back = await scimtap.reload(loadApps([entry('tanium'), entry('hr')]));
    expect(back).toMatchObject({ replaced: ['tanium'], failed: [] });
    // where a restart would put it: its own file beside SCIMTAP_DB
    expect(scimtap.apps.tanium.config.db).toBe(join(dir, 'scimtap-tanium.db'));
    await stop(scimtap);
  });

  it('refuses to start an app on a file another running app records into, and the others keep running', async () => {
    const db = join(dir, 'scimtap.db');
    // A list of one runs its app on SCIMTAP_DB itself; grown by a reload, that app keeps the file it runs on.
    const { scimtap } = await start(loadApps([entry('tanium')]));
    expect(scimtap.apps.tanium.config.db).toBe(db);
    const summary = await scimtap.reload(loadApps([entry('tanium'), entry('hr', { db })]));
    expect(summary.failed).toEqual([
      { id: 'hr', step: 'add', error: `app hr: its database ${db} is in use by app tanium` },
    ]);
    expect(Object.keys(scimtap.apps)).toEqual(['tanium']);
    expect((await lookup(scimtap, '/tanium')).status).toBe(200);
    await stop(scimtap);
  });
});
