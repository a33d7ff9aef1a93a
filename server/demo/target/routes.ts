import type { IncomingMessage, ServerResponse } from 'node:http';
import { authProblem } from './auth.js';
import type { StoredGroup, StoredResource } from './collection.js';
import { type Discovery, LIST_SCHEMA, MAX_RESULTS } from './discovery.js';
import { badRequest, errorBody, ScimError } from './errors.js';
import { refusesUser, type TargetFaults } from './faults.js';
import { parseFilter } from './filter.js';
import { parsePatchOp } from './patch.js';
import { excludedAttributes, intParam, queryParam, readJson } from './request.js';
import type { TargetStore } from './store.js';

// How the target answers a request: the faults first, in the order TargetFaults lists them, then the token,
// then the SCIM endpoint the path names.

/** What answering a request reads and changes: the target's resources, its faults and where it is served. */
export interface TargetContext {
  readonly store: TargetStore;
  /** the live settings, changed in place by setFaults */
  readonly faults: TargetFaults;
  readonly token: string;
  readonly basePath: string;
  /** the served base URL and the discovery documents naming it, known once the server listens */
  base: string;
  discovery: Discovery;
  /** answers held back by latencyMs, cleared on close */
  readonly delayed: Set<NodeJS.Timeout>;
  /** requests answered so far */
  requests: number;
}

const SCIM_JSON = 'application/scim+json';
const RETRY_AFTER_SECONDS = '1';
const EMPTY_PARAMS = new URLSearchParams();

export function onRequest(ctx: TargetContext, req: IncomingMessage, res: ServerResponse): void {
  const { faults } = ctx;
  if (faults.tokenExpired) {
    sendError(ctx, res, new ScimError(401, 'Invalid bearer token: the token has expired'), {
      'www-authenticate': 'Bearer error="invalid_token", error_description="The token has expired"',
    });
    return;
  }
  if (faults.latencyMs > 0) {
    const timer = setTimeout(() => {
      ctx.delayed.delete(timer);
      afterLatency(ctx, req, res);
    }, faults.latencyMs);
    ctx.delayed.add(timer);
    return;
  }
  afterLatency(ctx, req, res);
}

function afterLatency(ctx: TargetContext, req: IncomingMessage, res: ServerResponse): void {
  const { faults } = ctx;
  const random = faults.random ?? Math.random;
  if (faults.throttleRate > 0 && random() < faults.throttleRate) {
    sendError(ctx, res, new ScimError(429, `Too many requests: retry after ${RETRY_AFTER_SECONDS} s`), {
      'retry-after': RETRY_AFTER_SECONDS,
    });
    return;
  }
  if (faults.errorRate > 0 && random() < faults.errorRate) {
    sendError(ctx, res, new ScimError(500, 'Internal server error'));
    return;
  }
  const problem = authProblem(req.headers.authorization, ctx.token);
  if (problem) {
    sendError(ctx, res, new ScimError(401, problem), { 'www-authenticate': 'Bearer realm="SCIM"' });
    return;
  }
  route(ctx, req, res).catch((error: unknown) => {
    if (res.headersSent) return;
    if (error instanceof ScimError) sendError(ctx, res, error);
    else
      sendError(ctx, res, new ScimError(500, `Internal server error: ${(error as Error)?.message ?? error}`));
  });
}

async function route(ctx: TargetContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { store, basePath, discovery } = ctx;
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
      if (method === 'GET') return list(ctx, res, isUser, params);
      if (method === 'POST') return create(ctx, req, res, isUser);
      return notAllowed(ctx, res, 'GET, POST');
    }
    switch (method) {
      case 'GET': {
        const record = isUser ? store.users.get(id) : store.groups.get(id);
        return sendResource(ctx, res, 200, isUser, record, excludedAttributes(params));
      }
      case 'PUT': {
        if (isUser) refuseUpdate(ctx, id);
        const body = await readJson(req);
        const record = isUser ? store.replaceUser(id, body) : store.replaceGroup(id, body);
        return sendResource(ctx, res, 200, isUser, record);
      }
      case 'PATCH': {
        if (isUser) refuseUpdate(ctx, id);
        const ops = parsePatchOp(await readJson(req));
        if (isUser) return sendResource(ctx, res, 200, true, store.patchUser(id, ops));
        store.patchGroup(id, ops);
        // Entra expects 204 for group PATCHes; returning a large member list would be wasted work.
        return send(ctx, res, 204);
      }
      case 'DELETE':
        if (isUser) store.deleteUser(id);
        else store.deleteGroup(id);
        return send(ctx, res, 204);
      default:
        return notAllowed(ctx, res, 'GET, PUT, PATCH, DELETE');
    }
  }

  if (method !== 'GET') return notAllowed(ctx, res, 'GET');
  const lookup = id?.toLowerCase();
  let body: string | undefined;
  if (endpoint === 'serviceproviderconfig' && !id) body = discovery.serviceProviderConfig;
  else if (endpoint === 'schemas') body = lookup ? discovery.schemaById.get(lookup) : discovery.schemas;
  else if (endpoint === 'resourcetypes')
    body = lookup ? discovery.resourceTypeById.get(lookup) : discovery.resourceTypes;
  if (body === undefined) throw notFound(pathname);
  send(ctx, res, 200, body);
}

