// Records Entra-shaped exchanges the way scimtap does (real classify, real ingest), for API and export tests.
import { classify } from '../../server/scim/classify.js';
import type { Exchange } from '../../server/scim/types.js';
import type { Db } from '../../server/store/db.js';
import { createIngest, type IngestStage, type StoredOperation } from '../../server/store/ingest.js';
import { createTermsStage } from '../../server/store/terms.js';
import {
  createUserBody,
  emptyListResponse,
  exchange,
  filterQuery,
  listResponse,
  patch2017Disable,
  patchBody,
  scimError,
  userResource,
} from '../fixtures/entra.js';

export function recorder(db: Db, stages: IngestStage[] = []): (batch: Exchange[]) => StoredOperation[] {
  return createIngest({
    db,
    classify: (e) => classify(e, { capture: 'redacted', redact: ['password'] }),
    // As main.ts wires it: the terms stage keeps what `q` searches.
    stages: [...stages, createTermsStage(db)],
  });
}

/** Builders for one Entra call each, at a given time; `id` is the user's id in the app. */
export const entra = {
  lookupUser: (at: number, userName: string, id?: string) =>
    exchange({
      startedAt: at,
      query: filterQuery('userName', userName),
      resBody: id ? listResponse([userResource({ id, userName })]) : emptyListResponse,
    }),
  createUser: (at: number, userName: string, id: string, over: Record<string, unknown> = {}) =>
    exchange({
      startedAt: at,
      method: 'POST',
      reqBody: createUserBody({ userName, externalId: userName.split('@')[0], ...over }),
      status: 201,
      resBody: userResource({ id, userName }),
    }),
  createConflict: (at: number, userName: string) =>
    exchange({
      startedAt: at,
      method: 'POST',
      reqBody: createUserBody({ userName }),
      status: 409,
      resBody: scimError(409, `userName ${userName} is already in use`, 'uniqueness'),
    }),
  updateUser: (at: number, id: string, userName: string, displayName: string) =>
    exchange({
      startedAt: at,
      method: 'PATCH',
      path: `/scim/v2/Users/${id}`,
      reqBody: patchBody([{ op: 'Replace', path: 'displayName', value: displayName }]),
      resBody: userResource({ id, userName, displayName }),
    }),
  disableUser: (at: number, id: string, userName: string) =>
    exchange({
      startedAt: at,
      method: 'PATCH',
      path: `/scim/v2/Users/${id}`,
      reqBody: patch2017Disable,
      resBody: userResource({ id, userName, active: false }),
    }),
  deleteUser: (at: number, id: string) =>
    exchange({ startedAt: at, method: 'DELETE', path: `/scim/v2/Users/${id}`, status: 204 }),
  throttled: (at: number, id: string) =>
    exchange({
      startedAt: at,
      method: 'PATCH',
      path: `/scim/v2/Users/${id}`,
      reqBody: patchBody([{ op: 'Replace', path: 'title', value: 'Engineer' }]),
      status: 429,
      resBody: scimError(429, 'Too many requests'),
    }),
  upstreamDown: (at: number) =>
    exchange({
      startedAt: at,
      query: filterQuery('userName', 'nobody@example.com'),
      status: 502,
      resBody: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: '502',
        detail: 'scimtap: upstream unreachable: ECONNREFUSED',
      },
      failure: 'UpstreamUnreachable',
      failureDetail: 'ECONNREFUSED',
    }),
};
