import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProxy } from '../../server/proxy/index.js';
import { listen } from '../../server/proxy/server.js';
import type { Exchange } from '../../server/scim/types.js';
import { makeCerts } from '../helpers/certs.js';
import { startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import {
  parseResponse,
  percentile,
  rawExchange,
  request,
  rssOf,
  type ScimtapProcess,
  spawnScimtap,
  stopProcess,
  until,
} from './lib.js';

// Client faults (issue 7 §4): slow, aborted, idle and oversized clients never stop scimtap from answering
// the others, and its memory stays bounded.

const ok = (_r: unknown, res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/scim+json' });
  res.end(
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}',
  );
};

/** A socket that reports when (and whether) the server closed it. */
function openSocket(port: number, secure = false) {
  const socket = secure
    ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
    : net.connect(port, '127.0.0.1');
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
    received: () => Buffer.concat(chunks),
  };
}

describe('slow clients against the proxy listener (headers timeout lowered to 1 s)', () => {
  const HEADERS_TIMEOUT = 1_000;
  // Node checks once a second: a slow client is closed between 1 and 2 s; 2 s more of margin for a busy CI.
  const CLOSED_WITHIN = HEADERS_TIMEOUT + 1_000 + 2_000;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let listener: Awaited<ReturnType<typeof listen>>;
  let tlsListener: Awaited<ReturnType<typeof listen>>;
  const exchanges: Exchange[] = [];
  let proxy: ReturnType<typeof createProxy>;
  const port = (url: string) => Number(new URL(url).port);

  beforeAll(async () => {
    upstream = await startUpstream(ok);
    proxy = createProxy({
      upstream: upstream.url,
      sink: { record: (e) => exchanges.push(e) },
      timeoutMs: 1_500,
    });
    const certs = makeCerts();
    [listener, tlsListener] = await Promise.all([
      listen({ host: '127.0.0.1', port: 0, headersTimeoutMs: HEADERS_TIMEOUT }, proxy.handle),
      listen(
        {
          host: '127.0.0.1',
          port: 0,
          headersTimeoutMs: HEADERS_TIMEOUT,
          tls: { cert: certs.cert, key: certs.key },
        },
        proxy.handle,
      ),
    ]);
  });
  afterAll(async () => {
    await Promise.all([listener?.close(), tlsListener?.close()]);
    proxy?.close();
    await upstream?.close();
  });

  it('has a 20 s headers timeout by default, checked every second', async () => {
    const plain = await listen({ host: '127.0.0.1', port: 0 }, proxy.handle);
    try {
      expect(plain.server.headersTimeout).toBe(20_000);
      // a backstop just past headers + the proxy's 30 s body deadline, which answers first
      expect(plain.server.requestTimeout).toBe(20_000 + 30_000 + 1_000);
      expect(
        (plain.server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval,
      ).toBe(1_000);
    } finally {
      await plain.close();
    }
  });

  it('closes slowloris clients (a header byte every 250 ms) within the limit while answering others', async () => {
    const started = Date.now();
    const slow = Array.from({ length: 50 }, () => openSocket(port(listener.url)));
    for (const s of slow) s.socket.write('GET /Users HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const drip = setInterval(() => {
      for (const s of slow) if (!s.socket.destroyed) s.socket.write('a');
    }, 250);
    try {
      // Others are served meanwhile.
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => request(listener.url, { path: '/Users' })),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      await until(
        () => slow.every((s) => s.closedAt !== null),
        CLOSED_WITHIN + 2_000,
        'slowloris sockets to be closed',
      );
    } finally {
      clearInterval(drip);
    }
    for (const s of slow) {
      expect(s.closedAt! - started).toBeLessThan(CLOSED_WITHIN);
      expect(s.received().toString('latin1')).toMatch(/^(HTTP\/1\.1 408|$)/);
    }
    // none of them reached the upstream
    expect(exchanges.filter((e) => e.failure === null && e.path !== '/Users')).toEqual([]);
  });

  it('closes a connection that never sends anything, plain or TLS (handshake never completed)', async () => {
    const started = Date.now();
    const plain = openSocket(port(listener.url));
    // A TCP connection to the TLS listener that never sends a ClientHello.
    const rawToTls = openSocket(port(tlsListener.url));
    // A TLS connection that completes the handshake and then never sends a request.
    const tlsIdle = openSocket(port(tlsListener.url), true);
    await until(
      () => plain.closedAt !== null && rawToTls.closedAt !== null && tlsIdle.closedAt !== null,
      CLOSED_WITHIN + 2_000,
      'idle sockets to be closed',
    );
    for (const s of [plain, rawToTls, tlsIdle]) expect(s.closedAt! - started).toBeLessThan(CLOSED_WITHIN);
  });

  it('answers 504 to a client whose body trickles past the upstream timeout, and frees its socket', async () => {
    const started = Date.now();
    const s = openSocket(port(listener.url));
    s.socket.write(
      'POST /Users HTTP/1.1\r\nHost: x\r\nContent-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{',
    );
    const drip = setInterval(() => !s.socket.destroyed && s.socket.write(' '), 100);
    try {
      await until(() => s.closedAt !== null, 6_000, 'the trickling client to be closed');
    } finally {
      clearInterval(drip);
    }
    expect(parseResponse(s.received())?.status).toBe(504);
    // upstream timeout 1.5 s, then Node stops reading the unfinished body and closes
    expect(s.closedAt! - started).toBeLessThan(1_500 + 1_500);
    await until(
      () => exchanges.find((e) => e.failure === 'Timeout' && e.method === 'POST'),
      2_000,
      'the exchange',
    );
  });
});

