// Which request paths scimtap refuses to forward (issue 10 item 7). Pure, linear in the path, never throws.

/** How many layers of percent-encoding are looked through (`%252e` is `%2e` once decoded, `.` twice). */
const DECODE_LAYERS = 3;

// Overlong UTF-8 forms of `.`, `/` and `\` that old servers decoded (`%c0%ae%c0%ae/`).
const OVERLONG = /%c0%ae|%e0%80%ae|%c0%af|%e0%80%af|%c1%9c/gi;
const overlongChar = (m: string) => {
  const l = m.toLowerCase();
  return l.endsWith('ae') ? '.' : l.endsWith('af') ? '/' : '\\';
};

function decodeLayer(s: string): string {
  const plain = s.replace(OVERLONG, overlongChar);
  try {
    return decodeURIComponent(plain);
  } catch {
    // a stray `%` or broken UTF-8 elsewhere: decode the escapes that do decode, one run at a time
    return plain.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

/**
 * The dot-segment (`.` or `..`) a request path holds, or null. The path is appended to the upstream's base path
 * as received, so `/../../etc/passwd` would reach `/scim/v2/../../etc/passwd`, and whatever resolves it there
 * (the app, a reverse proxy, a static file handler) would leave the base path. Segments are split on `/` and
 * `\` (Windows servers and some proxies treat it as a separator), after decoding percent-escapes up to three
 * times (`%2e%2e`, `%2E%2e%2f`, `%252e`) and overlong UTF-8 dots; a `;param` suffix is ignored (`..;/`, which
 * Tomcat resolves as `..`). No SCIM client sends any of these.
 */
export function dotSegment(path: string): string | null {
  let text = String(path);
  // Without a dot or an escape no segment can be one, at any layer: the usual SCIM path is done in two scans.
  if (!text.includes('.') && !text.includes('%')) return null;
  for (let layer = 0; ; layer++) {
    for (const raw of text.split(/[/\\]/)) {
      const semicolon = raw.indexOf(';');
      const seg = (semicolon === -1 ? raw : raw.slice(0, semicolon)).trim();
      if (seg === '.' || seg === '..') return seg;
    }
    if (layer === DECODE_LAYERS || !text.includes('%')) return null;
    const next = decodeLayer(text);
    if (next === text) return null;
    text = next;
  }
}
