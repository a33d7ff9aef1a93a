import { describe, expect, it } from 'vitest';
import { createRedactor } from './redact.js';
import { redactBodyText, secretTexts } from './redact-text.js';

const isRedacted = createRedactor(['password']);

describe('redactBodyText with the JSON its caller parsed', () => {
  // classify hands over readBody's parse of the same text; the result must be what parsing it again gives.
  const bodies = [
    '{"userName":"ada","password":"p@ss-w0rd"}',
    '  \n{"userName":"ada","password":"p@ss-w0rd"}\r\n',
    '\uFEFF{"password":"p@ss-w0rd"}',
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"password","value":"s3cret-v"}]}',
    '[{"nested":{"PassWord":"x-y-z-w"}}]',
    '{"userName":"ada","active":true}',
    '{"pass\\u0077ord":"escaped-name"}',
  ];

  it('gives what parsing the text again gives, for every body', () => {
    for (const text of bodies) {
      const json = JSON.parse(text.replace(/^\uFEFF/, ''));
      expect(redactBodyText(text, isRedacted, { json }), text).toBe(redactBodyText(text, isRedacted));
    }
    expect(redactBodyText(bodies[0], isRedacted, { json: JSON.parse(bodies[0]) })).not.toContain('p@ss-w0rd');
  });
});

describe('secretTexts', () => {
  it('reads escaped strings decoded, and strings without escapes as written', () => {
    const text = '{"password":"a\\"b\\u0063d","other":{"password":"plain-value"},"x":"ignored"}';
    expect(secretTexts(text, isRedacted).sort()).toEqual(['a"bcd', 'plain-value']);
  });

  it('keeps a string JSON would refuse (a raw control character) as written', () => {
    const text = '{"password":"tab\there"}';
    expect(secretTexts(text, isRedacted)).toEqual(['tab\there']);
  });

  it('reads a truncated body up to its end', () => {
    expect(secretTexts('{"password":"cut-of', isRedacted)).toEqual(['cut-of']);
  });
});
