import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressSet } from '../../server/proxy/cidr.js';
import { createProxy } from '../../server/proxy/index.js';
import { listen } from '../../server/proxy/server.js';
import type { Exchange } from '../../server/scim/types.js';
import { startScimmyUpstream } from '../helpers/scimmy-upstream.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import { parseResponse, percentile, request, sleep, until } from '../reliability/lib.js';

// Issue 10 §2: slow clients cannot starve the upstream pool. Linux routes all of 127/8 to lo, so binding the
// attacker's sockets to 127.0.0.2 gives it an address of its own while Entra calls from 127.0.0.1.

const ATTACKER = '127.0.0.2';
const token = 'slow-clients-test-token';
const auth = { authorization: `Bearer ${token}` };

/** A raw socket from `localAddress` that keeps what it reads and when the server closed it. */
function openFrom(url: string, localAddress: string) {
  const u = new URL(url);
  const socket = net.connect({ host: u.hostname, port: Number(u.port), localAddress });
  const chunks: Buffer[] = [];
  let closedAt: number | null = null;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  socket.on('close', () => {
    closedAt = Date.now();
  });
  return {
    socket,
    get closedAt() {
      return closedAt;
    },
    answer: () => parseResponse(Buffer.concat(chunks)),
  };
}

/** Headers of a POST that announces 1,000 bytes, and the first byte of its body. */
const slowPost = (path: string) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
  'Content-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{';

describe('300 slow-body clients from one address against a real scimtap', () => {
  let upstream: Awaited<ReturnType<typeof startScimmyUpstream>>;
  let tap: Awaited<ReturnType<typeof startTestScimtap>>;

  beforeAll(async () => {
    upstream = await startScimmyUpstream(token);
    // Defaults: body deadline 30 s, 64 upstream requests per client address.
    tap = await startTestScimtap(upstream.url);
    const created = await request(tap.proxyUrl, {
      method: 'POST',
      path: '/Users',
      headers: { ...auth, 'content-type': 'application/scim+json' },
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'ada@example.com',
        active: true,
      }),
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await tap?.stop();
    await upstream?.close();
  });

  it("answers Entra's lookups from another address in well under a second while the attack goes on", async () => {
    const lookup = async () => {
      const started = performance.now();
      const res = await request(tap.proxyUrl, {
        path: '/Users?filter=userName%20eq%20%22ada%40example.com%22',
        headers: auth,
      });
      const ms = performance.now() - started;
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString()).totalResults).toBe(1);
      return ms;
    };
    const before: number[] = [];
    for (let i = 0; i < 10; i++) before.push(await lookup());

    const attackers = Array.from({ length: 300 }, () => openFrom(tap.proxyUrl, ATTACKER));
    await Promise.all(attackers.map((a) => new Promise((resolve) => a.socket.once('connect', resolve))));
    for (const a of attackers) a.socket.write(slowPost('/Users'));
    // One body byte every 2 s, as the attack found in issue 10 did.
    const drip = setInterval(() => {
      for (const a of attackers) if (!a.socket.destroyed) a.socket.write(' ');
    }, 2_000);
    try {
      // The attacker is in place: its share runs upstream, as many wait, the rest were turned away at once.
      await until(
        () => attackers.filter((a) => a.answer()?.status === 429).length >= 300 - 2 * 64,
        10_000,
        'the requests over the share and the queue to be refused',
      );
      await until(async () => (await upstream.connections()) >= 64, 10_000, 'the share to reach upstream');

      const during: number[] = [];
      for (let i = 0; i < 20; i++) during.push(await lookup());
      const connections = await upstream.connections();
      console.log(
        `lookup from 127.0.0.1 under 300 slow-body clients from ${ATTACKER}: median ${percentile(during, 50).toFixed(1)} ms, ` +
          `max ${Math.max(...during).toFixed(1)} ms (without them: median ${percentile(before, 50).toFixed(1)} ms); ` +
          `upstream connections ${connections} of 256`,
      );
      expect(Math.max(...during)).toBeLessThan(1_000);
      // The attacker holds its share of the pool, not the pool (without shares: all 256, and the lookup waits).
      expect(connections).toBeLessThan(64 + 16);

      const refused = attackers.find((a) => a.answer()?.status === 429)!.answer()!;
      expect(refused.headers['retry-after']).toBe('5');
      expect(refused.headers['content-type']).toBe('application/scim+json');
      expect(JSON.parse(refused.body.toString())).toMatchObject({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: '429',
      });
      // refused while its body was still coming: the connection is closed, not kept to read the rest
      await until(
        () => attackers.filter((a) => a.answer()?.status === 429).every((a) => a.closedAt !== null),
        5_000,
        'refused attackers to be disconnected',
      );
    } finally {
      clearInterval(drip);
      for (const a of attackers) a.socket.destroy();
    }

    // Recorded under scimtap's own code, which no detection rule reads as the app throttling.
    const rows = await until(
      () => {
        tap.recorder.flush();
        const r = tap.db.$client
          .prepare(
            "select count(*) as n from operations where error_code = 'ClientThrottled' and http_status = 429",
          )
          .get() as { n: number };
        return r.n >= 300 - 2 * 64 ? r.n : undefined;
      },
      5_000,
      'the refusals to be recorded',
    );
    expect(rows).toBeGreaterThanOrEqual(300 - 2 * 64);
  });
});

