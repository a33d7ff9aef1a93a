import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestScimtap } from '../helpers/scimtap.js';
import { parseResponse, rawExchange, startRawUpstream } from '../reliability/lib.js';

// Issue 10 item 7: `GET /../../etc/passwd` went upstream as `/scim/v2/../../etc/passwd`. scimtap now answers a
// path with a dot-segment with its own SCIM 400 and records it; a raw TCP upstream records every request line it
// receives, and none of the refused ones is among them.

const paths: string[] = [];
let upstream: Awaited<ReturnType<typeof startRawUpstream>>;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;

beforeAll(async () => {
  upstream = await startRawUpstream((socket, head) => {
    paths.push(head.split('\r\n')[0].split(' ')[1]);
    const body =
      '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}';
    socket.write(
      `HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
  });
  scimtap = await startTestScimtap(`${upstream.url}/scim/v2`);
});

afterAll(async () => {
  await scimtap?.stop();
  await upstream?.close();
});

const wire = (target: string, method = 'GET', body = '') =>
  Buffer.from(
    `${method} ${target} HTTP/1.1\r\nHost: scim.example\r\nAuthorization: Bearer t0k3n\r\nConnection: close\r\n` +
      (body ? `Content-Type: application/scim+json\r\nContent-Length: ${body.length}\r\n` : '') +
      `\r\n${body}`,
    'latin1',
  );

const refused = [
  '/../../etc/passwd',
  '/Users/../../etc/passwd',
  '/Users/%2e%2e/%2e%2e/etc/passwd',
  '/Users/%2E%2e/x',
  '/Users/%2E%2e%2F%2e%2E%2Fetc%2fpasswd',
  '/Users/%252e%252e%252fetc',
  '/Users\\..\\..\\windows\\win.ini',
  '/Users/..;/admin',
  '/./Users',
  '/Users/.?filter=userName%20eq%20%22a%22',
];
const forwarded = ['/Users/john.doe', '/Users/a..b', '/Users/....', '/Users?filter=userName%20eq%20%22..%22'];

describe('dot-segments', () => {
  it('are refused with a SCIM 400 from scimtap and never reach the upstream', async () => {
    for (const target of refused) {
      const res = parseResponse((await rawExchange(scimtap.proxyUrl, wire(target))).bytes);
      expect(res?.status, target).toBe(400);
      expect(res?.headers['content-type']).toBe('application/scim+json');
      const error = JSON.parse(res!.body.toString());
      expect(error).toMatchObject({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: '400',
      });
      expect(error.detail).toMatch(/^scimtap refused the request: its path has a "\.{1,2}" segment/);
    }
    // with a body it does not read: answered at once, the connection closed
    const put = await rawExchange(scimtap.proxyUrl, wire('/Users/../x', 'PUT', '{"userName":"ada"}'));
    expect(parseResponse(put.bytes)?.status).toBe(400);
    expect(paths).toEqual([]);
  });

  it('leaves paths that only look alike alone: they reach the upstream as sent', async () => {
    for (const target of forwarded) {
      const res = parseResponse((await rawExchange(scimtap.proxyUrl, wire(target))).bytes);
      expect(res?.status, target).toBe(200);
    }
    expect(paths).toEqual(forwarded.map((t) => `/scim/v2${t}`));
  });

  it('records each refused request as an operation about no resource, with why', () => {
    scimtap.recorder.flush();
    const rows = scimtap.db.$client
      .prepare(
        `select http_method, path, query, http_status, resource_type, operation, status, error_code, identity,
           target_id, reason, token_fingerprint from operations where http_status = 400 order by id`,
      )
      .all() as Record<string, unknown>[];
    expect(rows.map((r) => `${r.path}${r.query ? `?${r.query}` : ''}`)).toEqual([...refused, '/Users/../x']);
    for (const r of rows) {
      expect(r).toMatchObject({
        resource_type: 'Other',
        operation: 'other',
        status: 'failure',
        error_code: 'InvalidSyntax',
        identity: null,
        target_id: null,
      });
      expect(r.reason).toMatch(/^scimtap refused the request/);
      expect(r.token_fingerprint).toMatch(/^[0-9a-f]{12}$/);
    }
  });
});
