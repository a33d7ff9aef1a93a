import type { OperationKind } from '../../scim/types.js';
import { changedFields, type Directory, memberDelta, type SimGroup, type SimUser } from './directory.js';
import type { HttpResult } from './http.js';
import {
  activeBody,
  type Dialect,
  groupCreateBody,
  groupLookupPath,
  groupRenameBody,
  listResources,
  membersBody,
  userCreateBody,
  userFromResource,
  userLookupPath,
  userUpdateBody,
} from './requests.js';

// One object's export, as Entra's provisioning engine does it: look the object up by its matching attribute,
// create it or update what changed, then (for groups) its members. Each stops at its first failure, which the
// next cycle retries, as Entra escrows a failed object.

/** One request of an export, and how to read its answer. */
export interface Call {
  kind: OperationKind;
  identity: string | null;
  method: string;
  path: string;
  body?: unknown;
  /** whether the answer counts as a success; default: any 2xx */
  succeeded?: (r: HttpResult) => boolean;
  /** the object's target id: known up front for calls by id, else read from a successful answer */
  targetId?: string | ((r: HttpResult) => string | null) | null;
}

export const isOk = (status: number | null) => status !== null && status >= 200 && status < 300;

export function errorDetail(result: HttpResult): string | null {
  if (result.error) return result.error;
  if (isOk(result.status)) return null;
  const body = result.body as { detail?: unknown } | undefined;
  return typeof body?.detail === 'string' ? body.detail : `HTTP ${result.status}`;
}

/** What an export needs from the simulator: its request sender (paced and counted) and the source directory. */
export interface ExportContext {
  send(call: Call): Promise<{ result: HttpResult; ok: boolean } | null>;
  dir: Directory;
  dialect: Dialect;
  membersPerPatch: number;
}

