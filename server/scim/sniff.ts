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
  return form ? formSniffer(isRedacted) : jsonSniffer(isRedacted);
}

function jsonSniffer(isRedacted: Redactor): SecretSniffer {
  const found = new Set<string>();
  const stack: Frame[] = [frame(false, false, null)];
  let deeper = 0; // containers past MAX_DEPTH, counted only
  const buf = Buffer.alloc(MAX_VALUE);
  let len = 0;
  let inString = false;
  let escaped = false;
  let inBare = false;

  const emit = (v: string) => {
    if (v.length > 0 && found.size < MAX_VALUES) found.add(v);
  };
  const text = (quoted: boolean): string => {
    const raw = buf.toString('utf8', 0, len);
    if (!quoted) return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return raw;
    }
  };
  const top = () => stack[stack.length - 1];
  const keyIsRedacted = (f: Frame) => f.obj && f.key !== '' && isRedacted(f.key);
  const scalar = (v: string, quoted: boolean) => {
    const f = top();
    if (deeper > 0) return;
    if (f.obj && f.expect !== 2) {
      if (quoted && f.expect === 0) {
        f.key = v;
        f.expect = 1;
      }
      return;
    }
    if (f.secret || keyIsRedacted(f)) emit(v);
    else if (f.obj && f.key.toLowerCase() === 'value') {
      if (f.pathRedacted) emit(v);
      else if (f.provisional.length < MAX_PROVISIONAL) f.provisional.push(v);
    } else if (f.owner) {
      if (f.owner.pathRedacted) emit(v);
      else if (f.owner.provisional.length < MAX_PROVISIONAL) f.owner.provisional.push(v);
    }
    if (f.obj && quoted && f.key.toLowerCase() === 'path' && isRedacted(v)) {
      f.pathRedacted = true;
      for (const p of f.provisional) emit(p);
    }
    if (f.obj) f.expect = 3;
  };
  const open = (obj: boolean) => {
    const f = top();
    if (deeper > 0 || stack.length >= MAX_DEPTH) {
      deeper++;
      return;
    }
    const inValue = f.obj && f.expect === 2;
    const secret = f.secret || (inValue && keyIsRedacted(f));
    const owner = inValue && f.key.toLowerCase() === 'value' ? f : f.owner;
    if (f.obj) f.expect = 3;
    stack.push(frame(obj, secret, owner));
  };
  const close = () => {
    if (deeper > 0) {
      deeper--;
      return;
    }
    if (stack.length > 1) stack.pop();
  };
  const endBare = () => {
    inBare = false;
    const v = text(false);
    len = 0;
    if (v !== 'true' && v !== 'false' && v !== 'null') scalar(v, false);
  };

  return {
    push(chunk) {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i];
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c === 0x22) {
            inString = false;
            const f = top();
            const isKey = f.obj && f.expect === 0;
            const v = isKey && len > MAX_KEY ? '' : text(true);
            len = 0;
            scalar(v, true);
            continue;
          }
          if (len < MAX_VALUE) buf[len++] = c;
          continue;
        }
        const delimiter =
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
          c === 0x22;
        if (inBare) {
          if (!delimiter) {
            if (len < MAX_VALUE) buf[len++] = c;
            continue;
          }
          endBare();
        }
        switch (c) {
          case 0x22:
            inString = true;
            len = 0;
            break;
          case 0x3a: {
            const f = top();
            if (f.obj && f.expect === 1) f.expect = 2;
            break;
          }
          case 0x2c: {
            const f = top();
            if (f.obj) {
              f.expect = 0;
              f.key = '';
            }
            break;
          }
          case 0x7b:
            open(true);
            break;
          case 0x5b:
            open(false);
            break;
          case 0x7d:
          case 0x5d:
            close();
            break;
          default:
            if (!delimiter) {
              inBare = true;
              len = 0;
              buf[len++] = c;
            }
        }
      }
    },
    values() {
      // a value still being read when the body ended is cut, but it is what the app got
      const out = new Set(found);
      if ((inString || inBare) && len > 0) {
        const f = top();
        if (f.secret || keyIsRedacted(f)) out.add(text(inString));
      }
      return [...out];
    },
  };
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
