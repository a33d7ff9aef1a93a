import { describe, expect, it } from 'vitest';
import { allowedHosts, foreignRequest, isJsonContentType, type RequestFacts } from './guard.js';

const loopback = allowedHosts({ listenHost: '127.0.0.1' }, { address: '127.0.0.1', port: 8081 });

const req = (facts: Partial<RequestFacts>): RequestFacts => ({
  method: 'GET',
  host: '127.0.0.1:8081',
  origin: undefined,
  secFetchSite: undefined,
  secFetchMode: undefined,
  secFetchDest: undefined,
  ...facts,
});

describe('allowedHosts', () => {
  it.each([
    // the listener's own address, and the loopback names, with its port
    ['127.0.0.1:8081', true],
    ['localhost:8081', true],
    ['LOCALHOST:8081', true],
    ['[::1]:8081', true],
    // another port is another listener (a dev server, another tool)
    ['localhost:3000', false],
    // no port means 80
    ['localhost', false],
    // rebinding: the attacker's name, with or without the port
    ['rebind.evil.example:8081', false],
    ['rebind.evil.example', false],
    // lookalikes
    ['localhost.:8081', false],
    ['127.0.0.1.nip.io:8081', false],
    ['localhost:8081@evil.example', false],
  ])('%s: %s', (host, allowed) => {
    expect(loopback.has(host.toLowerCase())).toBe(allowed);
  });

  it('adds the address a wildcard listener was reached on, IPv4-mapped addresses unwrapped', () => {
    const hosts = allowedHosts({ listenHost: '::' }, { address: '::ffff:10.0.0.5', port: 8081 });
    expect(hosts.has('10.0.0.5:8081')).toBe(true);
    expect(hosts.has('[::]:8081')).toBe(false);
    expect(allowedHosts({ listenHost: '0.0.0.0' }, { address: 'fe80::1', port: 9 }).has('[fe80::1]:9')).toBe(
      true,
    );
  });

  it('adds SCIMTAP_PUBLIC_URL’s host, with and without its default port', () => {
    const https = allowedHosts(
      { publicUrl: 'https://Scimtap.Example.com/' },
      { address: '127.0.0.1', port: 8081 },
    );
    expect(https.has('scimtap.example.com')).toBe(true);
    expect(https.has('scimtap.example.com:443')).toBe(true);
    expect(https.has('scimtap.example.com:8081')).toBe(false);
    const mapped = allowedHosts({ publicUrl: 'http://localhost:9000' }, { address: '127.0.0.1', port: 8081 });
    expect(mapped.has('localhost:9000')).toBe(true);
    expect(mapped.has('localhost:8081')).toBe(true);
  });
});

describe('foreignRequest', () => {
  it.each<[string, Partial<RequestFacts>, number | null]>([
    ['the dashboard’s own GET', { secFetchSite: 'same-origin', secFetchMode: 'cors' }, null],
    ['its own POST, with its Origin', { method: 'POST', origin: 'http://127.0.0.1:8081' }, null],
    ['curl: no Origin, no fetch metadata', { method: 'POST' }, null],
    ['a typed URL or bookmark', { secFetchSite: 'none', secFetchMode: 'navigate' }, null],
    // links in emails and chat: a top-level navigation from another site
    [
      'a link clicked in webmail',
      { secFetchSite: 'cross-site', secFetchMode: 'navigate', secFetchDest: 'document' },
      null,
    ],
    ['DNS rebinding', { host: 'rebind.evil.example:8081' }, 421],
    ['no Host at all', { host: undefined }, 421],
    ['a page on another origin', { method: 'POST', origin: 'http://evil.example' }, 403],
    ['another origin, even a GET', { origin: 'http://evil.example' }, 403],
    ['another port on localhost is another origin', { method: 'POST', origin: 'http://localhost:3000' }, 403],
    ['Origin: null (sandboxed frame, file: page)', { method: 'POST', origin: 'null' }, 403],
    ['an Origin with a path is not an origin', { method: 'POST', origin: 'http://127.0.0.1:8081/x' }, 403],
    ['a cross-site <img> or <script>', { secFetchSite: 'cross-site', secFetchMode: 'no-cors' }, 403],
    ['a same-site page (localhost:3000)', { secFetchSite: 'same-site', secFetchMode: 'no-cors' }, 403],
    [
      'a cross-site iframe',
      { secFetchSite: 'cross-site', secFetchMode: 'navigate', secFetchDest: 'iframe' },
      403,
    ],
    [
      'a cross-site form POST navigates, but is no GET',
      { method: 'POST', secFetchSite: 'cross-site', secFetchMode: 'navigate', secFetchDest: 'document' },
      403,
    ],
  ])('%s', (_what, facts, status) => {
    expect(foreignRequest(req(facts), loopback)?.status ?? null).toBe(status);
  });

  it('in-process calls (no socket) skip the Host check but still compare Origin with Host', () => {
    expect(foreignRequest(req({ host: 'localhost' }), null)).toBeNull();
    expect(foreignRequest(req({ host: 'localhost', origin: 'http://localhost' }), null)).toBeNull();
    expect(foreignRequest(req({ host: 'localhost', origin: 'http://evil.example' }), null)?.status).toBe(403);
  });
});

describe('isJsonContentType', () => {
  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON', true],
    [undefined, false],
    ['', false],
    ['text/plain', false],
    ['text/plain; application/json', false],
    ['application/x-www-form-urlencoded', false],
    ['multipart/form-data; boundary=x', false],
    ['application/jsonx', false],
    ['application/scim+json', false],
  ])('%s: %s', (value, json) => {
    expect(isJsonContentType(value)).toBe(json);
  });
});
