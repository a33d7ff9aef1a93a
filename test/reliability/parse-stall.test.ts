import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import { percentile, request, sleep, until } from './lib.js';

// Issue 10 item 1: one hostile request must not stall forwarding. Classification ran on the proxy's event loop
// (the recorder's flush; now it runs on the log thread), so a quadratic parser there froze every other request: a 65,000-character filter for
// 2.5 s, eight 65,000-`[` attribute names for 18 s. Here the hostile requests go through the real listener while
// a normal lookup runs in a loop beside them; its worst latency is compared with its own baseline in the same run.

const LIST = JSON.stringify({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
  totalResults: 0,
  Resources: [],
});

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;

beforeAll(async () => {
  upstream = await startUpstream((r, res) => {
    const created = r.method === 'POST' && !r.url.includes('.search');
    res.writeHead(created ? 201 : 200, { 'content-type': 'application/scim+json' });
    res.end(created ? '{"id":"h-1","userName":"h"}' : LIST);
  });
  scimtap = await startTestScimtap(`${upstream.url}/scim/v2`);
});

afterAll(async () => {
  await scimtap?.stop();
  await upstream?.close();
});

const lookup = () =>
  request(scimtap.proxyUrl, {
    path: `/Users?filter=${encodeURIComponent('userName eq "normal@example.com"')}`,
    headers: { authorization: 'Bearer t0k3n-normal' },
  });

function operationCount(): number {
  scimtap.recorder.flush();
  return (scimtap.db.$client.prepare('select count(*) as n from operations').get() as { n: number }).n;
}

/**
 * Worst latency of a lookup loop while `hostile` runs and until what it sent has been recorded (classified),
 * then a little longer: the stall, if any, happens when the recorder classifies, after the answers are out.
 */
async function worstLatencyDuring(hostile: () => Promise<unknown>, expectedOps: number) {
  const before = operationCount();
  const latencies: number[] = [];
  let stop = false;
  const failures: string[] = [];
  const loop = (async () => {
    while (!stop) {
      const r = await lookup();
      if (r.status !== 200) failures.push(`${r.status} ${r.error}`);
      latencies.push(r.ms);
    }
  })();
  await sleep(30);
  await hostile();
  // each lookup is recorded too: wait until the hostile ones are among the written operations
  // Counted after the flush, not before: exchanges reach the log thread in batches every few ms, so the queue
  // seen before a flush is rarely empty while the lookups go on.
  await until(() => {
    const recorded = operationCount() - before;
    return scimtap.recorder.stats().queued === 0 && recorded >= expectedOps + latencies.length;
  }, 60_000);
  await sleep(100);
  stop = true;
  await loop;
  expect(failures).toEqual([]);
  return { worst: Math.max(...latencies), count: latencies.length };
}

const median = (xs: number[]) => percentile(xs, 50);

/** The single 64k filter: `POST /Users/.search` with 64,999 spaces and an `x`. */
const searchWith = (filter: string) => async () => {
  const r = await request(scimtap.proxyUrl, {
    method: 'POST',
    path: '/Users/.search',
    headers: { 'content-type': 'application/scim+json' },
    body: JSON.stringify({ filter }),
  });
  expect(r.status).toBe(200);
};

/** Eight creates at once, each with one attribute of `name(i)` (distinct names: nothing is remembered). */
const createsWith = (name: (i: number) => string) => async () => {
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      request(scimtap.proxyUrl, {
        method: 'POST',
        path: '/Users',
        headers: { 'content-type': 'application/scim+json' },
        body: `{"userName":"h${i}","${name(i)}":"v"}`,
      }),
    ),
  );
  for (const a of answers) expect(a.status).toBe(201);
};

let round = 0;
const hostileFilter = searchWith(`${' '.repeat(64_999)}x`);
// the control: the same bytes through the same listeners, in a shape every parser finds easy
const controlFilter = searchWith(`userName eq "${'a'.repeat(64_985)}"`);
const hostileBrackets = createsWith((i) => `${'['.repeat(64_990)}${round}-${i}`);
const controlBrackets = createsWith((i) => `${'a'.repeat(64_990)}${round}-${i}`);

/** Median over three trials of the worst lookup latency while `run` goes on. */
async function worst(run: () => Promise<void>, ops: number): Promise<number> {
  const trials: number[] = [];
  for (let t = 0; t < 3; t++) {
    round++;
    trials.push((await worstLatencyDuring(run, ops)).worst);
  }
  return median(trials);
}

describe('hostile requests do not stall forwarding', () => {
  it('a 65,000-character filter and eight 65,000-`[` attribute names add < 250 ms to a concurrent lookup', async () => {
    // warm up (first connections, JIT), then the baseline of the same lookup in the same run
    for (let i = 0; i < 10; i++) await lookup();
    await controlFilter();
    await controlBrackets();
    const baseline: number[] = [];
    for (let i = 0; i < 40; i++) baseline.push((await lookup()).ms);

    const filter = { control: await worst(controlFilter, 1), hostile: await worst(hostileFilter, 1) };
    const brackets = { control: await worst(controlBrackets, 8), hostile: await worst(hostileBrackets, 8) };
    console.log(
      `lookup alone: p50 ${median(baseline)} ms, max ${Math.max(...baseline)} ms. Worst lookup (median of 3 ` +
        `trials) beside one 64k filter: ${filter.hostile} ms (beside a plain 64k filter: ${filter.control} ms); ` +
        `beside 8 × 65k '[' names: ${brackets.hostile} ms (beside 8 × 65k plain names: ${brackets.control} ms)`,
    );
    // Added latency against the peer of the same size in the same run. The target is < 50 ms; the bound leaves
    // room for a loaded 2-core machine. Before the fix it was seconds.
    expect(filter.hostile - filter.control).toBeLessThan(250);
    expect(brackets.hostile - brackets.control).toBeLessThan(250);

    // Structural: the classifier gave up at its caps and said so in the reason.
    scimtap.recorder.flush();
    const reasons = scimtap.db.$client
      .prepare("select reason from operations where reason like 'scimtap did not parse%'")
      .all() as { reason: string }[];
    expect(reasons.filter((r) => r.reason.includes('the filter')).length).toBeGreaterThanOrEqual(4);
    expect(reasons.filter((r) => r.reason.includes('an attribute name')).length).toBeGreaterThanOrEqual(16);
  }, 180_000);
});
