import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import { type Received, sha256 } from './http.js';

/**
 * An independent, real SCIM 2.0 server (SCIMMY + its express routers) used as the upstream in integration
 * tests, so the proxy is checked against someone else's SCIM implementation, not only our demo target.
 * SCIMMY declares resources globally: start one per test process.
 */
export async function startScimmyUpstream(token: string) {
  type Stored = Record<string, unknown> & { id: string };
  const users = new Map<string, Stored>();
  const groups = new Map<string, Stored>();
  const received: (Omit<Received, 'body'> & { bodyHash: string; bodyLength: number })[] = [];

  const handlers = (store: Map<string, Stored>) => ({
    ingress: (resource: { id?: string }, instance: Record<string, unknown>) => {
      const id = resource.id ?? randomUUID();
      if (!resource.id && [...store.values()].some((r) => clash(r, instance))) {
        throw new SCIMMY.Types.Error(409, 'uniqueness', 'a resource with this name already exists');
      }
      if (resource.id && !store.has(id)) throw new SCIMMY.Types.Error(404, null!, `Resource ${id} not found`);
      const now = new Date().toISOString();
      const previous = store.get(id);
      const stored = {
        ...instance,
        id,
        meta: { created: (previous?.meta as { created?: string })?.created ?? now, lastModified: now },
      } as Stored;
      store.set(id, stored);
      return stored;
    },
    egress: (resource: { id?: string; filter?: { match(v: unknown[]): unknown[] } }) => {
      if (resource.id) {
        const found = store.get(resource.id);
        if (!found) throw new SCIMMY.Types.Error(404, null!, `Resource ${resource.id} not found`);
        return found;
      }
      const all = [...store.values()];
      return resource.filter ? resource.filter.match(all) : all;
    },
    degress: (resource: { id?: string }) => {
      if (!resource.id || !store.delete(resource.id)) {
        throw new SCIMMY.Types.Error(404, null!, `Resource ${resource.id} not found`);
      }
    },
  });
  const clash = (a: Record<string, unknown>, b: Record<string, unknown>) =>
    (a.userName !== undefined && a.userName === b.userName) ||
    (a.userName === undefined && a.displayName !== undefined && a.displayName === b.displayName);

  // Entra sends enterprise attributes (employeeNumber, department) with its users.
  SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false);
  for (const [resource, store] of [
    [SCIMMY.Resources.User, users],
    [SCIMMY.Resources.Group, groups],
  ] as const) {
    const h = handlers(store);
    (SCIMMY.Resources.declare(resource) as typeof SCIMMY.Resources.User)
      .ingress(h.ingress as never)
      .egress(h.egress as never)
      .degress(h.degress as never);
  }

  const app = express();
  // Keep a fingerprint of exactly what arrived, before any parsing, to prove the proxy changed nothing.
  app.use((req, _res, next) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({
        method: req.method,
        url: req.originalUrl,
        headers: req.headers,
        bodyHash: sha256(body),
        bodyLength: body.length,
      });
      (req as unknown as { rawBody: Buffer }).rawBody = body;
      // Entra's default PATCH dialect says "False"/"True"; SCIMMY wants booleans, as a strict app would not.
      const text = body.length ? body.toString('utf8') : '';
      (req as unknown as { body: unknown }).body = text ? normaliseEntraPatch(JSON.parse(text)) : undefined;
      next();
    });
  });
  app.use(
    '/scim/v2',
    new SCIMMYRouters({
      type: 'bearer',
      docUri: 'https://example.com/help',
      handler: (request: express.Request) => {
        if (request.header('authorization') !== `Bearer ${token}`) throw new Error('Authorization failed');
        return 'entra';
      },
    }) as unknown as express.Router,
  );
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/scim/v2`,
    users,
    groups,
    received,
    /** TCP connections open to it now (scimtap's pooled upstream sockets, busy or idle) */
    connections: () =>
      new Promise<number>((resolve, reject) =>
        server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function normaliseEntraPatch(body: unknown): unknown {
  if (!body || typeof body !== 'object' || !Array.isArray((body as { Operations?: unknown }).Operations))
    return body;
  const ops = (body as { Operations: Record<string, unknown>[] }).Operations.map((op) => ({
    ...op,
    op: typeof op.op === 'string' ? op.op.toLowerCase() : op.op,
    value: op.value === 'True' ? true : op.value === 'False' ? false : op.value,
  }));
  return { ...body, Operations: ops };
}
