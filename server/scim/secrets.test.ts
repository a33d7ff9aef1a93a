import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { classify } from './classify.js';
import { decodeBody } from './decode.js';
import { createRedactor } from './redact.js';
import { authorizationSecrets, filterSecrets, formSecrets, querySecrets } from './secrets.js';
import { createSecretSniffer } from './sniff.js';
import type { Exchange } from './types.js';

const isRedacted = createRedactor(['password']);
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('where secrets travel', () => {
  it.each([
    // the bearer token
    ['Bearer token-abc12345', ['token-abc12345']],
    // Basic: the encoded value, user:password and the password
    [`Basic ${b64('scim:pa55word')}`, [b64('scim:pa55word'), 'scim:pa55word', 'pa55word']],
    // any other scheme: the credential and the whole value
    ['SSWS 00abcdefgh', ['00abcdefgh', 'SSWS 00abcdefgh']],
    [undefined, []],
  ])('Authorization %j', (header, secrets) => {
    expect(authorizationSecrets(header).sort()).toEqual([...secrets].sort());
  });

  it.each([
    // an OAuth access token in the query
    ['access_token=tok%2Babc123&x=1', null, ['tok+abc123', 'tok%2Babc123']],
    // space as + and as %20 both give the value
    ['api_key=ab+cd+ef', null, ['ab cd ef', 'ab+cd+ef']],
    // redacted attributes only when not capturing in full
    ['password=hunter22', isRedacted, ['hunter22']],
    ['password=hunter22', null, ['hunter22']],
    // a filter on the password, form-encoded, in a compound filter
    ['filter=userName+eq+%22a%22+and+password+eq+%22s3cret-1%22', isRedacted, ['s3cret-1']],
    ['filter=userName eq "a"', isRedacted, []],
    // the name in any case; a name too long to tell counts as redacted (neither mentions "password" as written)
    ['filter=PassWord+eq+%22Mixed-case1%22', isRedacted, ['Mixed-case1']],
    [`filter=${'a'.repeat(1_100)}+eq+%22long-name-1%22`, isRedacted, ['long-name-1']],
  ])('query %s', (query, redactor, secrets) => {
    expect(querySecrets(query, redactor).sort()).toEqual([...secrets].sort());
  });

  it.each([
    ['password eq "a\\"quoted"', ['a"quoted', 'a\\"quoted']],
    ['(password eq 12345678)', ['12345678']],
    ['emails[password sw "prefix-1"]', ['prefix-1']],
    ['urn:ietf:params:scim:schemas:core:2.0:User:password eq "urn-pass"', ['urn-pass']],
    ['userName eq "password"', []],
  ])('filter %s', (filter, secrets) => {
    expect(filterSecrets(filter, isRedacted).sort()).toEqual([...secrets].sort());
  });

  it('form bodies: redacted and credential fields', () => {
    expect(formSecrets('userName=a&password=p%40ss+w0rd&client_secret=cs-123', isRedacted).sort()).toEqual(
      ['cs-123', 'p@ss w0rd', 'p@ss+w0rd', 'p%40ss+w0rd'].sort(),
    );
  });
});

