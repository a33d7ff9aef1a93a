import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateTaniumToken } from './auth.js';
import { buildDiscovery } from './discovery.js';
import { checkFaults, NO_FAULTS, type TargetFaults } from './faults.js';
import { onRequest, type TargetContext } from './routes.js';
import { TargetStore } from './store.js';

// The demo's SCIM app: the server and its lifecycle here; answering requests in routes.ts, resources in store.ts.

export { generateTaniumToken } from './auth.js';
export { ScimError } from './errors.js';
export type { TargetFaults } from './faults.js';

export interface TargetOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  basePath?: string;
  /** Bearer token clients must send; a Tanium-style one is generated when unset. */
  token?: string;
  faults?: Partial<TargetFaults>;
  clock?: () => number;
}

export interface Target {
  /** Base URL of the SCIM API, e.g. http://127.0.0.1:PORT/scim/v2 */
  url: string;
  token: string;
  port: number;
  setFaults(faults: Partial<TargetFaults>): void;
  /** The live fault settings. */
  readonly faults: TargetFaults;
  counts(): { users: number; groups: number };
  /** Requests answered so far. */
  readonly requests: number;
  /** Drops every user and group and zeroes `requests`; token and faults stay. */
  reset(): void;
  close(): Promise<void>;
}

function normaliseBasePath(basePath: string): string {
  const trimmed = basePath.replace(/\/+$/, '');
  return trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts an in-memory SCIM 2.0 server that behaves like Tanium SSO's SCIM API, faults included. */
export async function startTarget(options: TargetOptions = {}): Promise<Target> {
  const {
    port = 0,
    host = '127.0.0.1',
    basePath: rawBasePath = '/scim/v2',
    token = generateTaniumToken(),
    faults: initialFaults = {},
    clock = Date.now,
  } = options;
  const basePath = normaliseBasePath(rawBasePath);
  const faults: TargetFaults = { ...NO_FAULTS, conflictUserNames: [], ...initialFaults };
  checkFaults(faults);
  const ctx: TargetContext = {
    store: new TargetStore(clock),
    faults,
    token,
    basePath,
    base: '',
    discovery: buildDiscovery(''),
    delayed: new Set(),
    requests: 0,
  };

  const server = createServer((req, res) => onRequest(ctx, req, res));
  // Outlive typical client idle timeouts so keep-alive clients close first and never race a server close.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  ctx.base = `http://${urlHost(host)}:${actualPort}${basePath}`;
  ctx.discovery = buildDiscovery(ctx.base);

  let closing: Promise<void> | undefined;
  return {
    url: ctx.base,
    token,
    port: actualPort,
    get faults() {
      return faults;
    },
    get requests() {
      return ctx.requests;
    },
    setFaults(update) {
      const next = { ...faults, ...update };
      checkFaults(next);
      Object.assign(faults, next);
    },
    counts: () => ({ users: ctx.store.users.records.size, groups: ctx.store.groups.records.size }),
    reset() {
      ctx.store.clear();
      ctx.requests = 0;
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const timer of ctx.delayed) clearTimeout(timer);
        ctx.delayed.clear();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
