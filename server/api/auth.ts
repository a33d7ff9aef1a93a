import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

/**
 * Bearer token check for /api and /metrics (ARCHITECTURE §7). Both sides are hashed first so the comparison
 * is constant-time whatever the lengths.
 */
export function requireToken(token: string): MiddlewareHandler {
  const expected = createHash('sha256').update(token).digest();
  return async (c, next) => {
    const m = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
    const given = createHash('sha256')
      .update(m ? m[1].trim() : '')
      .digest();
    if (!m || !timingSafeEqual(given, expected)) {
      c.header('WWW-Authenticate', 'Bearer realm="scimtap"');
      return c.json(
        { error: 'unauthorized', message: 'a valid admin token is required (Authorization: Bearer …)' },
        401,
      );
    }
    await next();
  };
}
