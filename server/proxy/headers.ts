import type { IncomingMessage } from 'node:http';

// RFC 9110 §7.6.1: connection-specific headers are not forwarded. `host` is set from the upstream URL.
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The client's headers as it sent them (names, case, order, repeats), less hop-by-hop ones, with Host set to the
 * upstream's in its place. Node sends an array of raw headers as given, and then adds no Host of its own.
 */
export function forwardHeaders(raw: string[], upstreamHost: string): string[] {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'connection') listed = connectionListed(raw[i + 1], listed);
  }
  const out: string[] = [];
  let host = false;
  let chunkedName: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    if (lower === 'host') {
      if (!host) out.push(name, upstreamHost);
      host = true;
    } else if (lower === 'transfer-encoding') {
      chunkedName ??= name;
    } else if (!hopByHop.has(lower) && !listed?.has(lower)) {
      out.push(name, raw[i + 1]);
    }
  }
  if (!host) out.unshift('Host', upstreamHost);
  // Node's server has de-chunked the body; re-chunk it explicitly. Left to itself, Node's client sends the body
  // of a GET or DELETE (no chunking by default for those methods) raw after the head, where the upstream would
  // read it as the next request on a pooled connection: request smuggling and response desync.
  if (chunkedName !== null) out.push(chunkedName, 'chunked');
  return out;
}

export function responseHeaders(raw: string[]): string[] {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'connection') listed = connectionListed(raw[i + 1], listed);
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === 'host' || hopByHop.has(name) || listed?.has(name)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

function connectionListed(value: string | undefined, into?: Set<string>): Set<string> | undefined {
  if (!value) return into;
  // The usual value names only a header that is hop-by-hop anyway: no set to build for every request and answer.
  if (value.length === 10 && value.toLowerCase() === 'keep-alive') return into;
  const set = into ?? new Set<string>();
  for (const s of value.split(',')) set.add(s.trim().toLowerCase());
  return set;
}
