import { createHash } from 'node:crypto';
import type { MemberChange, ModifiedProperty, Operation } from '../scim/types.js';

// Stored field caps (issue 10 §6). A client may send any length (an 8 KB userName in every lookup grew the
// database by ~78 KB per request: each value sits in the operation row, its indexes, the search terms and the
// identity rollup). Entra's longest real values are far below these: userPrincipalName ≤ 113, group
// displayName ≤ 256, filter queries ~100 characters (Okta's, with paging, ~150). The forwarded bytes are never cut; only what is stored.
export const fieldLimits = {
  /** userName / displayName, externalId, targetId, member ids: the identity keys of the rollups */
  identity: 256,
  httpMethod: 32,
  path: 1024,
  query: 512,
  reason: 1024,
  userAgent: 256,
  scimType: 64,
  /** a modified property's attribute path */
  propertyName: 256,
  /** a modified property's new value (rendered as text) */
  propertyValue: 1024,
} as const;
export type FieldLimits = { [K in keyof typeof fieldLimits]: number };

/**
 * `value` cut to `max` characters plus a visible marker saying how much went: `abc…[+8000 chars]`. Identity
 * keys also carry a digest of the whole value (`…[+8000 chars #1a2b3c4d]`), so two long names that share their
 * first `max` characters stay two identities, and the same name always gives the same key. Pure.
 */
export function truncateField(value: string, max: number, { key = false } = {}): string {
  if (value.length <= max) return value;
  let cut = value.slice(0, max);
  // Never split a surrogate pair: half an emoji is not valid UTF-8 in the database or the CSV.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  const rest = value.length - cut.length;
  const digest = key ? ` #${createHash('sha256').update(value).digest('hex').slice(0, 8)}` : '';
  return `${cut}…[+${rest} chars${digest}]`;
}

const cap = (v: string | null, max: number, key = false) =>
  v === null || v.length <= max ? v : truncateField(v, max, { key });

/** The operation as it is stored: every client-controlled text field capped (bodies are capped at capture). Pure. */
export function capOperation<T extends Operation>(op: T, limits: FieldLimits = fieldLimits): T {
  const props = capProperties(op.modifiedProperties, limits);
  const members = capMembers(op.members, limits.identity);
  const capped = {
    httpMethod: cap(op.httpMethod, limits.httpMethod) as string,
    path: cap(op.path, limits.path) as string,
    query: cap(op.query, limits.query) as string,
    identity: cap(op.identity, limits.identity, true),
    externalId: cap(op.externalId, limits.identity, true),
    targetId: cap(op.targetId, limits.identity, true),
    scimType: cap(op.scimType, limits.scimType),
    reason: cap(op.reason, limits.reason),
    userAgent: cap(op.userAgent, limits.userAgent),
  };
  // The common case (nothing long) returns the same object: this runs once per forwarded request.
  let changed = props !== op.modifiedProperties || members !== op.members;
  for (const k of Object.keys(capped) as (keyof typeof capped)[]) {
    if (capped[k] !== op[k]) changed = true;
  }
  return changed ? { ...op, ...capped, modifiedProperties: props, members } : op;
}

function capProperties(props: ModifiedProperty[], limits: FieldLimits): ModifiedProperty[] {
  let out: ModifiedProperty[] | null = null;
  for (let i = 0; i < props.length; i++) {
    const p = props[i];
    if (p.name.length <= limits.propertyName && p.value.length <= limits.propertyValue) continue;
    out ??= props.slice();
    out[i] = {
      ...p,
      name: truncateField(p.name, limits.propertyName),
      value: truncateField(p.value, limits.propertyValue),
    };
  }
  return out ?? props;
}

function capMembers(members: MemberChange[], max: number): MemberChange[] {
  let out: MemberChange[] | null = null;
  for (let i = 0; i < members.length; i++) {
    const m = members[i];
    if (!m.ids.some((id) => id.length > max)) continue;
    out ??= members.slice();
    // Member ids are target ids: capped the same way, so a membership still names its user's identity key.
    out[i] = { ...m, ids: m.ids.map((id) => truncateField(id, max, { key: true })) };
  }
  return out ?? members;
}