// A filter query must answer 200 with a ListResponse holding at most one match (Entra: MultipleEntries...).
export const lookupOk = (r: HttpResult) => {
  if (r.status !== 200) return false;
  const resources = listResources(r.body);
  return resources !== null && resources.length <= 1;
};
const foundId = (r: HttpResult) => {
  const id = listResources(r.body)?.[0]?.id;
  return typeof id === 'string' ? id : null;
};
const bodyId = (r: HttpResult) => {
  const id = (r.body as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : null;
};

function forgetUser(dir: Directory, user: SimUser): void {
  dir.users.delete(user.serial);
  // The target drops a deleted user's memberships itself.
  for (const group of dir.groups.values()) group.synced?.members.delete(user.serial);
}

/** One user object, as one Entra export: stops at its first failure, which the next cycle retries. */
export async function exportUser(ctx: ExportContext, user: SimUser): Promise<void> {
  const { send, dir, dialect } = ctx;
  const desired = user.desired;
  if (!desired) {
    if (!user.targetId) return void dir.users.delete(user.serial);
    const id = user.targetId;
    const sent = await send({
      kind: 'delete',
      identity: user.synced?.userName ?? null,
      method: 'DELETE',
      path: `/Users/${encodeURIComponent(id)}`,
      targetId: id,
    });
    // 404: already gone from the target, which is what a delete wants.
    if (sent && (sent.ok || sent.result.status === 404)) forgetUser(ctx.dir, user);
    return;
  }
  const identity = desired.userName;
  if (!user.targetId) {
    const lookup = await send({
      kind: 'lookup',
      identity,
      method: 'GET',
      path: userLookupPath(identity),
      succeeded: lookupOk,
      targetId: foundId,
    });
    if (!lookup?.ok) return;
    const found = listResources(lookup.result.body)?.[0];
    if (found && typeof found.id === 'string') {
      user.targetId = found.id;
      user.synced = userFromResource(found);
    } else {
      const created = await send({
        kind: 'create',
        identity,
        method: 'POST',
        path: '/Users',
        body: userCreateBody(desired),
        targetId: bodyId,
      });
      const id = created?.ok ? bodyId(created.result) : null;
      if (id) {
        user.targetId = id;
        user.synced = { ...desired };
      }
      return;
    }
  }
  const id = user.targetId;
  const path = `/Users/${encodeURIComponent(id)}`;
  const synced = user.synced!;
  const fields = changedFields(desired, synced);
  if (fields.length > 0) {
    const sent = await send({
      kind: 'update',
      identity,
      method: 'PATCH',
      path,
      body: userUpdateBody(dialect, desired, fields),
      targetId: id,
    });
    if (!sent || !settle(user, sent.result)) return;
    user.synced = { ...desired, active: synced.active };
  }
  if (desired.active !== user.synced!.active) {
    const kind = desired.active ? 'enable' : 'disable';
    const sent = await send({
      kind,
      identity,
      method: 'PATCH',
      path,
      body: activeBody(dialect, desired.active),
      targetId: id,
    });
    if (!sent || !settle(user, sent.result)) return;
    user.synced = { ...user.synced!, active: desired.active };
  }
}

/** true when the call succeeded; a 404 means the target lost the object: look it up again next cycle. */
function settle(object: SimUser | SimGroup, result: HttpResult): boolean {
  if (isOk(result.status)) return true;
  if (result.status === 404) {
    object.targetId = null;
    object.synced = null;
  }
  return false;
}

/** One group object: create or find it, rename it, then add and remove members in PATCHes of `membersPerPatch`. */
export async function exportGroup(ctx: ExportContext, group: SimGroup): Promise<void> {
  const { send, dir, dialect } = ctx;
  const desired = group.desired;
  if (!desired) {
    if (group.targetId) {
      const id = group.targetId;
      const sent = await send({
        kind: 'delete',
        identity: group.synced?.displayName ?? null,
        method: 'DELETE',
        path: `/Groups/${encodeURIComponent(id)}`,
        targetId: id,
      });
      if (!sent || !(sent.ok || sent.result.status === 404)) return;
    }
    dir.groups.delete(group.serial);
    return;
  }
  const identity = desired.displayName;
  if (!group.targetId) {
    const lookup = await send({
      kind: 'lookup',
      identity,
      method: 'GET',
      path: groupLookupPath(identity),
      succeeded: lookupOk,
      targetId: foundId,
    });
    if (!lookup?.ok) return;
    const found = listResources(lookup.result.body)?.[0];
    if (found && typeof found.id === 'string') {
      // Members were excluded from the answer: add every desired member (adding is idempotent).
      group.targetId = found.id;
      group.synced = {
        displayName: typeof found.displayName === 'string' ? found.displayName : identity,
        members: new Set(),
      };
    } else {
      const created = await send({
        kind: 'create',
        identity,
        method: 'POST',
        path: '/Groups',
        body: groupCreateBody(desired),
        targetId: bodyId,
      });
      const id = created?.ok ? bodyId(created.result) : null;
      if (!id) return;
      group.targetId = id;
      group.synced = { displayName: desired.displayName, members: new Set() };
    }
  }
  const id = group.targetId;
  const path = `/Groups/${encodeURIComponent(id)}`;
  if (group.synced!.displayName !== desired.displayName) {
    const sent = await send({
      kind: 'update',
      identity,
      method: 'PATCH',
      path,
      body: groupRenameBody(dialect, desired.displayName),
      targetId: id,
    });
    if (!sent || !settle(group, sent.result)) return;
    group.synced!.displayName = desired.displayName;
  }
  await syncMembers(ctx, group, identity, id, path);
}

/** The group's member changes, in PATCHes of `membersPerPatch`; stops at the first failure (retried next cycle). */
async function syncMembers(
  { send, dir, dialect, membersPerPatch }: ExportContext,
  group: SimGroup,
  identity: string,
  id: string,
  path: string,
): Promise<void> {
  const { add, remove } = memberDelta(dir, group);
  for (const [op, serials] of [
    ['add', add],
    ['remove', remove],
  ] as const) {
    for (let i = 0; i < serials.length; i += membersPerPatch) {
      const chunk = serials.slice(i, i + membersPerPatch);
      const ids = chunk
        .map((serial) => dir.users.get(serial)?.targetId)
        .filter((v): v is string => Boolean(v));
      if (ids.length === 0) {
        for (const serial of chunk) group.synced!.members.delete(serial);
        continue;
      }
      const kind = op === 'add' ? 'addMembers' : 'removeMembers';
      const sent = await send({
        kind,
        identity,
        method: 'PATCH',
        path,
        body: membersBody(dialect, op, ids),
        targetId: id,
      });
      if (!sent || !settle(group, sent.result)) return;
      for (const serial of chunk) {
        if (op === 'add') group.synced!.members.add(serial);
        else group.synced!.members.delete(serial);
      }
    }
  }
}
