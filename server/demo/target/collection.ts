import { canonicalName, type Doc } from './attributes.js';
import { ScimError } from './errors.js';
import { type Comparison, matchesAll } from './filter.js';

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

/** One resource type's records plus exact-match indexes for the attributes Entra filters on. */
export class Collection<R extends StoredResource> {
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
