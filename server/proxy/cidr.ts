import { BlockList, isIP } from 'node:net';
import { memoize } from './memo.js';

/** A set of address ranges (SCIMTAP_TRUSTED_CLIENTS, SCIMTAP_TRUSTED_PROXIES), matched by Node's own BlockList. */
export interface AddressSet {
  has(address: string | null | undefined): boolean;
  /** the ranges as given, for logs and the dashboard */
  readonly ranges: readonly string[];
}

/**
 * One CIDR (`10.0.0.0/8`, `2603:1000::/24`) or a bare address (a /32 or /128). Returns the problem as text,
 * or the parts BlockList needs. Host bits set (`10.1.2.3/8`) are refused: such an entry is usually a typo.
 */
export function parseCidr(
  text: string,
): { network: string; prefix: number; type: 'ipv4' | 'ipv6' } | { problem: string } {
  const s = text.trim();
  const slash = s.indexOf('/');
  const addr = slash === -1 ? s : s.slice(0, slash);
  const version = isIP(addr) as 0 | 4 | 6;
  if (version === 0) return { problem: `"${text}" is not an IPv4 or IPv6 address or CIDR range` };
  const type = version === 4 ? 'ipv4' : 'ipv6';
  const bits = version === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) {
      return { problem: `"${text}": the prefix length must be 0 to ${bits}` };
    }
    prefix = Number(p);
  }
  if (!networkOnly(addr, version, prefix)) {
    return {
      problem: `"${text}": host bits are set past /${prefix} (did you mean ${maskedText(addr, version, prefix)}/${prefix}?)`,
    };
  }
  return { network: addr, prefix, type };
}

/** Split a comma, space or newline separated list (the JSON config may give an array). */
export function splitList(value: string | readonly string[]): string[] {
  const items = typeof value === 'string' ? value.split(/[\s,]+/) : value;
  return items.map((v) => v.trim()).filter(Boolean);
}

/** Problems with a list, one line each; none means `addressSet` will accept it. */
export function cidrProblems(ranges: readonly string[]): string[] {
  return ranges.flatMap((r) => {
    const parsed = parseCidr(r);
    return 'problem' in parsed ? [parsed.problem] : [];
  });
}

export function addressSet(ranges: readonly string[]): AddressSet {
  const list = new BlockList();
  for (const r of ranges) {
    const parsed = parseCidr(r);
    if ('problem' in parsed) throw new Error(parsed.problem);
    list.addSubnet(parsed.network, parsed.prefix, parsed.type);
  }
  // Asked for every request's peer: BlockList.check parses the address into a SocketAddress each time, so the
  // answers for recent addresses are kept (a few clients, one keep-alive connection each, ask the same question).
  const check = memoize((address) => {
    const a = normaliseAddress(address);
    if (a === null) return false;
    return list.check(a, isIP(a) === 4 ? 'ipv4' : 'ipv6');
  });
  return {
    ranges: [...ranges],
    has: (address) => !!address && ranges.length > 0 && check(address),
  };
}

// Every request's peer address is normalised (and X-Forwarded-For hops from trusted proxies): a regex and isIP
// each time, for the few addresses a SCIM client connects from.
const normaliseKnown = memoize(normalise);

/**
 * A socket's address as an IP: an IPv4 client of a dual-stack listener shows as `::ffff:a.b.c.d`, which
 * must match an IPv4 range; an IPv6 zone (`fe80::1%eth0`) is not part of the address. null: not an IP.
 */
export function normaliseAddress(address: string | null | undefined): string | null {
  if (!address) return null;
  return normaliseKnown(address);
}

function normalise(address: string): string | null {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped && isIP(mapped[1]) === 4) return mapped[1];
  return isIP(a) === 0 ? null : a;
}

function bytesOf(addr: string, version: 4 | 6): number[] {
  if (version === 4) return addr.split('.').map(Number);
  // Expand `::` and a trailing dotted quad into 16 bytes.
  let head = addr;
  let tail: number[] = [];
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (quad) {
    tail = quad[1].split('.').map(Number);
    head = addr.slice(0, -quad[1].length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, null];
  const groups = (s: string) => (s ? s.split(':').filter((g) => g !== '') : []);
  const l = groups(left);
  const r = right === null ? [] : groups(right);
  const fill = 8 - tail.length / 2 - l.length - r.length;
  const all = [...l, ...Array(right === null ? 0 : fill).fill('0'), ...r].map((g) => Number.parseInt(g, 16));
  return [...all.flatMap((g) => [g >> 8, g & 0xff]), ...tail];
}

function networkOnly(addr: string, version: 4 | 6, prefix: number): boolean {
  return bytesOf(addr, version).every((byte, i) => (byte & ~maskByte(i, prefix)) === 0);
}

function maskByte(i: number, prefix: number): number {
  const bits = Math.max(0, Math.min(8, prefix - i * 8));
  return (0xff << (8 - bits)) & 0xff;
}

function maskedText(addr: string, version: 4 | 6, prefix: number): string {
  const bytes = bytesOf(addr, version).map((b, i) => b & maskByte(i, prefix));
  if (version === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
