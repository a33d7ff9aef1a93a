import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import { request, startRawUpstream, until } from './lib.js';

// Upstream faults (issue 7 §3): whatever the upstream does, the client gets either the upstream's answer
// unchanged or scimtap's SCIM 502/504, every request settles within the timeout plus a second, and every
// exchange is recorded with the right error code.
//
// Decision (documented in server/proxy/forward.ts): SCIMTAP_UPSTREAM_TIMEOUT_MS bounds the whole exchange,
// body included. A body still flowing at the deadline is cut (the client sees an incomplete response, never
// a silently short one): Entra gives up on a call after about the same time, so a longer wait would hold a
// socket for an answer nobody reads.

const TIMEOUT = 1_500;
const SETTLE = TIMEOUT + 1_000;

type Behaviour = (socket: net.Socket, head: string) => void;

const big = randomBytes(10 * 1024 * 1024);
const chunks = Array.from({ length: 200 }, (_, i) => randomBytes(1 + ((i * 7919) % 20_000)));

/** What each `/fault/<name>` path makes the raw upstream do. */
const behaviours: Record<string, Behaviour> = {
  // RST right after the request arrived: like a crashed app or a firewall rejecting the flow.
  reset: (s) => s.resetAndDestroy(),
  // FIN without an answer: a server that closes on a request it does not like.
  halfCloseNoAnswer: (s) => s.end(),
  // Not HTTP at all (a wrong port, an SSH server).
  garbage: (s) => s.end('SSH-2.0-OpenSSH_9.6\r\n'),
  // Headers promise 100 kB, 1 kB arrives, then RST.
  resetMidBody: (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\ncontent-length: 100000\r\n\r\n');
    s.write(Buffer.alloc(1_000, 0x61), () => s.resetAndDestroy());
  },
  resetMidChunked: (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\ntransfer-encoding: chunked\r\n\r\n');
    s.write('5\r\nhello\r\n', () => s.resetAndDestroy());
  },
  // Accepts the request and never answers.
  silent: () => {},
  // Half a header block, then nothing.
  partialHeaders: (s) => s.write('HTTP/1.1 200 OK\r\nContent-Ty'),
  // Headers at once, then 10 bytes every 100 ms of a 1,000-byte body: 10 s in all, far beyond the timeout.
  slowBody: (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\ncontent-length: 1000\r\n\r\n');
    const timer = setInterval(
      () => (s.destroyed ? clearInterval(timer) : s.write(Buffer.alloc(10, 0x62))),
      100,
    );
    s.on('close', () => clearInterval(timer));
  },
  // 10 MiB with a content-length, written in one go (the socket's backpressure paces it).
  big: (s) => {
    s.write(
      `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${big.length}\r\n\r\n`,
    );
    s.write(big);
  },
  // 10 MiB chunked, in 1 MiB chunks.
  bigChunked: (s) => {
    s.write(
      'HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n\r\n',
    );
    for (let at = 0; at < big.length; at += 1 << 20) {
      const part = big.subarray(at, at + (1 << 20));
      s.write(`${part.length.toString(16)}\r\n`);
      s.write(part);
      s.write('\r\n');
    }
    s.write('0\r\n\r\n');
  },
  // 200 chunks of uneven sizes, a chunk extension and a trailer.
  chunked: (s) => {
    s.write(
      'HTTP/1.1 201 Created\r\ncontent-type: application/scim+json\r\ntransfer-encoding: chunked\r\n\r\n',
    );
    for (const [i, c] of chunks.entries())
      s.write(`${c.length.toString(16)}${i === 3 ? ';ext=1' : ''}\r\n${c.toString('latin1')}\r\n`, 'latin1');
    s.write('0\r\nx-trailer: 1\r\n\r\n');
  },
  // A response with no length at all: the body ends when the upstream closes (HTTP/1.0 style).
  closeDelimited: (s) =>
    s.end(
      'HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\nconnection: close\r\n\r\n{"totalResults":0}',
    ),
  // Request-smuggling shape in a response: both framings. Node's parser refuses it.
  lengthAndChunked: (s) =>
    s.end('HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'),
  // Status codes and reasons the parser accepts but a server must not echo blindly.
  status000: (s) => s.end('HTTP/1.1 000 Nothing\r\ncontent-length: 0\r\n\r\n'),
  status099: (s) => s.end('HTTP/1.1 099 Low\r\ncontent-length: 0\r\n\r\n'),
  reasonWithDel: (s) => s.end('HTTP/1.1 200 O\x7fK\r\ncontent-length: 2\r\n\r\n{}', 'latin1'),
  reasonWithHighBytes: (s) =>
    s.end(Buffer.from('HTTP/1.1 200 \xe9t\xe9\r\ncontent-length: 2\r\n\r\n{}', 'latin1')),
  headerWithHighBytes: (s) =>
    s.end(Buffer.from('HTTP/1.1 200 OK\r\nx-name: caf\xe9\r\ncontent-length: 2\r\n\r\n{}', 'latin1')),
  // An interim 103 before the real answer.
  earlyHints: (s) =>
    s.end('HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}'),
};