describe('the body deadline against a real scimtap', () => {
  it('answers 408 when the body has not arrived in time, aborts the upstream request and frees its socket', async () => {
    const aborted: string[] = [];
    const upstreamServer = http.createServer((req, res) => {
      req.on('data', () => {});
      req.on('close', () => {
        if (!req.complete) aborted.push(req.url ?? '');
      });
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/scim+json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => upstreamServer.listen(0, '127.0.0.1', resolve));
    const upstreamConnections = () =>
      new Promise<number>((resolve) => upstreamServer.getConnections((_e, n) => resolve(n)));
    const up = `http://127.0.0.1:${(upstreamServer.address() as net.AddressInfo).port}`;
    // Far from the upstream timeout (60 s): the 408 is the body deadline's doing.
    const tap = await startTestScimtap(up, { SCIMTAP_BODY_TIMEOUT_MS: '1000' });
    try {
      const started = Date.now();
      const slow = openFrom(tap.proxyUrl, ATTACKER);
      slow.socket.write(slowPost('/Users/slow'));
      const drip = setInterval(() => !slow.socket.destroyed && slow.socket.write(' '), 200);
      try {
        await until(() => upstreamConnections().then((n) => n === 1), 3_000, 'the request to reach upstream');
        await until(() => slow.closedAt !== null, 5_000, 'the slow client to be closed');
      } finally {
        clearInterval(drip);
      }
      const answer = slow.answer()!;
      expect(answer.status).toBe(408);
      expect(answer.headers.connection).toBe('close');
      expect(JSON.parse(answer.body.toString())).toMatchObject({
        status: '408',
        detail: 'scimtap: request body timeout: the request body did not arrive within 1000 ms',
      });
      // 1 s deadline; 2 s of margin for a busy machine, and not the 60 s upstream timeout
      expect(slow.closedAt! - started).toBeGreaterThanOrEqual(900);
      expect(slow.closedAt! - started).toBeLessThan(3_000);
      // The upstream saw its request cut, and scimtap's socket to it is gone (not left half-written in the pool).
      await until(() => aborted.includes('/Users/slow'), 2_000, 'the upstream request to be aborted');
      await until(() => upstreamConnections().then((n) => n === 0), 2_000, 'the upstream socket to close');

      const row = await until(
        () => {
          tap.recorder.flush();
          return tap.db.$client
            .prepare(
              "select error_code as errorCode, http_status as httpStatus, reason from operations where path = '/Users/slow'",
            )
            .get() as { errorCode: string; httpStatus: number; reason: string } | undefined;
        },
        3_000,
        'the exchange to be recorded',
      );
      expect(row).toMatchObject({ errorCode: 'ClientAborted', httpStatus: 408 });
      expect(row.reason).toMatch(/request body timeout/);

      // A body that arrives in time is forwarded as before.
      const ok = await request(tap.proxyUrl, {
        method: 'POST',
        path: '/Users/fast',
        headers: { 'content-type': 'application/scim+json' },
        body: '{"userName":"x"}',
      });
      expect(ok.status).toBe(201);
    } finally {
      await tap.stop();
      upstreamServer.closeAllConnections();
      await new Promise<void>((resolve) => upstreamServer.close(() => resolve()));
    }
  });
});

describe('an upstream that answers before the body is in', () => {
  it('gives up the upstream socket when the exchange ends while the client is still sending', async () => {
    // A 401 before reading the body, as apps do to unauthenticated uploads.
    const upstreamServer = http.createServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/scim+json' });
      res.end('{"status":"401"}');
    });
    await new Promise<void>((resolve) => upstreamServer.listen(0, '127.0.0.1', resolve));
    const upstreamConnections = () =>
      new Promise<number>((resolve) => upstreamServer.getConnections((_e, n) => resolve(n)));
    const proxy = createProxy({
      upstream: `http://127.0.0.1:${(upstreamServer.address() as net.AddressInfo).port}`,
      sink: { record: () => {} },
    });
    const listener = await listen({ host: '127.0.0.1', port: 0 }, proxy.handle);
    const slow = openFrom(listener.url, ATTACKER);
    const drip = setInterval(() => !slow.socket.destroyed && slow.socket.write(' '), 100);
    try {
      slow.socket.write(slowPost('/Users'));
      await until(() => slow.answer()?.status === 401, 2_000, 'the early answer');
      // Otherwise the trickle would keep the upstream request, and its socket, open until the body ends.
      await until(() => upstreamConnections().then((n) => n === 0), 2_000, 'the upstream socket to close');
    } finally {
      clearInterval(drip);
      slow.socket.destroy();
      await listener.close();
      proxy.close();
      upstreamServer.closeAllConnections();
      await new Promise<void>((resolve) => upstreamServer.close(() => resolve()));
    }
  });
});

