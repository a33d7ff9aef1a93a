import { randomUUID } from 'node:crypto';
import {
  canonicalName,
  coerceBooleans,
  type Doc,
  findKey,
  GROUP_SCHEMA,
  getAttr,
  isObject,
  USER_SCHEMA,
} from './attributes.js';
import { badRequest, ScimError } from './errors.js';
import { type Comparison, matchesAll } from './filter.js';
import { applyOperation, type PatchOperation, toArray } from './patch.js';

export type ResourceType = 'User' | 'Group';

export interface StoredResource {
  id: string;
  doc: Doc;
  created: string;
  lastModified: string;
  version: number;
}

export interface StoredGroup extends StoredResource {
  members: Set<string>;
}

export interface Page<R> {
  total: number;
  items: R[];
}

// Never stored or echoed (`password` is returned: never in RFC 7643); the rest live outside `doc`.
const DROPPED = new Set(['id', 'meta', 'schemas', 'password']);

/** One resource type's records plus exact-match indexes for the attributes Entra filters on. */
class Collection<R extends StoredResource> {
  readonly records = new Map<string, R>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();

  constructor(
    readonly type: ResourceType,
    private readonly indexed: Record<string, boolean>, // attribute → caseExact
  ) {
    for (const attr of Object.keys(indexed)) this.indexes.set(attr.toLowerCase(), new Map());
  }

  private key(attr: string, value: unknown): string | undefined {
    if (typeof value !== 'string') return undefined;
    return this.indexed[attr] ? value : value.toLowerCase();
  }

  clear(): void {
    this.records.clear();
    for (const byValue of this.indexes.values()) byValue.clear();
  }

  insert(record: R): void {
    this.records.set(record.id, record);
    this.index(record, 1);
  }

  remove(record: R): void {
    this.records.delete(record.id);
    this.index(record, -1);
  }

  /** Swaps in a new document, keeping the indexes in step. */
  update(record: R, doc: Doc, now: string): void {
    this.index(record, -1);
    record.doc = doc;
    this.index(record, 1);
    this.touch(record, now);
  }

  touch(record: R, now: string): void {
    record.lastModified = now;
    record.version++;
  }

  private index(record: R, direction: 1 | -1): void {
    for (const attr of Object.keys(this.indexed)) {
      const key = this.key(attr, record.doc[attr]);
      if (key === undefined) continue;
      const byValue = this.indexes.get(attr.toLowerCase())!;
      let ids = byValue.get(key);
      if (direction === 1) {
        if (!ids) {
          ids = new Set();
          byValue.set(key, ids);
        }
        ids.add(record.id);
      } else if (ids) {
        ids.delete(record.id);
        if (ids.size === 0) byValue.delete(key);
      }
    }
  }

  /** Ids holding `value` in an indexed attribute (case-folded unless the attribute is case-exact). */
  lookup(attr: string, value: unknown): Set<string> | undefined {
    const canonical = canonicalName(attr);
    if (!(canonical in this.indexed)) return undefined;
    const key = this.key(canonical, value);
    return key === undefined ? undefined : this.indexes.get(canonical.toLowerCase())!.get(key);
  }

  find(filter: readonly Comparison[] | undefined, startIndex: number, count: number): Page<R> {
    if (!filter) {
      const items: R[] = [];
      let skip = startIndex - 1;
      for (const record of this.records.values()) {
        if (items.length >= count) break;
        if (skip-- > 0) continue;
        items.push(record);
      }
      return { total: this.records.size, items };
    }
    const matches = [...this.candidates(filter)].filter((r) => matchesAll(r.doc, filter, r.id));
    return { total: matches.length, items: matches.slice(startIndex - 1, startIndex - 1 + count) };
  }

  private *candidates(filter: readonly Comparison[]): Iterable<R> {
    for (const c of filter) {
      if (c.urn || c.sub) continue;
      if (c.attr.toLowerCase() === 'id') {
        const record = typeof c.value === 'string' ? this.records.get(c.value) : undefined;
        if (record) yield record;
        return;
      }
      const ids = this.lookup(c.attr, c.value);
      if (ids || canonicalName(c.attr) in this.indexed) {
        for (const id of ids ?? []) yield this.records.get(id)!;
        return;
      }
    }
    yield* this.records.values();
  }

  get(id: string): R {
    const record = this.records.get(id);
    if (!record) throw new ScimError(404, `${this.type} ${id} not found`);
    return record;
  }

  /** 409 uniqueness when another record already holds `value` in the unique attribute. */
  assertUnique(attr: string, value: unknown, selfId?: string): void {
    const ids = this.lookup(attr, value);
    if (!ids) return;
    for (const id of ids) {
      if (id !== selfId) {
        throw new ScimError(
          409,
          `A ${this.type.toLowerCase()} with ${attr} "${value}" already exists`,
          'uniqueness',
        );
      }
    }
  }
}