interface Outcome {
  status: number | null;
  complete: boolean;
  bodyHash?: string;
  errorCode: string | null;
  detail?: RegExp;
}

const expected: Record<string, Outcome> = {
  reset: { status: 502, complete: true, errorCode: 'UpstreamUnreachable', detail: /ECONNRESET/ },
  halfCloseNoAnswer: {
    status: 502,
    complete: true,
    errorCode: 'UpstreamUnreachable',
    detail: /socket hang up|ECONNRESET/,
  },
  garbage: { status: 502, complete: true, errorCode: 'UpstreamUnreachable', detail: /HPE_|Parse Error/i },
  resetMidBody: { status: 200, complete: false, errorCode: 'UpstreamUnreachable' },
  resetMidChunked: { status: 200, complete: false, errorCode: 'UpstreamUnreachable' },
  silent: { status: 504, complete: true, errorCode: 'Timeout', detail: /upstream timeout/ },
  partialHeaders: { status: 504, complete: true, errorCode: 'Timeout', detail: /upstream timeout/ },
  slowBody: { status: 200, complete: false, errorCode: 'Timeout' },
  big: { status: 200, complete: true, bodyHash: sha256(big), errorCode: null },
  bigChunked: { status: 200, complete: true, bodyHash: sha256(big), errorCode: null },
  chunked: { status: 201, complete: true, bodyHash: sha256(Buffer.concat(chunks)), errorCode: null },
  closeDelimited: { status: 200, complete: true, bodyHash: sha256('{"totalResults":0}'), errorCode: null },
  lengthAndChunked: {
    status: 502,
    complete: true,
    errorCode: 'UpstreamUnreachable',
    detail: /HPE_|Parse Error/i,
  },
  status000: { status: 502, complete: true, errorCode: 'UpstreamUnreachable' },
  status099: { status: 502, complete: true, errorCode: 'UpstreamUnreachable' },
  // the reason phrase is dropped (Node refuses to write it); status, headers and body are forwarded
  reasonWithDel: { status: 200, complete: true, bodyHash: sha256('{}'), errorCode: null },
  reasonWithHighBytes: { status: 200, complete: true, bodyHash: sha256('{}'), errorCode: null },
  headerWithHighBytes: { status: 200, complete: true, bodyHash: sha256('{}'), errorCode: null },
  earlyHints: { status: 200, complete: true, bodyHash: sha256('{}'), errorCode: null },
};

let upstream: Awaited<ReturnType<typeof startRawUpstream>>;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;
const crashes: unknown[] = [];
const onCrash = (err: unknown) => crashes.push(err);