async function create(
  ctx: TargetContext,
  req: IncomingMessage,
  res: ServerResponse,
  isUser: boolean,
): Promise<void> {
  const { store, faults } = ctx;
  const body = await readJson(req);
  if (isUser) {
    const userName = (body as { userName?: unknown } | null)?.userName;
    if (
      typeof userName === 'string' &&
      faults.conflictUserNames.some((n) => n.toLowerCase() === userName.toLowerCase())
    ) {
      throw new ScimError(409, `A user with userName "${userName}" already exists`, 'uniqueness');
    }
    if (typeof userName === 'string' && refusesUser(faults, userName)) {
      throw new ScimError(409, `An account with the work email "${userName}" already exists`, 'uniqueness');
    }
  }
  sendResource(ctx, res, 201, isUser, isUser ? store.createUser(body) : store.createGroup(body));
}

/** `refuseUserShare`: an update of a refused user fails validation, whatever it changes (the app checks the whole record). */
function refuseUpdate(ctx: TargetContext, id: string): void {
  const record = ctx.store.users.records.get(id);
  const userName = record?.doc.userName;
  if (typeof userName !== 'string' || !refusesUser(ctx.faults, userName)) return;
  const title = typeof record?.doc.title === 'string' ? record.doc.title : '';
  throw badRequest(
    `Attribute 'title' value "${title}" is not in the app's job catalogue; the user record cannot be saved`,
    'invalidValue',
  );
}

function list(ctx: TargetContext, res: ServerResponse, isUser: boolean, params: URLSearchParams): void {
  const { store, base } = ctx;
  const filterText = queryParam(params, 'filter');
  const filter = filterText === null ? undefined : parseFilter(filterText);
  // RFC 7644 §3.4.2.4: startIndex below 1 means 1, a negative count means 0.
  const startIndex = Math.max(1, intParam(params, 'startIndex', 1));
  const count = Math.min(MAX_RESULTS, Math.max(0, intParam(params, 'count', MAX_RESULTS)));
  const excluded = excludedAttributes(params);
  const collection = isUser ? store.users : store.groups;
  const page = collection.find(filter, startIndex, count);
  if (filter && page.total === 0 && ctx.faults.nonCompliantFilter) {
    throw new ScimError(404, `${isUser ? 'User' : 'Group'} not found`);
  }
  const resources = page.items.map((record) =>
    isUser ? store.userJson(record, base, excluded) : store.groupJson(record as StoredGroup, base, excluded),
  );
  send(
    ctx,
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

function sendResource(
  ctx: TargetContext,
  res: ServerResponse,
  status: number,
  isUser: boolean,
  record: StoredResource,
  excluded?: ReadonlySet<string>,
): void {
  const json = isUser
    ? ctx.store.userJson(record, ctx.base, excluded)
    : ctx.store.groupJson(record as StoredGroup, ctx.base, excluded);
  send(
    ctx,
    res,
    status,
    JSON.stringify(json),
    status === 201 ? { location: (json.meta as { location: string }).location } : undefined,
  );
}

function notFound(pathname: string): ScimError {
  return new ScimError(404, `No SCIM endpoint at ${pathname}`);
}

function notAllowed(ctx: TargetContext, res: ServerResponse, allow: string): void {
  sendError(ctx, res, new ScimError(405, `Method not allowed here; allowed: ${allow}`), { allow });
}

function send(
  ctx: TargetContext,
  res: ServerResponse,
  status: number,
  body?: string,
  headers?: Record<string, string>,
): void {
  ctx.requests++;
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

function sendError(
  ctx: TargetContext,
  res: ServerResponse,
  error: ScimError,
  headers?: Record<string, string>,
): void {
  send(
    ctx,
    res,
    error.status,
    JSON.stringify(errorBody(error.status, error.message, error.scimType)),
    headers,
  );
}
