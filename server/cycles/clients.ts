import type { ClientKind, OperationKind, ResourceType } from '../scim/types.js';
import type { Db } from '../store/db.js';
import type { IngestStage, OperationRecord } from '../store/ingest.js';
import { type Meta, metaTable } from '../store/meta.js';

/** The part of an operation that tells whose request it was. */
export interface ClientFacts {
  httpStatus: number | null;
  resourceType: ResourceType;
  operation: OperationKind;
  /** first 12 hex of SHA-256 of the token; null: no Authorization header */
  tokenFingerprint: string | null;
  /** scimtap refused it itself (SCIMTAP_TRUSTED_CLIENTS): it never reached the app */
  refused: boolean;
}

/** The tokens the app has accepted, by fingerprint; `anonymous` stands for "no token" on an app that needs none. */
export interface ClientState {
  accepted: ReadonlySet<string>;
}

export const anonymous = '-';

/**
 * Whose request is this (issue 10)? The proxy faces the internet: scanners and strangers reach it too, and
 * their 401s must not look like Entra's credentials failing, nor their lookups like users failing. Decided per
 * operation, in order; the first row that matches wins:
 *
 *   refused by SCIMTAP_TRUSTED_CLIENTS                              → unrecognised (never reached the app)
 *   answered 2xx on a SCIM resource (Users, Groups, discovery ...)  → provisioning; its token is now accepted
 *   its token (or "no token") was accepted before                   → provisioning
 *   a token, on a SCIM resource, and no token was ever accepted     → provisioning (first setup: a token that
 *                                                                     never worked is still a credentials problem)
 *   a token, on Entra's testConnection probe (a GUID filter)        → provisioning (the Secret Token was changed
 *                                                                     in Entra and the new one is rejected)
 *   anything else                                                   → unrecognised
 *
 * So a scanner without a token (`/`, `/.env`) is never the client, a wrong token between cycles is not once
 * Entra's own token has worked, and the token Entra used yesterday is the client even when it starts failing.
 */
export function recognise(state: ClientState, op: ClientFacts): { kind: ClientKind; accepts: string | null } {
  if (op.refused) return { kind: 'unrecognised', accepts: null };
  const key = op.tokenFingerprint ?? anonymous;
  const scim = op.resourceType !== 'Other';
  const ok = op.httpStatus !== null && op.httpStatus >= 200 && op.httpStatus < 300;
  if (ok && scim) return { kind: 'provisioning', accepts: state.accepted.has(key) ? null : key };
  if (state.accepted.has(key)) return { kind: 'provisioning', accepts: null };
  const token = op.tokenFingerprint !== null;
  if (token && scim && state.accepted.size === 0) return { kind: 'provisioning', accepts: null };
  if (token && op.operation === 'testConnection') return { kind: 'provisioning', accepts: null };
  return { kind: 'unrecognised', accepts: null };
}

/** fingerprints remembered; the oldest accepted is forgotten first (Entra uses one token at a time) */
const maxAccepted = 50;
const metaKey = 'clients.acceptedTokens';

export interface ClientStage extends IngestStage {
  beforeInsert(ops: OperationRecord[]): void;
  onRollback(): void;
  /** fingerprints the app has accepted, newest last (the API shows them) */
  accepted(): string[];
}

/**
 * The ingest stage that labels each operation's client before the cycles stage reads it. The accepted tokens
 * live in `meta`, so retention pruning old operations never makes Entra's token a stranger's again.
 */
export function createClientStage(options: { db: Db } | { meta: Meta }): ClientStage {
  // `meta`: PostgreSQL's derivation hands a façade over what it prefetched (store/pg/derive/).
  const meta = 'meta' in options ? options.meta : metaTable(options.db);
  // Insertion order is acceptance order: a Set keeps it, and re-accepting moves a token to the end.
  let accepted = new Set<string>();

  function load(): void {
    accepted = new Set();
    try {
      const v = JSON.parse(meta.get(metaKey) ?? '[]');
      if (Array.isArray(v)) for (const fp of v) if (typeof fp === 'string') accepted.add(fp);
    } catch {
      // unreadable: start over; the next accepted request writes it again
    }
  }
  load();

  return {
    beforeInsert(ops) {
      let changed = false;
      const state = { accepted };
      for (const op of ops) {
        // The facts named one by one: a spread of the whole operation per row was this stage's cost.
        const { kind, accepts } = recognise(state, {
          httpStatus: op.httpStatus,
          resourceType: op.resourceType,
          operation: op.operation,
          tokenFingerprint: op.tokenFingerprint,
          refused: op.clientKind === 'unrecognised',
        });
        op.clientKind = kind;
        if (accepts !== null) {
          accepted.add(accepts);
          while (accepted.size > maxAccepted) accepted.delete(accepted.values().next().value as string);
          changed = true;
        }
      }
      if (changed) meta.set(metaKey, JSON.stringify([...accepted]));
    },
    onRollback() {
      try {
        load();
      } catch {
        // the batch's own error is what the recorder reports
      }
    },
    accepted: () => [...accepted],
  };
}
