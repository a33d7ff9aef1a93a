import { asBool, asText, attrName, getKey, hasKey, isObject } from './json.js';
import { parseFilter } from './request-line.js';
import type { MemberChange, OperationKind, ResourceType } from './types.js';

// PATCH: Entra's operations read tolerantly (any case of `op`, string booleans, path-less objects), and the
// member changes they make.

export interface PatchOp {
  op: string;
  path: string | null;
  value: unknown;
  hasValue: boolean;
}

export function patchOps(body: unknown): PatchOp[] {
  const ops = getKey(body, 'Operations');
  if (!Array.isArray(ops)) return [];
  const out: PatchOp[] = [];
  for (const o of ops) {
    if (!isObject(o)) continue;
    const path = getKey(o, 'path');
    out.push({
      op: String(asText(getKey(o, 'op')) ?? '')
        .trim()
        .toLowerCase(),
      path: typeof path === 'string' && path.trim() !== '' ? path.trim() : null,
      value: getKey(o, 'value'),
      hasValue: hasKey(o, 'value'),
    });
  }
  return out;
}

/** Last `active` set by the ops, whether as path `active` or inside a path-less value object. */
export function patchActive(ops: PatchOp[]): boolean | null {
  let active: boolean | null = null;
  for (const o of ops) {
    if (o.op !== 'add' && o.op !== 'replace') continue;
    if (o.path !== null) {
      if (attrName(o.path) === 'active') active = asBool(o.value) ?? active;
    } else if (isObject(o.value) && hasKey(o.value, 'active')) {
      active = asBool(getKey(o.value, 'active')) ?? active;
    }
  }
  return active;
}

export function memberIds(v: unknown): string[] {
  const items = Array.isArray(v) ? v : v == null ? [] : [v];
  const ids: string[] = [];
  for (const item of items) {
    const id = asText(isObject(item) ? getKey(item, 'value') : item);
    if (id !== null) ids.push(id);
  }
  return ids;
}

/** A member change when the op touches only `members`; null when it touches anything else. */
export function memberChangeOf(o: PatchOp): MemberChange | null {
  if (o.op !== 'add' && o.op !== 'remove' && o.op !== 'replace') return null;
  if (o.path !== null) {
    // indexOf rather than /\[(.*)\]/: that regex is quadratic on a path of many `[` and no `]`
    const open = o.path.indexOf('[');
    const close = o.path.lastIndexOf(']');
    const p = attrName(open >= 0 ? o.path.slice(0, open) : o.path);
    if (p !== 'members') return null;
    if (open >= 0 && close > open) {
      // 2020 dialect: `members[value eq "u-1"]`, no value
      const c = parseFilter(o.path.slice(open + 1, close));
      const ids = c && attrName(c.attribute) === 'value' && c.value !== null ? [c.value] : [];
      return { op: o.op, ids: [...ids, ...memberIds(o.value)] };
    }
    return { op: o.op, ids: memberIds(o.value) };
  }
  if (isObject(o.value)) {
    const keys = Object.keys(o.value);
    if (keys.length > 0 && keys.every((k) => attrName(k) === 'members')) {
      return { op: o.op, ids: memberIds(getKey(o.value, 'members')) };
    }
  }
  return null;
}

/** One entry per kind, in the order the kinds first appear. */
export function mergeMembers(changes: MemberChange[]): MemberChange[] {
  const out: MemberChange[] = [];
  for (const c of changes) {
    const same = out.find((m) => m.op === c.op);
    // a loop, not push(...ids): spreading a hostile 100k-id array overflows the call stack
    if (same) for (const id of c.ids) same.ids.push(id);
    else out.push({ op: c.op, ids: [...c.ids] });
  }
  return out;
}

export function patchKind(resourceType: ResourceType, ops: PatchOp[]): OperationKind {
  if (resourceType === 'User') {
    const active = patchActive(ops);
    return active === false ? 'disable' : active === true ? 'enable' : 'update';
  }
  const changes = ops.map(memberChangeOf);
  if (changes.length === 0 || changes.some((c) => c === null)) return 'update';
  // several kinds in one PATCH: the first op names it, `members` records them all
  const first = (changes[0] as MemberChange).op;
  return first === 'add' ? 'addMembers' : first === 'remove' ? 'removeMembers' : 'replaceMembers';
}

/** The value a PATCH sets for a simple attribute (`userName`, `displayName`, `externalId`), if any. */
export function patchValue(ops: PatchOp[], attr: string): string | null {
  let found: string | null = null;
  for (const o of ops) {
    if (o.op !== 'add' && o.op !== 'replace') continue;
    if (o.path !== null && attrName(o.path) === attr) found = asText(o.value) ?? found;
    else if (o.path === null && isObject(o.value)) {
      for (const [k, v] of Object.entries(o.value)) if (attrName(k) === attr) found = asText(v) ?? found;
    }
  }
  return found;
}
