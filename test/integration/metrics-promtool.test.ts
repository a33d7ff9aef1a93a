import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';

// /metrics must follow Prometheus's naming and type conventions, as Prometheus's own linter reads them
// (Debian's `prometheus` package ships promtool; .ci/run installs it).
const PROMTOOL = '/usr/bin/promtool';

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;

beforeAll(async () => {
  upstream = await startUpstream((r, res) => {
    res.writeHead(r.method === 'POST' ? 201 : 200, { 'content-type': 'application/scim+json' });
    res.end(
      '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}',
    );
  });
  scimtap = await startTestScimtap(`${upstream.url}/scim/v2`);
  // Some traffic, so labelled series and the histogram have samples.
  for (const path of ['/Users?filter=userName%20eq%20%22ada%40example.com%22', '/Groups', '/Users/u-1']) {
    await fetch(`${scimtap.proxyUrl}${path}`, { headers: { authorization: 'Bearer a-test-token-0123' } });
  }
  const until = Date.now() + 5_000;
  while (scimtap.recorder.stats().written < 3 && Date.now() < until)
    await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  await scimtap?.stop();
  await upstream?.close();
});

describe('GET /metrics through the admin listener', () => {
  it('passes `promtool check metrics` with no lint problem', async () => {
    expect(existsSync(PROMTOOL), `${PROMTOOL} is missing: apt-get install -y prometheus`).toBe(true);
    const body = await (await fetch(`${scimtap.adminUrl}/metrics`)).text();
    expect(body).toContain('scimtap_operations_total{');
    const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: body, encoding: 'utf8' });
    expect({ status: run.status, out: `${run.stdout}${run.stderr}`.trim() }).toEqual({ status: 0, out: '' });
  });

  it('names each metric once: no doubled `process_` prefix, and `_total` only on counters', async () => {
    const body = await (await fetch(`${scimtap.adminUrl}/metrics`)).text();
    expect(body).not.toMatch(/process_process_/);
    expect(body).toMatch(/^# TYPE scimtap_process_cpu_seconds_total counter$/m);
    expect(body).toMatch(/^# TYPE scimtap_recorder_dropped_total counter$/m);
    expect(body).toMatch(/^# TYPE scimtap_recorder_written_total counter$/m);
    for (const [, name, type] of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      if (name.endsWith('_total')) expect(`${name} ${type}`).toBe(`${name} counter`);
    }
  });
});
