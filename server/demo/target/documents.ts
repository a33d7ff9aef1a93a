// How a request body becomes a stored document, and a stored document the JSON the target answers with.
import { canonicalName, coerceBooleans, type Doc, getAttr, isObject } from './attributes.js';
import type { ResourceType, StoredResource } from './collection.js';
import { badRequest } from './errors.js';
import { toArray } from './patch.js';

// Never stored or echoed (`password` is returned: never in RFC 7643); the rest live outside `doc`.
export const DROPPED = new Set(['id', 'meta', 'schemas', 'password']);

/** A stored resource as the JSON the target answers with, less the `excluded` attributes. */
export function resourceJson(
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
export function toDoc(body: unknown, type: ResourceType): Doc {
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
export function validateUser(doc: Doc): void {
  requireString(doc, 'User', 'userName');
  if (typeof doc.active !== 'boolean') {
    throw badRequest('User attribute "active" is required and must be a boolean', 'invalidValue');
  }
  requireString(doc, 'User', 'displayName');
  requireString(doc, 'User', 'externalId');
}

export function validateGroup(doc: Doc): void {
  requireString(doc, 'Group', 'displayName');
  requireString(doc, 'Group', 'externalId');
}

export function memberValues(value: unknown): string[] {
  return toArray(value).map((item) => {
    const id = isObject(item) ? getAttr(item, 'value') : undefined;
    if (typeof id !== 'string' || id === '') {
      throw badRequest('Each member must be an object with a string "value" (a user id)', 'invalidValue');
    }
    return id;
  });
}
