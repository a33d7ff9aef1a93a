import { getRandomValues } from 'node:crypto';

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function cryptoRandom(): number {
  return getRandomValues(new Uint32Array(1))[0]! / 2 ** 32;
}

/** A token shaped like Tanium SSO's: `token-` followed by 58 letters and digits. */
export function generateTaniumToken(rand: () => number = cryptoRandom): string {
  let token = 'token-';
  for (let i = 0; i < 58; i++) token += TOKEN_ALPHABET[Math.floor(rand() * 62) % 62];
  return token;
}

/** Why the Authorization header does not carry `token`, in the words Tanium's API uses; undefined when it does. */
export function authProblem(header: string | undefined, token: string): string | undefined {
  if (!header) return 'Authorization header missing: send "Authorization: Bearer <token>"';
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') return `Authorization scheme must be Bearer, not ${scheme}`;
  const presented = header.slice(space + 1).trim();
  if (presented === token) return undefined;
  // Tanium's documented pitfall: the portal's token pasted without its `token-` prefix.
  if (!presented.startsWith('token-') && `token-${presented}` === token) {
    return 'Invalid bearer token: the token must include its "token-" prefix';
  }
  return 'Invalid bearer token';
}
