import { describe, expect, it } from 'vitest';
import { createScrubber, REDACTED, secretNeedles } from './scrub.js';

// One secret with the characters escapers touch: `+`, `/`, `=`, a quote, a space and a non-ASCII letter.
const S = 'tok+en/Ab=c"d é9';
const scrub = createScrubber([S]);
const htmlAll = (s: string, f: (cp: number) => string) =>
  [...s].map((ch) => (/[A-Za-z0-9]/.test(ch) ? ch : f(ch.codePointAt(0)!))).join('');
const jsonAll = (s: string) =>
  [...s].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`).join('');
const b64 = (s: string) => Buffer.from(s).toString('base64');
const b64url = (s: string) => Buffer.from(s).toString('base64url');

describe('createScrubber: every form an app echoes a secret in', () => {
  it.each([
    // as is
    ['raw', S],
    // JSON.stringify's escapes (the quote)
    ['JSON string', JSON.stringify(S).slice(1, -1)],
    // PHP, .NET and Java escape `/` as `\/` and `+` as \u002B
    ['JSON \\/ and \\u002B', S.replace('/', '\\/').replace('+', '\\u002B').replace('"', '\\"')],
    // every character as \uXXXX, any case of hex
    ['JSON \\uXXXX for every character', jsonAll(S)],
    ['JSON \\uxxxx lower-case hex', jsonAll(S).toLowerCase().replace(/\\U/g, '\\u')],
    // HTML escapers: decimal, hex, named
    ['HTML decimal &#43;', htmlAll(S, (cp) => `&#${cp};`)],
    ['HTML hex &#x2B;', htmlAll(S, (cp) => `&#x${cp.toString(16).toUpperCase()};`)],
    ['HTML named &quot; &plus; &sol;', S.replace('"', '&quot;').replace('+', '&plus;').replace('/', '&sol;')],
    ['HTML &quot; without its semicolon', S.replace('"', '&quot')],
    // URL encoding, space as %20 and as +
    ['URL %2B and %20', encodeURIComponent(S)],
    ['URL lower-case hex', encodeURIComponent(S).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())],
    ['URL form: space as +', new URLSearchParams({ x: S }).toString().slice(2)],
    // one escape inside another
    ['URL-encoded JSON escape', S.replace('+', '%5Cu002B')],
    ['HTML-escaped HTML entity', S.replace('+', '&amp;#43;')],
    ['JSON-escaped URL encoding', encodeURIComponent(S).replace(/%/g, '\\u0025')],
    // base64, standard and url-safe, alone and inside a longer base64 text at every alignment
    ['base64', b64(S)],
    ['base64url', b64url(S)],
    ['base64 at offset 1', b64(`x${S}yz`)],
    ['base64 at offset 2', b64(`xy${S}z`)],
    ['base64url at offset 1', b64url(`x${S}`)],
    ['Basic user:password', b64(`scim:${S}`)],
  ])('%s', (_form, encoded) => {
    const out = scrub(`before ${encoded} after`);
    expect(out).toContain(REDACTED);
    expect(out.startsWith('before ')).toBe(true);
    // none of the secret's distinctive parts survive
    for (const part of ['tok+en', 'Ab=c', 'tok%2B', 'dG9r', '&#43;en']) expect(out).not.toContain(part);
  });

  it.each([
    // a text cut in the middle of the secret (a truncated capture) loses the secret's beginning too
    ['raw', `x ${S.slice(0, 8)}`, `x ${REDACTED}`],
    ['URL-encoded', `x ${encodeURIComponent(S).slice(0, 12)}`, `x ${REDACTED}`],
    // shorter than 4 characters of it: left alone
    ['too short to tell', 'x to', 'x to'],
  ])('truncated text ending in the secret’s beginning: %s', (_form, text, out) => {
    expect(scrub(text, true)).toBe(out);
  });

  it.each([
    // an untruncated text is not touched for a prefix
    ['a prefix only', `x ${S.slice(0, 8)} y`, `x ${S.slice(0, 8)} y`],
    ['twice, adjacent', `${S}${S}`, `${REDACTED}${REDACTED}`],
    ['overlapping forms', `${S}${b64(S)}`, `${REDACTED}${REDACTED}`],
    ['nothing', 'nothing to see', 'nothing to see'],
  ])('%s', (_case, text, out) => {
    expect(scrub(text)).toBe(out);
  });

  it('hides several secrets at once, numeric ones too', () => {
    const s = createScrubber(['12345678', 'token-abc12345']);
    expect(s('pw 12345678, token token-abc12345, %31%32%33%34%35%36%37%38')).toBe(
      `pw ${REDACTED}, token ${REDACTED}, ${REDACTED}`,
    );
  });

  it('ignores values shorter than 4 characters and is inactive without secrets', () => {
    expect(createScrubber(['abc']).active).toBe(false);
    expect(createScrubber([]).active).toBe(false);
    expect(createScrubber(['abc'])('abc abc')).toBe('abc abc');
  });

  it('lists the base64 fragments at the three alignments', () => {
    const needles = secretNeedles('hunter2-password');
    for (const pre of ['', 'a', 'ab']) {
      const blob = b64(`${pre}hunter2-password-and-more`);
      expect(needles.some((n) => blob.includes(n))).toBe(true);
    }
  });

  it('stays linear on hostile input: a text made of near-misses and escapes', () => {
    const secret = 'a'.repeat(200);
    const s = createScrubber([secret, `${'a'.repeat(199)}b`]);
    const peers = ['a'.repeat(199), '%61'.repeat(199), '&#97;'.repeat(199)].map((unit) => `${unit}c`);
    const time = (text: string) => {
      const t0 = performance.now();
      s(text);
      return performance.now() - t0;
    };
    // 1 MB of near-misses costs about what 1 MB of plain text does (a quadratic scan would take minutes)
    const plain = time('x'.repeat(1_000_000));
    const worst = Math.max(...peers.map((p) => time(p.repeat(Math.ceil(1_000_000 / p.length)))));
    expect(worst).toBeLessThan(Math.max(plain * 50, 2_000));
  });
});
