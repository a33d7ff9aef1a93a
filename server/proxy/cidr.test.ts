import { describe, expect, it } from 'vitest';
import { addressSet, cidrProblems, normaliseAddress, parseCidr, splitList } from './cidr.js';

describe('addressSet', () => {
  const set = addressSet(['127.0.0.1/32', '10.0.0.0/8', '2603:1000::/24', '::1', '192.168.1.7']);
  it.each([
    // exact /32
    ['127.0.0.1', true],
    // the neighbour of a /32 is outside it
    ['127.0.0.2', false],
    // inside a /8
    ['10.255.3.4', true],
    // just outside the /8
    ['11.0.0.0', false],
    // an IPv4 client of a dual-stack listener arrives mapped into IPv6
    ['::ffff:10.1.2.3', true],
    ['::ffff:127.0.0.2', false],
    // IPv6 range (an AzureActiveDirectory service tag prefix)
    ['2603:10ff:1::5', true],
    ['2604::1', false],
    // a bare address is a /128 or /32
    ['::1', true],
    ['::2', false],
    ['192.168.1.7', true],
    // bracketed and zoned forms are still addresses
    ['[::1]', true],
    // not an address at all: never trusted
    ['not-an-ip', false],
    ['', false],
  ])('%s → %s', (address, expected) => {
    expect(set.has(address)).toBe(expected);
  });

  it('trusts nobody when empty, and nothing that is not an address', () => {
    const none = addressSet([]);
    expect(none.has('127.0.0.1')).toBe(false);
    expect(none.has(null)).toBe(false);
  });

  it('0.0.0.0/0 and ::/0 cover their whole family', () => {
    expect(addressSet(['0.0.0.0/0']).has('203.0.113.9')).toBe(true);
    expect(addressSet(['0.0.0.0/0']).has('2001:db8::1')).toBe(false);
    expect(addressSet(['::/0']).has('2001:db8::1')).toBe(true);
  });
});

describe('parseCidr', () => {
  it.each([
    // a prefix past the family's length
    ['10.0.0.0/33', /prefix length must be 0 to 32/],
    ['::/129', /prefix length must be 0 to 128/],
    // not a number
    ['10.0.0.0/x', /prefix length/],
    // host bits set: most often a typo for the network
    ['10.1.2.3/8', /did you mean 10\.0\.0\.0\/8/],
    ['2603:1000::1/24', /did you mean 2603:1000::\/24/],
    // a name is not an address
    ['entra.example.com', /not an IPv4 or IPv6/],
  ])('%s is refused', (text, message) => {
    const parsed = parseCidr(text);
    expect('problem' in parsed && parsed.problem).toMatch(message);
  });

  it('lists every problem of a list at once', () => {
    expect(cidrProblems(['10.0.0.0/8', 'bad', '1.2.3.4/40'])).toHaveLength(2);
  });
});

describe('splitList and normaliseAddress', () => {
  it('accepts commas, spaces and newlines, or an array', () => {
    expect(splitList('10.0.0.0/8, 192.168.0.0/16\n::1')).toEqual(['10.0.0.0/8', '192.168.0.0/16', '::1']);
    expect(splitList([' ::1 ', ''])).toEqual(['::1']);
  });
  it('unmaps IPv4-mapped IPv6 and drops zones', () => {
    expect(normaliseAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normaliseAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(normaliseAddress('unknown')).toBeNull();
  });
});
