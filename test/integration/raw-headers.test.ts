import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestScimtap } from '../helpers/scimtap.js';
import { parseResponse, rawExchange, startRawUpstream } from '../reliability/lib.js';

// "Forwarded unchanged" covers header names too: the upstream sees the client's names, case and order (less
// hop-by-hop headers, with Host its own), and the client sees the upstream's. Checked on the bytes of a raw TCP
// upstream and a raw TCP client.

const heads: string[] = [];
let upstream: Awaited<ReturnType<typeof startRawUpstream>>;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;

beforeAll(async () => {
  upstream = await startRawUpstream((socket, head) => {
    heads.push(head);
    const body = '{"totalResults":0,"Resources":[]}';
    socket.write(
      'HTTP/1.1 200 OK\r\nX-Request-ID: abc\r\nContent-Type: application/scim+json\r\nETag: W/"1"\r\n' +
        `cache-control: no-store\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
  });
  scimtap = await startTestScimtap(`${upstream.url}/scim/v2`);
});

afterAll(async () => {
  await scimtap?.stop();
  await upstream?.close();
});

const lines = (head: string) => head.split('\r\n').slice(1);

describe('header names and order, both ways', () => {
  it('reach the upstream as the client wrote them, less hop-by-hop headers, with Host set to the upstream', async () => {
    const request =
      'GET /Users?filter=userName%20eq%20%22ada%22 HTTP/1.1\r\n' +
      'Host: scimtap.example.com\r\n' +
      'Authorization: Bearer token-0123456789\r\n' +
      'Accept: application/scim+json\r\n' +
      'X-MS-Correlation-ID: 7f1c\r\n' +
      'Keep-Alive: timeout=5\r\n' +
      'x-lower-case: kept\r\n' +
      'X-Repeated: 1\r\n' +
      'X-Repeated: 2\r\n' +
      'User-Agent: Azure AD Provisioning\r\n' +
      'Connection: close, X-Hop\r\n' +
      'X-Hop: dropped\r\n\r\n';
    const answer = await rawExchange(scimtap.proxyUrl, Buffer.from(request));
    expect(parseResponse(answer.bytes)?.status).toBe(200);
    const seen = lines(heads.at(-1)!);
    expect(seen[0]).toBe(`Host: 127.0.0.1:${upstream.port}`);
    // the rest, in order, as written; Node's client adds only its own Connection header at the end
    expect(seen.slice(1).filter((l) => !/^connection:/i.test(l))).toEqual([
      'Authorization: Bearer token-0123456789',
      'Accept: application/scim+json',
      'X-MS-Correlation-ID: 7f1c',
      'x-lower-case: kept',
      'X-Repeated: 1',
      'X-Repeated: 2',
      'User-Agent: Azure AD Provisioning',
    ]);
  });

  it('reach the client as the upstream wrote them', async () => {
    const answer = await rawExchange(
      scimtap.proxyUrl,
      Buffer.from('GET /Groups HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    const head = answer.bytes.toString('latin1').split('\r\n\r\n')[0];
    const names = lines(head)
      .map((l) => l.slice(0, l.indexOf(':')))
      .filter((n) => !/^(connection|keep-alive|date|transfer-encoding)$/i.test(n));
    expect(names).toEqual([
      'X-Request-ID',
      'Content-Type',
      'ETag',
      'cache-control',
      'Set-Cookie',
      'Set-Cookie',
      'Content-Length',
    ]);
  });
});
