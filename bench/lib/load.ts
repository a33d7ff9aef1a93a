import http from 'node:http';

export interface Target {
  host: string;
  port: number;
}

const lookupPath = '/scim/v2/Users?filter=userName+eq+%22ada%40contoso.example%22';
const createBody = JSON.stringify({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName: 'ada@contoso.example',
  externalId: 'ada',
  active: true,
  displayName: 'Ada Lovelace',
  password: 'not-a-real-password',
});

/** One request on a keep-alive agent; resolves with the latency in ms (rejects on error). */
function once(agent: http.Agent, t: Target, post: boolean): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: t.host,
        port: t.port,
        agent,
        method: post ? 'POST' : 'GET',
        path: post ? '/scim/v2/Users' : lookupPath,
        headers: {
          authorization: 'Bearer token-benchmark',
          ...(post
            ? { 'content-type': 'application/scim+json', 'content-length': Buffer.byteLength(createBody) }
            : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 500) reject(new Error(`HTTP ${res.statusCode}`));
          else resolve(Number(process.hrtime.bigint() - started) / 1e6);
        });
      },
    );
    req.on('error', reject);
    req.end(post ? createBody : undefined);
  });
}

/** Closed loop: `connections` clients send back to back for `ms`; returns requests per second. */
export async function throughput(
  t: Target,
  ms: number,
  connections = 64,
): Promise<{ rps: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const end = Date.now() + ms;
  let done = 0;
  let errors = 0;
  let n = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        try {
          await once(agent, t, n++ % 4 === 0);
          done++;
        } catch {
          errors++;
        }
      }
    }),
  );
  agent.destroy();
  return { rps: done / (ms / 1000), errors };
}

/**
 * Open loop: requests evenly spaced at `rate`/s for `ms`; latency measured from each request's start.
 * `kind`: only lookups (GET), only creates (POST), or the 3:1 mix.
 */
export async function pacedLatency(
  t: Target,
  rate: number,
  ms: number,
  kind: 'get' | 'post' | 'mix' = 'mix',
): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.floor((rate * ms) / 1000);
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    else if (wait > 0) await new Promise((r) => setImmediate(r));
    pending.push(
      once(agent, t, kind === 'post' || (kind === 'mix' && i % 4 === 0)).then(
        (l) => {
          latencies.push(l);
        },
        () => {},
      ),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return latencies;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Each round's ratio of `measured` to `peer` (run back to back in that round), and a warning when the peer itself
 * moved more than 25% across rounds. On these shared cores the host's other tenants can slow one round of the
 * peer by half: then the median ratio says more about the machine than about scimtap, and this says so.
 */
export function roundRatios(label: string, measured: number[], peer: number[]): string {
  const ratios = measured.map((m, i) => (m / (peer[i] ?? Number.NaN)).toFixed(2));
  const lo = Math.min(...peer);
  const hi = Math.max(...peer);
  const median = percentile(peer, 50);
  const noisy = (hi - lo) / median > 0.25;
  return (
    `${label}: each round ${ratios.join(', ')}` +
    (noisy
      ? `; NOISY: the peer ranged ${lo.toFixed(0)}–${hi.toFixed(0)} req/s across rounds, so the machine moved more than the code: run again`
      : '')
  );
}