describe('aborted uploads through a real scimtap', () => {
  it('aborts the upstream request, records ClientAborted and keeps answering', async () => {
    const aborted: string[] = [];
    const server = http.createServer((req, res) => {
      req.on('data', () => {});
      req.on('close', () => {
        if (!req.complete) aborted.push(req.url ?? '');
      });
      req.on('end', () => ok(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const up = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const tap = await startTestScimtap(up);
    const crashes: unknown[] = [];
    const onCrash = (e: unknown) => crashes.push(e);
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    try {
      const port = Number(new URL(tap.proxyUrl).port);
      for (let i = 0; i < 20; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        await new Promise<void>((resolve) => s.once('connect', () => resolve()));
        s.write(
          `POST /Users/upload-${i} HTTP/1.1\r\nHost: x\r\nContent-Type: application/scim+json\r\nContent-Length: 100000\r\n\r\n`,
        );
        // Half the declared body, then the client goes away.
        await new Promise<void>((resolve) => s.write(Buffer.alloc(50_000, 0x20), () => resolve()));
        s.destroy();
      }
      await until(() => aborted.length === 20, 5_000, 'the upstream to see 20 aborted requests');
      tap.recorder.flush();
      const rows = await until(
        () => {
          tap.recorder.flush();
          const r = tap.db.$client
            .prepare(
              "select error_code as errorCode, request_bytes as requestBytes from operations where path like '/Users/upload-%'",
            )
            .all() as { errorCode: string; requestBytes: number }[];
          return r.length === 20 ? r : undefined;
        },
        3_000,
        '20 recorded uploads',
      );
      expect(rows.every((r) => r.errorCode === 'ClientAborted')).toBe(true);
      expect(rows.every((r) => r.requestBytes > 0 && r.requestBytes <= 50_000)).toBe(true);
      expect((await request(tap.proxyUrl, { path: '/Users' })).status).toBe(200);
      expect(crashes).toEqual([]);
    } finally {
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
      await tap.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('many idle clients and oversized headers against `node bin/scimtap.js`', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let child: ScimtapProcess;
  const rss: Record<string, number> = {};

  beforeAll(async () => {
    upstream = await startUpstream(ok);
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-clients-'));
    child = await spawnScimtap({ SCIMTAP_UPSTREAM: upstream.url, SCIMTAP_DB: join(dir, 'scimtap.db') });
    // Warm up: JIT, pools, prepared statements, SQLite page cache.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => request(child.proxyUrl, { path: `/Users/warm-${i}`, agent })),
    );
    agent.destroy();
    rss.baseline = rssOf(child.pid);
  });
  afterAll(async () => {
    if (child) await stopProcess(child);
    await upstream?.close();
    // The figures for the report.
    console.log(
      'scimtap RSS (MB):',
      Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, +(v / 2 ** 20).toFixed(1)])),
    );
  });

  it('answers another client fast (p99 < 50 ms over its own baseline) while 1,000 keep-alive connections sit idle', async () => {
    const port = Number(new URL(child.proxyUrl).port);
    const idle: net.Socket[] = [];
    const timeRequests = async (tag: string) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const times: number[] = [];
      for (let i = 0; i < 100; i++) {
        const res = await request(child.proxyUrl, {
          path: `/Users?filter=userName+eq+%22${tag}${i}%22`,
          agent,
        });
        expect(res.status).toBe(200);
        times.push(res.ms);
      }
      agent.destroy();
      return times;
    };
    // The same client on the same machine without the idle crowd: on a busy CI box the bound moves with it.
    const baseline = percentile(await timeRequests('baseline'), 99);
    try {
      // 1,000 connections, each made keep-alive by one request, then left open and silent.
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, (_, j) => {
            const i = batch * 100 + j;
            return new Promise<void>((resolve, reject) => {
              const s = net.connect(port, '127.0.0.1');
              idle.push(s);
              let got = Buffer.alloc(0);
              s.on('error', reject);
              s.on('data', (c: Buffer) => {
                got = Buffer.concat([got, c]);
                const r = parseResponse(got);
                if (r?.complete) resolve();
              });
              s.write(`GET /Users/idle-${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
            });
          }),
        );
      }
      expect(idle.filter((s) => !s.destroyed)).toHaveLength(1_000);
      rss.with1000Idle = rssOf(child.pid);

      const times = await timeRequests('other');
      const p99 = percentile(times, 99);
      console.log(
        `p50 ${percentile(times, 50)} ms, p99 ${p99} ms with 1,000 idle connections (p99 ${baseline} ms without)`,
      );
      expect(p99).toBeLessThan(50 + baseline);
      // they are still open: scimtap did not shed them to cope
      expect(idle.filter((s) => !s.destroyed).length).toBe(1_000);
    } finally {
      for (const s of idle) s.destroy();
    }
  });

  it('answers 431 to headers over 16 KiB without crashing, and goes on answering', async () => {
    const huge = 'a'.repeat(20 * 1024);
    for (let i = 0; i < 200; i++) {
      const { bytes } = await rawExchange(
        child.proxyUrl,
        Buffer.from(`GET /Users/huge HTTP/1.1\r\nHost: x\r\nX-Huge: ${huge}\r\nConnection: close\r\n\r\n`),
        { timeoutMs: 5_000 },
      );
      expect(parseResponse(bytes)?.status).toBe(431);
    }
    // 200 headers of 1 KiB each: over the limit in total
    const many = Array.from({ length: 200 }, (_, i) => `X-H${i}: ${'b'.repeat(100)}`).join('\r\n');
    const { bytes } = await rawExchange(
      child.proxyUrl,
      Buffer.from(`GET /Users HTTP/1.1\r\nHost: x\r\n${many}\r\nConnection: close\r\n\r\n`),
    );
    expect(parseResponse(bytes)?.status).toBe(431);
    rss.afterOversized = rssOf(child.pid);
    expect((await request(child.proxyUrl, { path: '/Users' })).status).toBe(200);
    expect(child.child.exitCode).toBeNull();
  });

  it('keeps its memory bounded through two rounds of 1,000 idle sockets and 2,000 requests', async () => {
    const port = Number(new URL(child.proxyUrl).port);
    const round = async () => {
      const sockets: net.Socket[] = [];
      for (let i = 0; i < 1_000; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        sockets.push(s);
      }
      await Promise.all(
        sockets.map((s) => new Promise((r) => (s.connecting ? s.once('connect', r) : r(null)))),
      );
      const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
      await Promise.all(
        Array.from({ length: 2_000 }, (_, i) => request(child.proxyUrl, { path: `/Users/r-${i}`, agent })),
      );
      agent.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((r) => setTimeout(r, 200));
    };
    await round();
    rss.afterRound1 = rssOf(child.pid);
    await round();
    rss.afterRound2 = rssOf(child.pid);
    // Growth from the warmed-up baseline stays bounded. RSS moves in a sawtooth with V8's collections
    // (measured: +8 MB with 1,000 idle connections, +20 to +35 MB after both rounds); a leak per connection
    // would show here as hundreds of MB. The soak run watches the long-term trend.
    expect(rss.with1000Idle - rss.baseline).toBeLessThan(100 * 2 ** 20);
    expect(rss.afterRound2 - rss.baseline).toBeLessThan(100 * 2 ** 20);
    expect((await request(child.proxyUrl, { path: '/Users' })).status).toBe(200);
  });
});
