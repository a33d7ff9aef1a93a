import { isObject } from './json.js';
import { REDACTED, type Redactor, redactJson } from './redact.js';
import { MAX_ATTRIBUTE_PATH_CHARS } from './request-line.js';
import type { ModifiedProperty } from './types.js';

// Modified properties: attribute names and rendered new values, secrets hidden.

export class PropertyList {
  readonly items: ModifiedProperty[] = [];
  /** a name over MAX_ATTRIBUTE_PATH_CHARS was seen: its value is hidden, not rendered */
  overlong = false;
  constructor(
    private readonly isRedacted: Redactor,
    private readonly showSecrets: boolean,
  ) {}

  /** Complex values are flattened one level (`name.givenName`; `urn:...:User:employeeNumber`). */
  addFlattened(name: string, value: unknown): void {
    if (
      isObject(value) &&
      name.length <= MAX_ATTRIBUTE_PATH_CHARS &&
      Object.keys(value).length > 0 &&
      !this.hidden(name)
    ) {
      const sep = name.toLowerCase().startsWith('urn:') ? ':' : '.';
      for (const [k, v] of Object.entries(value)) this.add(`${name}${sep}${k}`, v);
    } else {
      this.add(name, value);
    }
  }

  add(name: string, value: unknown): void {
    if (name.length > MAX_ATTRIBUTE_PATH_CHARS) {
      this.overlong = true;
      this.items.push({ name, value: REDACTED, redacted: true });
    } else if (this.hidden(name)) this.items.push({ name, value: REDACTED, redacted: true });
    else this.items.push({ name, value: this.render(value) });
  }

  private hidden(name: string): boolean {
    return !this.showSecrets && this.isRedacted(name);
  }

  private render(v: unknown): string {
    if (v === null || v === undefined) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    try {
      return JSON.stringify(this.showSecrets ? v : redactJson(v, this.isRedacted).value) ?? '';
    } catch {
      return '[unrenderable]';
    }
  }
}
