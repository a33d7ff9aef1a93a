import { randomUUID } from 'node:crypto';
import { type Doc, findKey, GROUP_SCHEMA, USER_SCHEMA } from './attributes.js';
import { Collection, type StoredGroup, type StoredResource } from './collection.js';
import { DROPPED, memberValues, resourceJson, toDoc, validateGroup, validateUser } from './documents.js';
import { badRequest } from './errors.js';
import { applyOperation, type PatchOperation } from './patch.js';

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
