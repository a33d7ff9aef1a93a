import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { beforeEach, describe, expect, it, vi } from 'vitest';

// Constant-time token comparison (ARCHITECTURE §7), checked at the code level: the real node:crypto, with a
// spy on timingSafeEqual to see what the middleware compares. A wall-clock test over HTTP cannot resolve the
// nanoseconds a naive 64-byte `===` would leak, so what is compared (two SHA-256 digests, always 32 bytes,
// whatever was presented) is what this file asserts.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const timingSafeEqual = vi.fn((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) =>
    real.timingSafeEqual(a, b),
  );
  return { ...real, default: { ...real, timingSafeEqual }, timingSafeEqual };
});

const { timingSafeEqual } = await import('node:crypto');
const { requireToken } = await import('../../server/api/auth.js');

const TOKEN = 'admin-token-0123456789abcdef0123456789';
const sha = (s: string) => createHash('sha256').update(s).digest();

function app() {
  return new Hono().use('*', requireToken(TOKEN)).get('/api/x', (c) => c.text('secret data'));
}

const spy = vi.mocked(timingSafeEqual);
beforeEach(() => {
  spy.mockClear();
});

describe('requireToken', () => {
  // Each presented credential, and the token text it carries after `Bearer `.
  const attempts: [string, string, number][] = [
    ['the right token', `Bearer ${TOKEN}`, 200],
    ['lower-case scheme', `bearer ${TOKEN}`, 200],
    ['wrong token, same length', `Bearer ${TOKEN.slice(0, -1)}X`, 401],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, 10)}`, 401],
    ['the token and more', `Bearer ${TOKEN}x`, 401],
    ['one character', 'Bearer a', 401],
    ['10 KiB', `Bearer ${'a'.repeat(10_240)}`, 401],
    ['bytes beyond ASCII', 'Bearer \xe9\xff\x80', 401],
  ];

  it.each(attempts)(
    '%s: compares two SHA-256 digests once, whatever the length',
    async (_name, header, status) => {
      const res = await app().request('/api/x', { headers: { authorization: header } });
      expect(res.status).toBe(status);
      expect(spy).toHaveBeenCalledTimes(1);
      const [given, expected] = spy.mock.calls[0] as [Buffer, Buffer];
      expect(given).toHaveLength(32);
      expect(expected).toHaveLength(32);
      expect(Buffer.from(expected).equals(sha(TOKEN))).toBe(true);
      expect(Buffer.from(given).equals(sha(header.replace(/^bearer\s+/i, '').trim()))).toBe(true);
    },
  );

  it.each([
    ['no header', undefined],
    ['Basic scheme', `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`],
    ['Bearer with nothing after it', 'Bearer '],
    ['the token without a scheme', TOKEN],
  ])('%s: 401 with WWW-Authenticate, and nothing of the token compared', async (_name, header) => {
    const res = await app().request('/api/x', {
      headers: header === undefined ? {} : { authorization: header },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await res.text()).not.toContain('secret data');
  });
});
