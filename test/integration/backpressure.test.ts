import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createProxy } from '../../server/proxy/index.js';
import { listen } from '../../server/proxy/server.js';
import type { Exchange } from '../../server/scim/types.js';
import { sleep, until } from '../reliability/lib.js';

// The proxy relays bodies with backpressure (proxy/relay.ts): a peer that reads slowly holds the other side back
// instead of making scimtap buffer the whole body in memory.

const MiB = 1024 * 1024;
const TOTAL = 64 * MiB;
const piece = Buffer.alloc(64 * 1024, 'x');

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function server(handler: http.RequestListener): Promise<number> {
  const s = http.createServer(handler);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  });
  return (s.address() as net.AddressInfo).port;
}

async function proxyTo(port: number, exchanges: Exchange[]) {
  const proxy = createProxy({
    upstream: `http://127.0.0.1:${port}`,
    sink: { record: (e) => exchanges.push(e) },
  });
  const listener = await listen({ host: '127.0.0.1', port: 0 }, proxy.handle);
  cleanup.push(async () => {
    await listener.close();
    proxy.close();
  });
  return new URL(listener.url);
}

/** Writes `TOTAL` bytes to `out` as fast as it takes them; returns how many it has written so far. */
function writeAll(out: NodeJS.WritableStream, onDone: () => void): () => number {
  let written = 0;
  const more = () => {
    while (written < TOTAL) {
      written += piece.length;
      if (!out.write(piece)) return void out.once('drain', more);
    }
    out.end();
    onDone();
  };
  more();
  return () => written;
}

describe('backpressure through the proxy', () => {
  it('a client that stops reading a 64 MiB answer holds the upstream back; then it gets every byte', async () => {
    let upstreamWritten = () => 0;
    const port = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(TOTAL) });
      upstreamWritten = writeAll(res, () => {});
    });
    const exchanges: Exchange[] = [];
    const url = await proxyTo(port, exchanges);
    const client = net.connect({ host: url.hostname, port: Number(url.port) });
    cleanup.push(async () => void client.destroy());
    client.pause();
    client.write('GET /Users/big HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => upstreamWritten() > 0, 2_000, 'the upstream to start');
    await sleep(1_000);
    // Socket buffers on loopback hold a few MiB per hop; without backpressure scimtap would take all 64.
    const ahead = upstreamWritten();
    expect(ahead).toBeLessThan(TOTAL / 2);
    let received = 0;
    client.on('data', (c: Buffer) => {
      received += c.length;
    });
    client.resume();
    await until(() => received >= TOTAL, 20_000, 'the whole answer');
    await until(() => exchanges.length === 1, 2_000, 'the recorded exchange');
    expect(exchanges[0].responseBytes).toBe(TOTAL);
    expect(exchanges[0].failure).toBeNull();
  });

  it('an upstream that stops reading a 64 MiB upload holds the client back; then it gets every byte', async () => {
    let upstreamReq: http.IncomingMessage | undefined;
    let upstreamRead = 0;
    const port = await server((req, res) => {
      upstreamReq = req;
      req.pause();
      req.on('data', (c: Buffer) => {
        upstreamRead += c.length;
      });
      req.on('end', () => res.end('{}'));
    });
    const exchanges: Exchange[] = [];
    const url = await proxyTo(port, exchanges);
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: '/Users',
      headers: { 'content-type': 'application/scim+json', 'content-length': String(TOTAL) },
    });
    const answered = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    let clientDone = false;
    const clientWritten = writeAll(req, () => {
      clientDone = true;
    });
    await until(() => upstreamReq !== undefined, 2_000, 'the upstream request');
    await sleep(1_000);
    const ahead = clientWritten();
    expect(clientDone).toBe(false);
    expect(ahead).toBeLessThan(TOTAL / 2);
    upstreamReq!.resume();
    expect(await answered).toBe(200);
    expect(upstreamRead).toBe(TOTAL);
    await until(() => exchanges.length === 1, 2_000, 'the recorded exchange');
    expect(exchanges[0].requestBytes).toBe(TOTAL);
  });
});
