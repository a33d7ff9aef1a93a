import { getRandomValues } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StoredGroup, StoredResource } from './collection.js';
import { buildDiscovery, LIST_SCHEMA, MAX_RESULTS } from './discovery.js';
import { badRequest, errorBody, ScimError } from './errors.js';
import { parseFilter } from './filter.js';
import { parsePatchOp } from './patch.js';
import { TargetStore } from './store.js';

export { ScimError } from './errors.js';

/** Knobs that make the target misbehave the way real SCIM apps do. Applied in this order. */
export interface TargetFaults {
  /** Every request answers 401, as when the app's token has expired or been revoked. */
  tokenExpired: boolean;
  /** Delay in ms added before every answer (after the token check). */
  latencyMs: number;
  /** Share (0..1) of requests answered 429 with `Retry-After`. */
  throttleRate: number;
  /** Share (0..1) of requests answered 500. */
  errorRate: number;
  /** Filter queries with no match answer 404 instead of an empty ListResponse (Entra quarantines for this). */
  nonCompliantFilter: boolean;
  /** userNames whose POST always answers 409 uniqueness, matched case-insensitively. */
  conflictUserNames: string[];
  /** Source of randomness for the rates; Math.random when unset. */
  random?: () => number;
}

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

const SCIM_JSON = 'application/scim+json';
const BODY_LIMIT_BYTES = 8 * 1024 * 1024;
const RETRY_AFTER_SECONDS = '1';
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

const NO_FAULTS: TargetFaults = {
  tokenExpired: false,
  latencyMs: 0,
  throttleRate: 0,
  errorRate: 0,
  nonCompliantFilter: false,
  conflictUserNames: [],
};

function checkFaults(f: TargetFaults): void {
  for (const name of ['errorRate', 'throttleRate'] as const) {
    if (!(f[name] >= 0 && f[name] <= 1))
      throw new RangeError(`${name} must be between 0 and 1, got ${f[name]}`);
  }
  if (!(f.latencyMs >= 0 && Number.isFinite(f.latencyMs))) {
    throw new RangeError(`latencyMs must be a finite number >= 0, got ${f.latencyMs}`);
  }
  if (!Array.isArray(f.conflictUserNames)) throw new TypeError('conflictUserNames must be an array');
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

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > BODY_LIMIT_BYTES)
        reject(new ScimError(413, `Request body exceeds ${BODY_LIMIT_BYTES} bytes`));
      else
        resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('Request body is not valid JSON', 'invalidSyntax');
  }
}

function queryParam(params: URLSearchParams, name: string): string | null {
  const exact = params.get(name);
  if (exact !== null) return exact;
  const lower = name.toLowerCase();
  for (const [key, value] of params) if (key.toLowerCase() === lower) return value;
  return null;
}

function intParam(params: URLSearchParams, name: string, fallback: number): number {
  const text = queryParam(params, name);
  if (text === null || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value))
    throw badRequest(`${name} must be an integer, got ${JSON.stringify(text)}`, 'invalidValue');
  return value;
}

const EXCLUDE_MEMBERS: ReadonlySet<string> = new Set(['members']);

function excludedAttributes(params: URLSearchParams): ReadonlySet<string> | undefined {
  const text = queryParam(params, 'excludedAttributes');
  if (!text) return undefined;
  if (text === 'members') return EXCLUDE_MEMBERS;
  const names = new Set<string>();
  // `urn:...:Group:members` names the core attribute `members`; id and schemas are always returned.
  for (const part of text.split(','))
    names.add(
      part
        .trim()
        .slice(part.trim().lastIndexOf(':') + 1)
        .toLowerCase(),
    );
  names.delete('id');
  names.delete('schemas');
  return names;
}