describe('the streaming sniffer (bodies past the capture limit)', () => {
  const sniff = (body: string, form = false, chunk = 7) => {
    const s = createSecretSniffer(isRedacted, form);
    const bytes = Buffer.from(body);
    // odd chunk sizes: tokens split across chunks
    for (let i = 0; i < bytes.length; i += chunk) s.push(bytes.subarray(i, i + chunk));
    return s.values().sort();
  };

  it.each([
    // at the end of a long body
    [`{"displayName":"${'x'.repeat(5000)}","password":"Pw-at-the-end"}`, ['Pw-at-the-end']],
    // numeric, escaped
    ['{"password":12345678,"p":1}', ['12345678']],
    ['{"pass\\u0077ord":"esc\\u0061ped"}', ['escaped']],
    // PATCH: path before or after the value; a path-less value object
    ['{"Operations":[{"op":"replace","path":"password","value":"patched-1"}]}', ['patched-1']],
    ['{"Operations":[{"op":"replace","value":"patched-2","path":"password"}]}', ['patched-2']],
    ['{"Operations":[{"op":"replace","value":{"password":"inside-1","x":"y"}}]}', ['inside-1']],
    // an object under a redacted key
    ['{"password":{"old":"old-pass","new":"new-pass"}}', ['new-pass', 'old-pass']],
    // not secret
    ['{"userName":"password","path":"name","value":"x"}', []],
    // cut in the middle of the value: what was sent so far
    ['{"password":"cut-off-val', ['cut-off-val']],
  ])('%#: %.60s', (body, values) => {
    expect(sniff(body)).toEqual([...values].sort());
  });

  it('form bodies', () => {
    expect(sniff(`a=${'x'.repeat(3000)}&password=f%2Bpw+1&z=2`, true)).toEqual([
      'f%2Bpw+1',
      'f+pw 1',
      'f+pw+1',
    ]);
  });

  it('keeps bounded memory on hostile nesting and huge values', () => {
    const body = `${'['.repeat(100_000)}{"password":"${'p'.repeat(100_000)}"}`;
    const values = sniff(body, false, 65_536);
    expect(values.every((v) => v.length <= 1_024)).toBe(true);
  });
});

describe('decodeBody', () => {
  const json = JSON.stringify({ Resources: [], totalResults: 0 });
  it.each([
    ['gzip', zlib.gzipSync(json)],
    ['x-gzip', zlib.gzipSync(json)],
    ['deflate', zlib.deflateSync(json)],
    ['deflate', zlib.deflateRawSync(json)],
    ['br', zlib.brotliCompressSync(json)],
    ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(json))],
  ])('%s', (coding, bytes) => {
    expect(decodeBody(bytes, coding, 'application/json', false, 1_000_000).text).toBe(json);
  });

  it('gives the decodable prefix of a cut gzip body', () => {
    const big = JSON.stringify({ v: 'y'.repeat(50_000) });
    const gz = zlib.gzipSync(big, { level: 0 });
    const d = decodeBody(gz.subarray(0, 20_000), 'gzip', null, true, 1_000_000);
    expect(d.truncated).toBe(true);
    expect(d.text?.startsWith('{"v":"yyy')).toBe(true);
  });

  it('reports a bomb as undecodable instead of inflating it', () => {
    const bomb = zlib.gzipSync(Buffer.alloc(50_000_000));
    const d = decodeBody(bomb, 'gzip', null, false, 262_144);
    expect(d.text).toBeNull();
    expect(d.undecodable).toMatch(/inflates past 262144/);
  });

  it.each([
    ['BOM, little-endian', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, 'utf16le')]), null],
    ['charset=utf-16le', Buffer.from(json, 'utf16le'), 'application/json; charset=utf-16le'],
    [
      'charset=utf-16, no BOM, little-endian',
      Buffer.from(json, 'utf16le'),
      'application/json; charset=UTF-16',
    ],
    ['charset="utf-16be"', Buffer.from(json, 'utf16le').swap16(), 'application/json; charset="utf-16be"'],
  ])('UTF-16: %s', (_case, bytes, type) => {
    expect(decodeBody(bytes, null, type, false, 1_000_000).text).toBe(json);
  });
});

// Classification end to end on one exchange: what it stores holds no secret in any form.
const base: Exchange = {
  startedAt: 1,
  durationMs: 1,
  method: 'GET',
  path: '/scim/v2/Users',
  query: '',
  tokenFingerprint: 'abc',
  clientIp: null,
  userAgent: null,
  requestContentType: null,
  requestBody: null,
  requestBytes: 0,
  requestTruncated: false,
  httpStatus: 200,
  responseContentType: 'application/scim+json',
  responseBody: null,
  responseBytes: 0,
  responseTruncated: false,
  failure: null,
  failureDetail: null,
};
const opts = { capture: 'redacted' as const, redact: ['password'], captureLimitBytes: 65_536 };
const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const scimError = (detail: string) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], detail });

