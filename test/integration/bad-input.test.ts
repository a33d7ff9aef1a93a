import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, sha256, startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';

// Bad input is still the identity provider's traffic: forwarded as sent, recorded, never a classifier crash.
describe('bad input through scimtap', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;

  beforeAll(async () => {
    upstream = await startUpstream((r, res) => {
      res.writeHead(r.method === 'POST' ? 201 : 200, { 'content-type': 'application/scim+json' });
      res.end(r.method === 'HEAD' ? undefined : r.body.length ? r.body : '{"weird": [1, 2');
    });
    scimtap = await startTestScimtap(upstream.url);
  });
  afterAll(async () => {
    await scimtap.stop();
    await upstream.close();
  });

  const cases: { name: string; method: string; path: string; body?: Buffer; contentType?: string }[] = [
    {
      name: 'invalid JSON',
      method: 'POST',
      path: '/Users',
      body: Buffer.from('{"userName": "ada", '),
      contentType: 'application/scim+json',
    },
    {
      name: 'a 5 MiB body',
      method: 'POST',
      path: '/Users',
      body: randomBytes(5 * 1024 * 1024),
      contentType: 'application/scim+json',
    },
    {
      name: 'non-UTF-8 bytes',
      method: 'PATCH',
      path: '/Users/u-1',
      body: Buffer.from([0x7b, 0xff, 0xfe, 0xc3, 0x28, 0x7d]),
    },
    {
      name: 'wrong content type',
      method: 'POST',
      path: '/Groups',
      body: Buffer.from('displayName=Finance'),
      contentType: 'application/x-www-form-urlencoded',
    },
    { name: 'an unknown path', method: 'GET', path: '/Widgets/42/sprockets' },
    { name: 'HEAD', method: 'HEAD', path: '/Users' },
    { name: 'OPTIONS', method: 'OPTIONS', path: '/Users' },
    {
      name: 'PUT',
      method: 'PUT',
      path: '/Users/u-1',
      body: Buffer.from('{"userName":"ada","active":"maybe"}'),
    },
    {
      name: 'odd query encodings',
      method: 'GET',
      path: '/Users?filter=userName%20eq%20%ZZ%22&filter=&=x&%E0%A4%A=1&+a+=b++',
    },
    {
      name: 'a filter with an escaped quote',
      method: 'GET',
      path: '/Users?filter=userName+eq+%22a%5C%22b%22',
    },
    // a dot-segment is refused (issue 10, test/integration/dot-segments.test.ts); a look-alike is forwarded
    { name: 'dots in the id', method: 'DELETE', path: '/Users/...%2F....%2Fetc%2Fpasswd' },
  ];

  it.each(cases)('forwards and records $name', async ({ method, path, body, contentType }) => {
    const before = upstream.received.length;
    const rowsBefore = (
      scimtap.db.$client.prepare('select count(*) as n from operations').get() as { n: number }
    ).n;
    const res = await send(scimtap.proxyUrl, {
      method,
      path,
      body,
      headers: { authorization: 'Bearer token-x', ...(contentType ? { 'content-type': contentType } : {}) },
    });
    expect(res.status).toBeLessThan(300);
    const got = upstream.received[before];
    expect(got.method).toBe(method);
    expect(got.url).toBe(path);
    expect(sha256(got.body)).toBe(sha256(body ?? Buffer.alloc(0)));
    if (method !== 'HEAD' && body) expect(sha256(res.body)).toBe(sha256(body));
    scimtap.recorder.flush();
    const rows = scimtap.db.$client
      .prepare('select http_method as method, status, operation from operations order by id desc limit 1')
      .all() as { method: string; status: string; operation: string }[];
    expect(
      (scimtap.db.$client.prepare('select count(*) as n from operations').get() as { n: number }).n,
    ).toBe(rowsBefore + 1);
    expect(rows[0].method).toBe(method);
    expect(scimtap.recorder.stats().dropped).toBe(0);
  });
});
