// Reading what a request asks: its JSON body (bounded) and its query parameters, matched case-insensitively.
import type { IncomingMessage } from 'node:http';
import { badRequest, ScimError } from './errors.js';

const BODY_LIMIT_BYTES = 8 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > BODY_LIMIT_BYTES)
        reject(new ScimError(413, `Request body exceeds ${BODY_LIMIT_BYTES} bytes`));
      else
        resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('Request body is not valid JSON', 'invalidSyntax');
  }
}

export function queryParam(params: URLSearchParams, name: string): string | null {
  const exact = params.get(name);
  if (exact !== null) return exact;
  const lower = name.toLowerCase();
  for (const [key, value] of params) if (key.toLowerCase() === lower) return value;
  return null;
}

export function intParam(params: URLSearchParams, name: string, fallback: number): number {
  const text = queryParam(params, name);
  if (text === null || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value))
    throw badRequest(`${name} must be an integer, got ${JSON.stringify(text)}`, 'invalidValue');
  return value;
}

const EXCLUDE_MEMBERS: ReadonlySet<string> = new Set(['members']);

export function excludedAttributes(params: URLSearchParams): ReadonlySet<string> | undefined {
  const text = queryParam(params, 'excludedAttributes');
  if (!text) return undefined;
  if (text === 'members') return EXCLUDE_MEMBERS;
  const names = new Set<string>();
  // `urn:...:Group:members` names the core attribute `members`; id and schemas are always returned.
  for (const part of text.split(','))
    names.add(
      part
        .trim()
        .slice(part.trim().lastIndexOf(':') + 1)
        .toLowerCase(),
    );
  names.delete('id');
  names.delete('schemas');
  return names;
}