const EMPTY_PARAMS = new URLSearchParams();

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
  const store = new TargetStore(clock);
  const delayed = new Set<NodeJS.Timeout>();
  let requests = 0;
  let base = '';
  let discovery = buildDiscovery(base);

  function send(res: ServerResponse, status: number, body?: string, headers?: Record<string, string>): void {
    requests++;
    if (body === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    res.writeHead(status, {
      'content-type': SCIM_JSON,
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    });
    res.end(body);
  }

  function sendError(res: ServerResponse, error: ScimError, headers?: Record<string, string>): void {
    send(res, error.status, JSON.stringify(errorBody(error.status, error.message, error.scimType)), headers);
  }

  function authProblem(header: string | undefined): string | undefined {
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

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (faults.tokenExpired) {
      sendError(res, new ScimError(401, 'Invalid bearer token: the token has expired'), {
        'www-authenticate': 'Bearer error="invalid_token", error_description="The token has expired"',
      });
      return;
    }
    if (faults.latencyMs > 0) {
      const timer = setTimeout(() => {
        delayed.delete(timer);
        afterLatency(req, res);
      }, faults.latencyMs);
      delayed.add(timer);
      return;
    }
    afterLatency(req, res);
  }

  function afterLatency(req: IncomingMessage, res: ServerResponse): void {
    const random = faults.random ?? Math.random;
    if (faults.throttleRate > 0 && random() < faults.throttleRate) {
      sendError(res, new ScimError(429, `Too many requests: retry after ${RETRY_AFTER_SECONDS} s`), {
        'retry-after': RETRY_AFTER_SECONDS,
      });
      return;
    }
    if (faults.errorRate > 0 && random() < faults.errorRate) {
      sendError(res, new ScimError(500, 'Internal server error'));
      return;
    }
    const problem = authProblem(req.headers.authorization);
    if (problem) {
      sendError(res, new ScimError(401, problem), { 'www-authenticate': 'Bearer realm="SCIM"' });
      return;
    }
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return;
      if (error instanceof ScimError) sendError(res, error);
      else sendError(res, new ScimError(500, `Internal server error: ${(error as Error)?.message ?? error}`));
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const rest = pathname.slice(basePath.length);
    if (!pathname.startsWith(basePath) || (rest !== '' && rest[0] !== '/')) throw notFound(pathname);
    const segments = rest.split('/').filter(Boolean);
    const params = q < 0 ? EMPTY_PARAMS : new URLSearchParams(url.slice(q + 1));
    const method = req.method ?? 'GET';
    const endpoint = segments[0]?.toLowerCase();
    let id: string | undefined;
    try {
      id = segments[1] === undefined ? undefined : decodeURIComponent(segments[1]);
    } catch {
      throw notFound(pathname);
    }
    if (segments.length > 2) throw notFound(pathname);

    if (endpoint === 'users' || endpoint === 'groups') {
      const isUser = endpoint === 'users';
      if (id === undefined) {
        if (method === 'GET') return list(res, isUser, params);
        if (method === 'POST') return create(req, res, isUser);
        return notAllowed(res, 'GET, POST');
      }
      switch (method) {
        case 'GET': {
          const record = isUser ? store.users.get(id) : store.groups.get(id);
          return sendResource(res, 200, isUser, record, excludedAttributes(params));
        }
        case 'PUT': {
          const body = await readJson(req);
          const record = isUser ? store.replaceUser(id, body) : store.replaceGroup(id, body);
          return sendResource(res, 200, isUser, record);
        }
        case 'PATCH': {
          const ops = parsePatchOp(await readJson(req));
          if (isUser) return sendResource(res, 200, true, store.patchUser(id, ops));
          store.patchGroup(id, ops);
          // Entra expects 204 for group PATCHes; returning a large member list would be wasted work.
          return send(res, 204);
        }
        case 'DELETE':
          if (isUser) store.deleteUser(id);
          else store.deleteGroup(id);
          return send(res, 204);
        default:
          return notAllowed(res, 'GET, PUT, PATCH, DELETE');
      }
    }

    if (method !== 'GET') return notAllowed(res, 'GET');
    const lookup = id?.toLowerCase();
    let body: string | undefined;
    if (endpoint === 'serviceproviderconfig' && !id) body = discovery.serviceProviderConfig;
    else if (endpoint === 'schemas') body = lookup ? discovery.schemaById.get(lookup) : discovery.schemas;
    else if (endpoint === 'resourcetypes')
      body = lookup ? discovery.resourceTypeById.get(lookup) : discovery.resourceTypes;
    if (body === undefined) throw notFound(pathname);
    send(res, 200, body);
  }

  function notFound(pathname: string): ScimError {
    return new ScimError(404, `No SCIM endpoint at ${pathname}`);
  }

  function notAllowed(res: ServerResponse, allow: string): void {
    sendError(res, new ScimError(405, `Method not allowed here; allowed: ${allow}`), { allow });
  }

  function sendResource(
    res: ServerResponse,
    status: number,
    isUser: boolean,
    record: StoredResource,
    excluded?: ReadonlySet<string>,
  ): void {
    const json = isUser
      ? store.userJson(record, base, excluded)
      : store.groupJson(record as StoredGroup, base, excluded);
    send(
      res,
      status,
      JSON.stringify(json),
      status === 201 ? { location: (json.meta as { location: string }).location } : undefined,
    );
  }

  async function create(req: IncomingMessage, res: ServerResponse, isUser: boolean): Promise<void> {
    const body = await readJson(req);
    if (isUser) {
      const userName = (body as { userName?: unknown } | null)?.userName;
      if (
        typeof userName === 'string' &&
        faults.conflictUserNames.some((n) => n.toLowerCase() === userName.toLowerCase())
      ) {
        throw new ScimError(409, `A user with userName "${userName}" already exists`, 'uniqueness');
      }
    }
    sendResource(res, 201, isUser, isUser ? store.createUser(body) : store.createGroup(body));
  }

  function list(res: ServerResponse, isUser: boolean, params: URLSearchParams): void {
    const filterText = queryParam(params, 'filter');
    const filter = filterText === null ? undefined : parseFilter(filterText);
    // RFC 7644 §3.4.2.4: startIndex below 1 means 1, a negative count means 0.
    const startIndex = Math.max(1, intParam(params, 'startIndex', 1));
    const count = Math.min(MAX_RESULTS, Math.max(0, intParam(params, 'count', MAX_RESULTS)));
    const excluded = excludedAttributes(params);
    const collection = isUser ? store.users : store.groups;
    const page = collection.find(filter, startIndex, count);
    if (filter && page.total === 0 && faults.nonCompliantFilter) {
      throw new ScimError(404, `${isUser ? 'User' : 'Group'} not found`);
    }
    const resources = page.items.map((record) =>
      isUser
        ? store.userJson(record, base, excluded)
        : store.groupJson(record as StoredGroup, base, excluded),
    );
    send(
      res,
      200,
      JSON.stringify({
        schemas: [LIST_SCHEMA],
        totalResults: page.total,
        startIndex,
        itemsPerPage: resources.length,
        Resources: resources,
      }),
    );
  }

  const server = createServer(onRequest);
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
  base = `http://${urlHost(host)}:${actualPort}${basePath}`;
  discovery = buildDiscovery(base);

  let closing: Promise<void> | undefined;
  return {
    url: base,
    token,
    port: actualPort,
    get faults() {
      return faults;
    },
    get requests() {
      return requests;
    },
    setFaults(update) {
      const next = { ...faults, ...update };
      checkFaults(next);
      Object.assign(faults, next);
    },
    counts: () => ({ users: store.users.records.size, groups: store.groups.records.size }),
    reset() {
      store.clear();
      requests = 0;
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const timer of delayed) clearTimeout(timer);
        delayed.clear();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
