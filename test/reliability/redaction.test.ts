import { describe, expect, it } from 'vitest';
import { credentialOf } from '../../server/proxy/tap.js';
import { createRedactor, scrubValues, secretValues } from '../../server/scim/redact.js';

// The pure helpers behind "secrets reflected by the app are never stored" (security.test.ts end to end).

const isRedacted = createRedactor(['password']);

describe('secretValues', () => {
  it.each([
    // a plain attribute
    [{ userName: 'a', password: 'hunter22' }, ['hunter22']],
    // any case, inside an extension
    [
      { 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { Password: 'Secret-1' } },
      ['Secret-1'],
    ],
    // a PATCH operation whose path names it
    [{ Operations: [{ op: 'Replace', path: 'password', value: 'patched-1' }] }, ['patched-1']],
    // a path-less PATCH whose value object holds it
    [
      { Operations: [{ op: 'replace', value: { password: 'inside-1', displayName: 'shown' } }] },
      ['inside-1'],
    ],
    // an object under a redacted key: every string leaf
    [{ password: { old: 'old-pass', new: 'new-pass' } }, ['old-pass', 'new-pass']],
    // too short to scrub safely
    [{ password: 'abc' }, []],
    // nothing secret
    [{ userName: 'password-reset@example.com', displayName: 'x' }, []],
  ])('%j → %j', (body, values) => {
    expect(secretValues(body, isRedacted).sort()).toEqual([...values].sort());
  });

  it('does not overflow on hostile nesting', () => {
    let deep: unknown = { password: 'deep-secret' };
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => secretValues(deep, isRedacted)).not.toThrow();
  });
});

describe('scrubValues', () => {
  it.each([
    ["Password 'hunter22' is too weak", ['hunter22'], "Password '[redacted]' is too weak"],
    // as it reads inside a JSON string
    ['{"detail":"bad \\"q\\"uote"}', ['bad "q"uote'], '{"detail":"[redacted]"}'],
    ['twice: s3cret s3cret', ['s3cret'], 'twice: [redacted] [redacted]'],
    ['nothing here', ['s3cret'], 'nothing here'],
  ])('%s', (text, values, out) => {
    expect(scrubValues(text, values)).toBe(out);
  });
});

describe('credentialOf', () => {
  it.each([
    ['Bearer token-abc12345', 'token-abc12345'],
    ['bearer   token-abc12345  ', 'token-abc12345'],
    ['Basic dXNlcjpwYXNz', 'Basic dXNlcjpwYXNz'],
    [undefined, null],
  ])('credentialOf(%j) = %j', (header, credential) => {
    expect(credentialOf(header)).toBe(credential);
  });
});