/**
 * The target's in-memory state: users, groups, and memberships indexed both ways so that deleting a user
 * also takes it out of its groups. Nothing is kept beyond the resources themselves.
 */
export class TargetStore {
  readonly users = new Collection<StoredResource>('User', {
    userName: false,
    externalId: true,
    displayName: false,
  });
  readonly groups = new Collection<StoredGroup>('Group', { displayName: false, externalId: true });
  private readonly memberOf = new Map<string, Set<string>>();

  constructor(
    private readonly clock: () => number,
    private readonly newId: () => string = randomUUID,
  ) {}

  private now(): string {
    return new Date(this.clock()).toISOString();
  }

  clear(): void {
    this.users.clear();
    this.groups.clear();
    this.memberOf.clear();
  }

  createUser(body: unknown): StoredResource {
    const doc = toDoc(body, 'User');
    validateUser(doc);
    this.users.assertUnique('userName', doc.userName);
    const now = this.now();
    const record: StoredResource = { id: this.newId(), doc, created: now, lastModified: now, version: 1 };
    this.users.insert(record);
    return record;
  }

  replaceUser(id: string, body: unknown): StoredResource {
    const record = this.users.get(id);
    const doc = toDoc(body, 'User');
    validateUser(doc);
    this.users.assertUnique('userName', doc.userName, id);
    this.users.update(record, doc, this.now());
    return record;
  }

  patchUser(id: string, ops: readonly PatchOperation[]): StoredResource {
    const record = this.users.get(id);
    const doc = structuredClone(record.doc);
    for (const op of ops) applyOperation(doc, op);
    for (const key of Object.keys(doc)) if (DROPPED.has(key.toLowerCase())) delete doc[key];
    validateUser(doc);
    this.users.assertUnique('userName', doc.userName, id);
    this.users.update(record, doc, this.now());
    return record;
  }

  deleteUser(id: string): void {
    const record = this.users.get(id);
    this.users.remove(record);
    for (const groupId of this.memberOf.get(id) ?? []) this.groups.records.get(groupId)?.members.delete(id);
    this.memberOf.delete(id);
  }

  createGroup(body: unknown): StoredGroup {
    const doc = toDoc(body, 'Group');
    const members = this.memberIds(doc);
    validateGroup(doc);
    this.groups.assertUnique('displayName', doc.displayName);
    const now = this.now();
    const record: StoredGroup = {
      id: this.newId(),
      doc,
      members: new Set(),
      created: now,
      lastModified: now,
      version: 1,
    };
    this.groups.insert(record);
    for (const userId of members) this.addMember(record, userId);
    return record;
  }

  replaceGroup(id: string, body: unknown): StoredGroup {
    const record = this.groups.get(id);
    const doc = toDoc(body, 'Group');
    const members = this.memberIds(doc);
    validateGroup(doc);
    this.groups.assertUnique('displayName', doc.displayName, id);
    this.groups.update(record, doc, this.now());
    this.clearMembers(record);
    for (const userId of members) this.addMember(record, userId);
    return record;
  }

  /**
   * Member operations run against the live member set only after every check has passed, so a PATCH
   * either applies fully or not at all without copying large member sets.
   */
  patchGroup(id: string, ops: readonly PatchOperation[]): StoredGroup {
    const record = this.groups.get(id);
    const doc = structuredClone(record.doc);
    const memberOps: { op: PatchOperation['op'] | 'clear'; ids: string[] }[] = [];
    for (const op of ops) {
      if (!op.path.urn && op.path.attr.toLowerCase() === 'members') memberOps.push(this.memberOp(op));
      else applyOperation(doc, op);
    }
    for (const key of Object.keys(doc)) if (DROPPED.has(key.toLowerCase())) delete doc[key];
    validateGroup(doc);
    this.groups.assertUnique('displayName', doc.displayName, id);
    this.groups.update(record, doc, this.now());
    for (const { op, ids } of memberOps) {
      if (op === 'clear' || op === 'replace') this.clearMembers(record);
      if (op === 'remove') for (const userId of ids) this.removeMember(record, userId);
      else for (const userId of ids) this.addMember(record, userId);
    }
    return record;
  }

  deleteGroup(id: string): void {
    const record = this.groups.get(id);
    this.clearMembers(record);
    this.groups.remove(record);
  }

