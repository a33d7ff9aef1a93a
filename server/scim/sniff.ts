// Finds the secret values of a request body as it streams past, for bodies longer than the capture limit: the
// recorded prefix may end before the password, yet the app may echo it. One pass over the bytes, constant work
// per byte, bounded memory (a small stack, a few short buffers, a capped list of values).
import type { Redactor } from './redact.js';
import { formSecrets } from './secrets.js';

export interface SecretSniffer {
  push(chunk: Buffer): void;
  /** the secret values seen so far (strings decoded, bare values as written) */
  values(): string[];
}

/** A longer value is remembered by its beginning (the scrubber matches at most that much too). */
const MAX_VALUE = 1_024;
const MAX_KEY = 256;
const MAX_VALUES = 64;
const MAX_DEPTH = 64;
const MAX_PROVISIONAL = 16;

interface Frame {
  obj: boolean;
  /** expecting (in an object): 0 key, 1 colon, 2 value, 3 comma */
  expect: 0 | 1 | 2 | 3;
  key: string;
  /** inside the value of a redacted key */
  secret: boolean;
  /** the PATCH operation object whose `value` this container is part of */
  owner: Frame | null;
  pathRedacted: boolean;
  /** values under `value`, secret if `path` turns out to name a redacted attribute */
  provisional: string[];
}

const frame = (obj: boolean, secret: boolean, owner: Frame | null): Frame => ({
  obj,
  expect: 0,
  key: '',
  secret,
  owner,
  pathRedacted: false,
  provisional: [],
});

/** `form`: the body is `application/x-www-form-urlencoded`; otherwise it is read as (possibly broken) JSON. */
export function createSecretSniffer(isRedacted: Redactor, form: boolean): SecretSniffer {
  return form ? formSniffer(isRedacted) : new JsonSniffer(isRedacted);
}

/** Whitespace and JSON punctuation: what ends a bare value (a number, `true`, or anything unquoted). */
function isDelimiter(c: number): boolean {
  return (
    c === 0x20 ||
    c === 0x0a ||
    c === 0x0d ||
    c === 0x09 ||
    c === 0x2c ||
    c === 0x3a ||
    c === 0x7b ||
    c === 0x7d ||
    c === 0x5b ||
    c === 0x5d ||
    c === 0x22
  );
}

/** The JSON reader: a byte-at-a-time tokenizer (`push`, `structure`) feeding a stack of open containers. */
class JsonSniffer implements SecretSniffer {
  private readonly isRedacted: Redactor;
  private readonly found = new Set<string>();
  private readonly stack: Frame[] = [frame(false, false, null)];
  private deeper = 0; // containers past MAX_DEPTH, counted only
  private readonly buf = Buffer.alloc(MAX_VALUE);
  private len = 0;
  private inString = false;
  private escaped = false;
  private inBare = false;

  constructor(isRedacted: Redactor) {
    this.isRedacted = isRedacted;
  }