beforeAll(async () => {
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  upstream = await startRawUpstream((socket, head) => {
    const name = /^\w+ \/fault\/(\w+)/.exec(head)?.[1] ?? '';
    (behaviours[name] ?? ((s: net.Socket) => s.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n')))(
      socket,
      head,
    );
  });
  scimtap = await startTestScimtap(upstream.url, { SCIMTAP_UPSTREAM_TIMEOUT_MS: String(TIMEOUT) });
});

afterAll(async () => {
  await scimtap?.stop();
  await upstream?.close();
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
});

function lastOperation(path: string) {
  scimtap.recorder.flush();
  return scimtap.db.$client
    .prepare(
      'select http_status as httpStatus, error_code as errorCode, reason from operations where path = ? order by id desc limit 1',
    )
    .get(path) as { httpStatus: number | null; errorCode: string | null; reason: string | null } | undefined;
}

describe('upstream faults through a real scimtap (timeout 1.5 s)', () => {
  it.each(Object.keys(expected))('%s', async (name) => {
    const want = expected[name];
    const path = `/fault/${name}`;
    const res = await request(scimtap.proxyUrl, { path });
    // Nothing hangs: every answer, cut or error settles within the timeout plus a second.
    expect(res.ms).toBeLessThan(SETTLE);
    expect(res.status).toBe(want.status);
    expect(res.error === null, `client saw: ${res.error}`).toBe(want.complete);
    if (want.bodyHash) expect(sha256(res.body)).toBe(want.bodyHash);
    if (want.status === 502 || want.status === 504) {
      const body = JSON.parse(res.body.toString());
      expect(body).toMatchObject({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: String(want.status),
      });
      if (want.detail) expect(body.detail).toMatch(want.detail);
    }
    const op = await until(() => lastOperation(path), 3_000, `the ${name} exchange to be recorded`);
    expect(op.errorCode).toBe(want.errorCode);
    if (want.status !== null) expect(op.httpStatus).toBe(want.status);
    expect(crashes).toEqual([]);
  });

  it('settles a burst of every fault at once within the timeout plus a second', async () => {
    const started = Date.now();
    const all = await Promise.all(
      Object.keys(expected).flatMap((name) =>
        [1, 2, 3].map(() => request(scimtap.proxyUrl, { path: `/fault/${name}` })),
      ),
    );
    expect(Date.now() - started).toBeLessThan(SETTLE + 1_000);
    expect(all.every((r) => r.status !== null)).toBe(true);
    expect(crashes).toEqual([]);
    // and scimtap still answers normally afterwards
    const after = await request(scimtap.proxyUrl, { path: '/fault/closeDelimited' });
    expect(after.status).toBe(200);
  });
});

describe('keep-alive connections the upstream closes', () => {
  it('does not reuse a connection the upstream half-closed after answering', async () => {
    const up = await startRawUpstream(
      (s) => {
        s.write('HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\ncontent-length: 2\r\n\r\n{}');
        s.end(); // FIN right after the answer, without `Connection: close`
      },
      { allowHalfOpen: true },
    );
    const tap = await startTestScimtap(up.url, { SCIMTAP_UPSTREAM_TIMEOUT_MS: String(TIMEOUT) });
    try {
      for (let i = 0; i < 20; i++) {
        const res = await request(tap.proxyUrl, { path: `/Users/${i}` });
        expect(res.status, `request ${i}: ${res.body}`).toBe(200);
        // the next request must not race the FIN: wait until the proxy has seen the connection close
        await until(() => up.closed === up.connections, 3_000, 'the upstream connection to close');
      }
    } finally {
      await tap.stop();
      await up.close();
    }
  });

  it('retries a bodiless request once when a reused connection is closed as it is sent', async () => {
    // The classic keep-alive race, made deterministic: every connection answers its first request and is
    // reset when the second arrives, as when the upstream's idle timer fires just as scimtap reuses it.
    const up = await startRawUpstream((s, head, { onConnection }) => {
      const body = head.startsWith('HEAD') ? '' : '{}';
      if (onConnection === 1)
        s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\ncontent-length: 2\r\n\r\n${body}`);
      else s.resetAndDestroy();
    });
    const tap = await startTestScimtap(up.url, { SCIMTAP_UPSTREAM_TIMEOUT_MS: String(TIMEOUT) });
    try {
      for (const method of ['GET', 'DELETE', 'GET', 'HEAD', 'GET']) {
        const res = await request(tap.proxyUrl, { method, path: '/Users/race' });
        expect(res.status, `${method}: ${res.body}`).toBe(200);
      }
      // A request with a body has been streamed to the upstream and cannot be replayed: it gets the honest 502.
      await request(tap.proxyUrl, { path: '/Users/warm' });
      const post = await request(tap.proxyUrl, {
        method: 'POST',
        path: '/Users',
        body: '{"userName":"a"}',
        headers: { 'content-type': 'application/scim+json' },
      });
      expect(post.status).toBe(502);
    } finally {
      await tap.stop();
      await up.close();
    }
  });

  it("honours the upstream's Keep-Alive: timeout hint instead of holding idle connections forever", async () => {
    const up = await startRawUpstream((s) =>
      s.write(
        'HTTP/1.1 200 OK\r\nkeep-alive: timeout=2\r\ncontent-type: application/scim+json\r\ncontent-length: 2\r\n\r\n{}',
      ),
    );
    const tap = await startTestScimtap(up.url, { SCIMTAP_UPSTREAM_TIMEOUT_MS: String(TIMEOUT) });
    try {
      expect((await request(tap.proxyUrl, { path: '/Users/1' })).status).toBe(200);
      // Node lets the timer expire 1 s before the announced timeout: scimtap closes its side first.
      await until(() => up.closed === 1, 5_000, 'scimtap to close the idle upstream connection');
      expect((await request(tap.proxyUrl, { path: '/Users/2' })).status).toBe(200);
      expect(up.connections).toBe(2);
    } finally {
      await tap.stop();
      await up.close();
    }
  });

  it('keeps a slow answer on a reused connection whose idle timer is shorter than the answer', async () => {
    let n = 0;
    const up = await startRawUpstream((s) => {
      const reply = () => s.write('HTTP/1.1 200 OK\r\nkeep-alive: timeout=2\r\ncontent-length: 2\r\n\r\n{}');
      if (++n === 1) reply();
      else setTimeout(reply, 1_300); // longer than the 1 s idle timer set on the pooled socket
    });
    const tap = await startTestScimtap(up.url, { SCIMTAP_UPSTREAM_TIMEOUT_MS: '5000' });
    try {
      expect((await request(tap.proxyUrl, { path: '/Users/1' })).status).toBe(200);
      const slow = await request(tap.proxyUrl, { path: '/Users/2' });
      expect(slow.status).toBe(200);
      expect(slow.body.toString()).toBe('{}');
    } finally {
      await tap.stop();
      await up.close();
    }
  });
});

describe('upstream TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-selfsigned-'));
  let cert: string;
  let key: string;
  beforeAll(() => {
    // A self-signed leaf, as many on-premises SCIM apps ship, not one issued by a CA.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { cwd: dir, stdio: 'pipe' },
    );
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
  });

  const scimJson = (_r: unknown, res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/scim+json' });
    res.end('{"totalResults":0,"Resources":[]}');
  };

  it('trusts a self-signed upstream named by SCIMTAP_UPSTREAM_CA, and refuses it without', async () => {
    const up = await startUpstream(scimJson, { cert, key });
    const trusted = await startTestScimtap(up.url, { SCIMTAP_UPSTREAM_CA: join(dir, 'cert.pem') });
    const untrusted = await startTestScimtap(up.url);
    try {
      const ok = await request(trusted.proxyUrl, { path: '/Users' });
      expect(ok.status).toBe(200);
      expect(ok.body.toString()).toBe('{"totalResults":0,"Resources":[]}');
      const refused = await request(untrusted.proxyUrl, { path: '/Users' });
      expect(refused.status).toBe(502);
      expect(JSON.parse(refused.body.toString()).detail).toMatch(/self[- ]signed/i);
    } finally {
      await trusted.stop();
      await untrusted.stop();
      await up.close();
    }
  });

  it('answers 502 when the certificate names another host', async () => {
    const other = mkdtempSync(join(tmpdir(), 'scimtap-wronghost-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
        '-days',
        '2',
        '-subj',
        '/CN=elsewhere.example',
        '-addext',
        'subjectAltName=DNS:elsewhere.example',
      ],
      { cwd: other, stdio: 'pipe' },
    );
    const up = await startUpstream(scimJson, {
      cert: readFileSync(join(other, 'cert.pem'), 'utf8'),
      key: readFileSync(join(other, 'key.pem'), 'utf8'),
    });
    const tap = await startTestScimtap(up.url, { SCIMTAP_UPSTREAM_CA: join(other, 'cert.pem') });
    try {
      const res = await request(tap.proxyUrl, { path: '/Users' });
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body.toString()).detail).toMatch(/altnames|ERR_TLS_CERT_ALTNAME/i);
    } finally {
      await tap.stop();
      await up.close();
    }
  });

  it('answers 504 within the timeout when the TLS handshake never completes', async () => {
    // A TCP server that accepts and never speaks TLS.
    const up = await startRawUpstream(() => {});
    const tap = await startTestScimtap(`https://127.0.0.1:${up.port}`, {
      SCIMTAP_UPSTREAM_TIMEOUT_MS: String(TIMEOUT),
    });
    try {
      const res = await request(tap.proxyUrl, { path: '/Users' });
      expect(res.ms).toBeLessThan(SETTLE);
      expect(res.status).toBe(504);
    } finally {
      await tap.stop();
      await up.close();
    }
  });

  it('answers 502 when the upstream closes during the handshake', async () => {
    const server = tls.createServer({ cert, key }, (s) => s.destroy());
    // Close the TCP connection as soon as it opens, before the server hello.
    server.on('connection', (s: net.Socket) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const tap = await startTestScimtap(`https://127.0.0.1:${port}`, {
      SCIMTAP_UPSTREAM_CA: join(dir, 'cert.pem'),
    });
    try {
      const res = await request(tap.proxyUrl, { path: '/Users' });
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body.toString()).detail).toMatch(/ECONNRESET|socket disconnected|hang up/i);
    } finally {
      await tap.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