  private memberOp({ op, path, value }: PatchOperation): {
    op: PatchOperation['op'] | 'clear';
    ids: string[];
  } {
    if (path.sub) throw badRequest(`Unsupported members path: members.${path.sub}`, 'invalidPath');
    if (path.filter) {
      // Entra's newer dialect removes one member with `members[value eq "id"]` and no value.
      const [c, ...rest] = path.filter;
      if (
        op !== 'remove' ||
        rest.length ||
        !c ||
        c.attr.toLowerCase() !== 'value' ||
        typeof c.value !== 'string'
      ) {
        throw badRequest(
          'Only remove with members[value eq "<id>"] is supported as a members filter',
          'invalidPath',
        );
      }
      return { op, ids: [c.value] };
    }
    if (op === 'remove' && value === undefined) return { op: 'clear', ids: [] };
    const ids = memberValues(value);
    if (op !== 'remove') this.assertUsers(ids);
    return { op, ids };
  }

  private memberIds(doc: Doc): string[] {
    const key = findKey(doc, 'members');
    if (key === undefined) return [];
    const ids = memberValues(doc[key]);
    delete doc[key];
    this.assertUsers(ids);
    return ids;
  }

  private assertUsers(ids: readonly string[]): void {
    for (const id of ids) {
      if (!this.users.records.has(id)) throw badRequest(`Member ${id} is not a known user`, 'invalidValue');
    }
  }

  private addMember(group: StoredGroup, userId: string): void {
    group.members.add(userId);
    let groups = this.memberOf.get(userId);
    if (!groups) {
      groups = new Set();
      this.memberOf.set(userId, groups);
    }
    groups.add(group.id);
  }

  private removeMember(group: StoredGroup, userId: string): void {
    group.members.delete(userId);
    const groups = this.memberOf.get(userId);
    groups?.delete(group.id);
    if (groups?.size === 0) this.memberOf.delete(userId);
  }

  private clearMembers(group: StoredGroup): void {
    for (const userId of [...group.members]) this.removeMember(group, userId);
  }

  userJson(record: StoredResource, base: string, excluded?: ReadonlySet<string>): Doc {
    const schemas = [USER_SCHEMA];
    for (const key of Object.keys(record.doc)) if (key.startsWith('urn:')) schemas.push(key);
    return resourceJson('User', schemas, record, base, excluded);
  }

  groupJson(record: StoredGroup, base: string, excluded?: ReadonlySet<string>): Doc {
    const json = resourceJson('Group', [GROUP_SCHEMA], record, base, excluded);
    if (!excluded?.has('members')) {
      json.members = [...record.members].map((value) => {
        const display = this.users.records.get(value)?.doc.displayName;
        return typeof display === 'string' ? { value, display } : { value };
      });
    }
    return json;
  }
}

function resourceJson(
  type: ResourceType,
  schemas: string[],
  record: StoredResource,
  base: string,
  excluded: ReadonlySet<string> | undefined,
): Doc {
  const json: Doc = { schemas, id: record.id };
  for (const key of Object.keys(record.doc)) {
    if (!excluded?.has(key.toLowerCase())) json[key] = record.doc[key];
  }
  if (!excluded?.has('meta')) {
    json.meta = {
      resourceType: type,
      created: record.created,
      lastModified: record.lastModified,
      location: `${base}/${type}s/${record.id}`,
      version: `W/"${record.version}"`,
    };
  }
  return json;
}

/** A POST/PUT body as a stored document: canonical attribute names, booleans coerced, server-owned keys dropped. */
function toDoc(body: unknown, type: ResourceType): Doc {
  if (!isObject(body)) throw badRequest(`${type} body must be a JSON object`, 'invalidSyntax');
  const doc: Doc = {};
  for (const [key, value] of Object.entries(body)) {
    if (DROPPED.has(key.toLowerCase())) continue;
    const name = key.startsWith('urn:') ? key : canonicalName(key);
    doc[name] = coerceBooleans(name, value);
  }
  return doc;
}

function requireString(doc: Doc, type: ResourceType, attr: string): void {
  const value = doc[attr];
  if (typeof value !== 'string' || value.trim() === '') {
    throw badRequest(
      `${type} attribute "${attr}" is required and must be a non-empty string`,
      'invalidValue',
    );
  }
}

// Tanium SSO requires userName, active, displayName and externalId on every user.
function validateUser(doc: Doc): void {
  requireString(doc, 'User', 'userName');
  if (typeof doc.active !== 'boolean') {
    throw badRequest('User attribute "active" is required and must be a boolean', 'invalidValue');
  }
  requireString(doc, 'User', 'displayName');
  requireString(doc, 'User', 'externalId');
}

function validateGroup(doc: Doc): void {
  requireString(doc, 'Group', 'displayName');
  requireString(doc, 'Group', 'externalId');
}

function memberValues(value: unknown): string[] {
  return toArray(value).map((item) => {
    const id = isObject(item) ? getAttr(item, 'value') : undefined;
    if (typeof id !== 'string' || id === '') {
      throw badRequest('Each member must be an object with a string "value" (a user id)', 'invalidValue');
    }
    return id;
  });
}