describe('classify scrubs every stored field', () => {
  const TOKEN = 'token-Ab+c/d=e12345';
  const PW = '98765432';

  it('a gzipped ListResponse to a filter query classifies as a ListResponse, not "not JSON"', () => {
    const list = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 0,
      Resources: [],
    };
    const gz = zlib.gzipSync(JSON.stringify(list));
    const op = classify(
      {
        ...base,
        query: 'filter=userName+eq+%22ada%40example.com%22',
        responseContentEncoding: 'gzip',
        responseBody: gz,
        responseBytes: gz.length,
      },
      opts,
    );
    expect(op.operation).toBe('lookup');
    expect(op.status).toBe('success');
    expect(op.errorCode).toBeNull();
    expect(op.responseBody).toBe(JSON.stringify(list));
  });

  it('a gzip bomb answering a filter query is not judged (no compliance failure) and not stored', () => {
    const bomb = zlib.gzipSync(Buffer.alloc(10_000_000, 0x20));
    const op = classify(
      {
        ...base,
        query: 'filter=userName+eq+%22ada%22',
        responseContentEncoding: 'gzip',
        responseBody: bomb,
        responseBytes: bomb.length,
      },
      opts,
    );
    expect(op.status).toBe('success');
    expect(op.responseBody).toMatch(/^\[body not decoded: gzip body inflates past/);
  });

  it.each([
    // the token echoed JSON-escaped in an error detail
    [
      'token, JSON-escaped',
      { credentials: [TOKEN], httpStatus: 401 },
      scimError(`bad token ${JSON.stringify(TOKEN).replace(/\//g, '\\/').replace('+', '\\u002B')}`),
    ],
    // a numeric password, HTML-escaped in an HTML page
    [
      'numeric password, HTML page',
      { method: 'POST', requestBody: body(`{"userName":"a","password":${PW}}`), httpStatus: 500 },
      `<p>cannot save &#57;&#56;765432</p>`,
    ],
    // a password in a form body, echoed URL-encoded
    [
      'form body',
      {
        method: 'POST',
        requestContentType: 'application/x-www-form-urlencoded',
        requestBody: body('userName=a&password=p%2Bw+d-1'),
        httpStatus: 400,
      },
      scimError('bad password p%2Bw%20d-1'),
    ],
    // the access token in the query, echoed as is
    [
      'query access_token',
      { query: `access_token=${encodeURIComponent(TOKEN)}`, httpStatus: 401 },
      scimError(TOKEN),
    ],
    // a filter on the password, echoed in the detail
    [
      'filter on password',
      { query: `filter=${encodeURIComponent(`password eq "${PW}"`)}`, httpStatus: 400 },
      scimError(`unsupported filter password eq "${PW}"`),
    ],
    // Basic credentials echoed decoded
    [
      'Basic',
      { credentials: authorizationSecrets(`Basic ${b64(`scim:${PW}x`)}`), httpStatus: 401 },
      scimError(`login scim:${PW}x refused`),
    ],
  ])('%s', (_case, over, answer) => {
    const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
    const op = classify(
      { ...base, ...over, responseBody: body(text), responseBytes: text.length } as Exchange,
      opts,
    );
    const stored = JSON.stringify(op);
    for (const secret of [TOKEN, PW, 'p+w d-1', 'p%2Bw', encodeURIComponent(TOKEN)])
      expect(stored).not.toContain(secret);
    expect(stored).toContain('[redacted]');
  });

  it('a UTF-16 answer that reflects the password is decoded, classified and scrubbed', () => {
    const text = JSON.stringify(scimError(`The value 'Pw-utf16-1' is too weak`));
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const op = classify(
      {
        ...base,
        method: 'POST',
        requestBody: body({ userName: 'a', password: 'Pw-utf16-1' }),
        httpStatus: 400,
        responseBody: bytes,
        responseBytes: bytes.length,
      },
      opts,
    );
    expect(op.reason).toBe("The value '[redacted]' is too weak");
    expect(op.responseBody).not.toContain('Pw-utf16-1');
  });
});