  push(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) {
          this.inString = false;
          this.endString();
          continue;
        }
        if (this.len < MAX_VALUE) this.buf[this.len++] = c;
        continue;
      }
      const delimiter = isDelimiter(c);
      if (this.inBare) {
        if (!delimiter) {
          if (this.len < MAX_VALUE) this.buf[this.len++] = c;
          continue;
        }
        this.endBare();
      }
      this.structure(c, delimiter);
    }
  }

  values(): string[] {
    // a value still being read when the body ended is cut, but it is what the app got
    const out = new Set(this.found);
    if ((this.inString || this.inBare) && this.len > 0) {
      const f = this.top();
      if (f.secret || this.keyIsRedacted(f)) out.add(this.text(this.inString));
    }
    return [...out];
  }

  /** a byte outside strings and bare values: punctuation, whitespace, or the start of either */
  private structure(c: number, delimiter: boolean): void {
    switch (c) {
      case 0x22:
        this.inString = true;
        this.len = 0;
        break;
      case 0x3a: {
        const f = this.top();
        if (f.obj && f.expect === 1) f.expect = 2;
        break;
      }
      case 0x2c: {
        const f = this.top();
        if (f.obj) {
          f.expect = 0;
          f.key = '';
        }
        break;
      }
      case 0x7b:
        this.open(true);
        break;
      case 0x5b:
        this.open(false);
        break;
      case 0x7d:
      case 0x5d:
        this.close();
        break;
      default:
        if (!delimiter) {
          this.inBare = true;
          this.len = 0;
          this.buf[this.len++] = c;
        }
    }
  }

  private endString(): void {
    const f = this.top();
    const isKey = f.obj && f.expect === 0;
    const v = isKey && this.len > MAX_KEY ? '' : this.text(true);
    this.len = 0;
    this.scalar(v, true);
  }

  private endBare(): void {
    this.inBare = false;
    const v = this.text(false);
    this.len = 0;
    if (v !== 'true' && v !== 'false' && v !== 'null') this.scalar(v, false);
  }

  private emit(v: string): void {
    if (v.length > 0 && this.found.size < MAX_VALUES) this.found.add(v);
  }

  private text(quoted: boolean): string {
    const raw = this.buf.toString('utf8', 0, this.len);
    if (!quoted) return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return raw;
    }
  }

  private top(): Frame {
    return this.stack[this.stack.length - 1];
  }

  private keyIsRedacted(f: Frame): boolean {
    return f.obj && f.key !== '' && this.isRedacted(f.key);
  }

  private scalar(v: string, quoted: boolean): void {
    const f = this.top();
    if (this.deeper > 0) return;
    if (f.obj && f.expect !== 2) {
      if (quoted && f.expect === 0) {
        f.key = v;
        f.expect = 1;
      }
      return;
    }
    if (f.secret || this.keyIsRedacted(f)) this.emit(v);
    else if (f.obj && f.key.toLowerCase() === 'value') {
      if (f.pathRedacted) this.emit(v);
      else if (f.provisional.length < MAX_PROVISIONAL) f.provisional.push(v);
    } else if (f.owner) {
      if (f.owner.pathRedacted) this.emit(v);
      else if (f.owner.provisional.length < MAX_PROVISIONAL) f.owner.provisional.push(v);
    }
    if (f.obj && quoted && f.key.toLowerCase() === 'path' && this.isRedacted(v)) {
      f.pathRedacted = true;
      for (const p of f.provisional) this.emit(p);
    }
    if (f.obj) f.expect = 3;
  }

  private open(obj: boolean): void {
    const f = this.top();
    if (this.deeper > 0 || this.stack.length >= MAX_DEPTH) {
      this.deeper++;
      return;
    }
    const inValue = f.obj && f.expect === 2;
    const secret = f.secret || (inValue && this.keyIsRedacted(f));
    const owner = inValue && f.key.toLowerCase() === 'value' ? f : f.owner;
    if (f.obj) f.expect = 3;
    this.stack.push(frame(obj, secret, owner));
  }

  private close(): void {
    if (this.deeper > 0) {
      this.deeper--;
      return;
    }
    if (this.stack.length > 1) this.stack.pop();
  }
}

function formSniffer(isRedacted: Redactor): SecretSniffer {
  const found = new Set<string>();
  const name = Buffer.alloc(MAX_KEY);
  const value = Buffer.alloc(MAX_VALUE);
  let nameLen = 0;
  let valueLen = 0;
  let inValue = false;
  const pair = () => {
    if (inValue && found.size < MAX_VALUES) {
      const text = `${name.toString('latin1', 0, nameLen)}=${value.toString('latin1', 0, valueLen)}`;
      for (const v of formSecrets(Buffer.from(text, 'latin1').toString('utf8'), isRedacted)) found.add(v);
    }
    nameLen = 0;
    valueLen = 0;
    inValue = false;
  };
  return {
    push(chunk) {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i];
        if (c === 0x26) pair();
        else if (!inValue && c === 0x3d) inValue = true;
        else if (inValue) {
          if (valueLen < MAX_VALUE) value[valueLen++] = c;
        } else if (nameLen < MAX_KEY) name[nameLen++] = c;
      }
    },
    values() {
      const keep = { nameLen, valueLen, inValue };
      pair();
      ({ nameLen, valueLen, inValue } = keep);
      return [...found];
    },
  };
}
