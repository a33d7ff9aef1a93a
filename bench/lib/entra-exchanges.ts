import { syntheticTraffic } from '../../server/cycles/synthetic.js';
import type { Exchange, Operation } from '../../server/scim/types.js';
import {
  addMembersBody,
  createUserBody,
  exchange,
  filterQuery,
  groupResource,
  listResponse,
  patchBody,
  removeMembers2017Body,
  userResource,
} from '../../test/fixtures/entra.js';

// Entra-shaped exchanges (requests and answers as the proxy taps them) for recording benchmarks: the synthetic
// cycle traffic of server/cycles/synthetic.ts (a 5,000-user, 200-group tenant) rendered as HTTP.

/** An operation from the synthetic generator as the exchange Entra and the app would have produced. */
function toExchange(op: Operation): Exchange {
  const base = '/scim/v2';
  const common = { startedAt: op.time, durationMs: op.durationMs, status: op.httpStatus };
  const error =
    op.status === 'failure'
      ? {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
          detail: op.reason,
          status: String(op.httpStatus),
        }
      : undefined;
  const isGroup = op.resourceType === 'Group';
  const coll = isGroup ? 'Groups' : 'Users';
  const resource = isGroup
    ? groupResource({ id: op.targetId, displayName: op.identity })
    : userResource({ id: op.targetId, userName: op.identity, externalId: op.externalId });
  switch (op.operation) {
    case 'testConnection':
      return exchange({
        ...common,
        path: `${base}/Users`,
        query: filterQuery('userName', crypto.randomUUID()),
        resBody: error ?? listResponse([]),
      });
    case 'lookup':
      return exchange({
        ...common,
        path: `${base}/${coll}`,
        query: filterQuery(
          isGroup ? 'displayName' : 'userName',
          op.identity ?? '',
          isGroup ? 'excludedAttributes=members' : '',
        ),
        resBody: error ?? listResponse(op.targetId ? [resource] : []),
      });
    case 'create':
      return exchange({
        ...common,
        method: 'POST',
        path: `${base}/${coll}`,
        reqBody: isGroup
          ? { displayName: op.identity, externalId: op.externalId }
          : createUserBody({ userName: op.identity, externalId: op.externalId }),
        resBody: error ?? resource,
      });
    case 'delete':
      return exchange({
        ...common,
        method: 'DELETE',
        path: `${base}/${coll}/${op.targetId}`,
        resBody: error,
      });
    case 'addMembers':
    case 'removeMembers': {
      const ids = op.members.flatMap((m) => m.ids);
      return exchange({
        ...common,
        method: 'PATCH',
        path: `${base}/Groups/${op.targetId}`,
        reqBody: op.operation === 'addMembers' ? addMembersBody(ids) : removeMembers2017Body(ids),
        resBody: error,
      });
    }
    default:
      return exchange({
        ...common,
        method: 'PATCH',
        path: `${base}/${coll}/${op.targetId}`,
        reqBody: patchBody(
          op.modifiedProperties.map((p) => ({ op: 'Replace', path: p.name, value: p.value })),
        ),
        resBody: error ?? (isGroup ? undefined : resource),
      });
  }
}

export function entraExchanges(n: number, seed: number): Exchange[] {
  const out: Exchange[] = [];
  for (const op of syntheticTraffic({
    users: 5_000,
    groups: 200,
    incrementalCycles: 100_000,
    seed,
    changesPerCycle: 150,
  })) {
    out.push(toExchange(op));
    if (out.length >= n) break;
  }
  return out;
}