describe('fair shares at the proxy (share 2, queue wait 2 s)', () => {
  const held: http.ServerResponse[] = [];
  const arrived: string[] = [];
  const exchanges: Exchange[] = [];
  let upstreamServer: http.Server;
  let proxy: ReturnType<typeof createProxy>;
  let listener: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    // An upstream that holds every answer until the test lets it go.
    upstreamServer = http.createServer((req, res) => {
      arrived.push(req.url ?? '');
      req.resume();
      held.push(res);
    });
    await new Promise<void>((resolve) => upstreamServer.listen(0, '127.0.0.1', resolve));
    const port = (upstreamServer.address() as net.AddressInfo).port;
    proxy = createProxy({
      upstream: `http://127.0.0.1:${port}`,
      sink: { record: (e) => exchanges.push(e) },
      clientConcurrency: 2,
      clientQueueMs: 2_000,
    });
    listener = await listen({ host: '127.0.0.1', port: 0 }, proxy.handle);
  });
  afterAll(async () => {
    for (const r of held) r.destroy();
    await listener?.close();
    proxy?.close();
    upstreamServer?.closeAllConnections();
    await new Promise<void>((resolve) => upstreamServer.close(() => resolve()));
  });

  const release = (url: string) => {
    const i = arrived.indexOf(url);
    held[i].writeHead(200, { 'content-type': 'application/scim+json' });
    held[i].end('{}');
  };

  it('runs two per address, queues two, refuses the fifth; a freed slot goes to the first waiter; others pass', async () => {
    // One after the other, so that the order they reach scimtap is the order they were sent.
    const sockets: ReturnType<typeof openFrom>[] = [];
    for (const i of [1, 2, 3, 4, 5]) {
      const s = openFrom(listener.url, ATTACKER);
      await new Promise((resolve) => s.socket.once('connect', resolve));
      s.socket.write(`GET /Users/a${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      sockets.push(s);
      if (i <= 2) await until(() => arrived.length === i, 2_000, `a${i} to reach the upstream`);
      else await sleep(100);
    }
    await until(() => sockets[4].answer() ?? undefined, 2_000, 'the fifth to be refused');
    expect(sockets[4].answer()?.status).toBe(429);
    expect([...arrived].sort()).toEqual(['/Users/a1', '/Users/a2']);

    // A slot frees: the oldest waiter of that address takes it.
    release('/Users/a1');
    await until(() => arrived.includes('/Users/a3'), 1_000, 'the first waiter to go upstream');
    expect(sockets[0].answer()?.status).toBe(200);

    // Another address is not held back by the first one's full share.
    const other = request(listener.url, { path: '/Users/entra' });
    await until(() => arrived.includes('/Users/entra'), 1_000, "the other client's request upstream");
    release('/Users/entra');
    expect((await other).status).toBe(200);

    // The other waiter finds no slot in time: 429 with Retry-After, never forwarded.
    await until(() => sockets[3].answer() ?? undefined, 4_000, 'the second waiter to be refused');
    expect(sockets[3].answer()).toMatchObject({ status: 429, headers: { 'retry-after': '2' } });
    expect(arrived).not.toContain('/Users/a4');

    const throttled = await until(
      () => {
        const t = exchanges.filter((e) => e.failure === 'ClientThrottled');
        return t.length === 2 ? t : undefined;
      },
      2_000,
      'the two refusals to be recorded',
    );
    expect(throttled.map((e) => [e.path, e.httpStatus]).sort()).toEqual([
      ['/Users/a4', 429],
      ['/Users/a5', 429],
    ]);
    for (const s of sockets) s.socket.destroy();
  });
});

describe('fair shares behind a trusted proxy (share 1, queue wait 300 ms)', () => {
  const held: http.ServerResponse[] = [];
  const arrived: string[] = [];
  let upstreamServer: http.Server;
  let proxy: ReturnType<typeof createProxy>;
  let listener: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    upstreamServer = http.createServer((req, res) => {
      arrived.push(req.url ?? '');
      req.resume();
      held.push(res);
    });
    await new Promise<void>((resolve) => upstreamServer.listen(0, '127.0.0.1', resolve));
    const port = (upstreamServer.address() as net.AddressInfo).port;
    proxy = createProxy({
      upstream: `http://127.0.0.1:${port}`,
      sink: { record: () => {} },
      clientConcurrency: 1,
      clientQueueMs: 300,
      // The load balancer in front of scimtap: every request arrives from 127.0.0.1.
      trustedProxies: addressSet(['127.0.0.1/32']),
    });
    listener = await listen({ host: '127.0.0.1', port: 0 }, proxy.handle);
  });
  afterAll(async () => {
    for (const r of held) r.destroy();
    await listener?.close();
    proxy?.close();
    upstreamServer?.closeAllConnections();
    await new Promise<void>((resolve) => upstreamServer.close(() => resolve()));
  });

  it("counts each client behind the balancer against its own share, not the balancer's", async () => {
    const via = (client: string, path: string) =>
      request(listener.url, { path, headers: { 'x-forwarded-for': client } });
    const first = via('203.0.113.7', '/Users/attacker-1');
    await until(() => arrived.includes('/Users/attacker-1'), 2_000, "the first client's request upstream");
    // The same client again: over its share of 1, it waits, then is refused.
    const again = await via('203.0.113.7', '/Users/attacker-2');
    expect(again.status).toBe(429);
    // Another client behind the same balancer goes straight through (one shared share would refuse it too).
    const entra = via('198.51.100.20', '/Users/entra');
    await until(() => arrived.includes('/Users/entra'), 2_000, "the other client's request upstream");
    for (const r of held) {
      r.writeHead(200, { 'content-type': 'application/scim+json' });
      r.end('{}');
    }
    expect((await entra).status).toBe(200);
    expect((await first).status).toBe(200);
    expect(arrived).not.toContain('/Users/attacker-2');
  });
});
