import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exchange } from '../../test/fixtures/entra.js';
import { loadConfig } from '../config.js';
import { createCycleStage } from '../cycles/index.js';
import { syntheticOperation } from '../cycles/synthetic.js';
import { classify } from '../scim/classify.js';
import { type Db, openDatabase } from './db.js';
import { createIngest } from './ingest.js';
import { capOperation, fieldLimits, truncateField } from './limits.js';
import { createTermsStage } from './terms.js';

describe('truncateField', () => {
  it.each([
    // at or under the cap: the same string
    ['abc', 3, false, 'abc'],
    // over: cut, and the marker says how much went
    ['abcdef', 3, false, 'abc…[+3 chars]'],
    // a surrogate pair is never split (the emoji goes whole into the count)
    ['ab😀cd', 3, false, 'ab…[+4 chars]'],
    // identity keys carry a digest of the whole value
    ['abcdef', 3, true, /^abc…\[\+3 chars #[0-9a-f]{8}\]$/],
  ] as const)('%s cut at %i (key %s)', (value, max, key, expected) => {
    const out = truncateField(value, max, { key });
    if (typeof expected === 'string') expect(out).toBe(expected);
    else expect(out).toMatch(expected);
  });

  it('gives one key per long value: same value, same key; same prefix, different keys', () => {
    const a = `${'x'.repeat(300)}a`;
    const b = `${'x'.repeat(300)}b`;
    expect(truncateField(a, 256, { key: true })).toBe(truncateField(a, 256, { key: true }));
    expect(truncateField(a, 256, { key: true })).not.toBe(truncateField(b, 256, { key: true }));
  });
});

describe('capOperation', () => {
  it('returns the operation itself when nothing is long (the hot path allocates nothing)', () => {
    const op = syntheticOperation({ time: 0, operation: 'lookup', identity: 'alice@contoso.com' });
    expect(capOperation(op)).toBe(op);
  });

  it('caps every client-controlled text field', () => {
    const long = 'z'.repeat(20_000);
    const op = capOperation(
      syntheticOperation({
        time: 0,
        operation: 'update',
        httpMethod: long,
        path: `/scim/v2/Users/${long}`,
        query: `filter=userName+eq+%22${long}%22`,
        identity: long,
        externalId: long,
        targetId: long,
        scimType: long,
        reason: long,
        userAgent: long,
        modifiedProperties: [{ name: long, value: long }],
        members: [{ op: 'add', ids: [long, 'short'] }],
      }),
    );
    const marker = 40; // `…[+NNNNN chars #xxxxxxxx]`
    expect(op.httpMethod.length).toBeLessThanOrEqual(fieldLimits.httpMethod + marker);
    expect(op.path.length).toBeLessThanOrEqual(fieldLimits.path + marker);
    expect(op.query.length).toBeLessThanOrEqual(fieldLimits.query + marker);
    for (const v of [op.identity, op.externalId, op.targetId]) {
      expect(v!.length).toBeLessThanOrEqual(fieldLimits.identity + marker);
      expect(v).toMatch(/…\[\+\d+ chars #[0-9a-f]{8}\]$/);
    }
    expect(op.scimType!.length).toBeLessThanOrEqual(fieldLimits.scimType + marker);
    expect(op.reason!.length).toBeLessThanOrEqual(fieldLimits.reason + marker);
    expect(op.userAgent!.length).toBeLessThanOrEqual(fieldLimits.userAgent + marker);
    expect(op.modifiedProperties[0].name.length).toBeLessThanOrEqual(fieldLimits.propertyName + marker);
    expect(op.modifiedProperties[0].value.length).toBeLessThanOrEqual(fieldLimits.propertyValue + marker);
    // A member id is capped like the target id it names, so the two still match.
    expect(op.members[0].ids).toEqual([op.targetId, 'short']);
  });
});

describe('stored through the real ingest path', () => {
  let db: Db | undefined;
  afterEach(() => db?.$client.close());

  it('stores capped values, and the identity rollup keys on the same capped value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-limits-'));
    const config = loadConfig({ SCIMTAP_DB: join(dir, 'scimtap.db') });
    db = openDatabase(config.db);
    const write = createIngest({
      db,
      classify: (ex) => classify(ex, { capture: 'redacted', redact: ['password'] }),
      stages: [createCycleStage({ db, config, clock: () => 0 }), createTermsStage(db)],
    });
    // 3,000 characters: over the identity cap, under the filter parser's (a longer filter is not parsed at all)
    const prefix = 'u'.repeat(3_000);
    const lookup = (name: string) =>
      exchange({ query: `filter=userName+eq+%22${name}%22`, resBody: { totalResults: 0, Resources: [] } });
    // The same long name twice, and a second name sharing its first 3,000 characters.
    write([lookup(`${prefix}-1`), lookup(`${prefix}-1`), lookup(`${prefix}-2`)]);

    const ops = db.$client.prepare('select identity, query from operations order by id').all() as {
      identity: string;
      query: string;
    }[];
    expect(ops).toHaveLength(3);
    for (const o of ops) {
      expect(o.identity.length).toBeLessThan(fieldLimits.identity + 40);
      expect(o.query.length).toBeLessThan(fieldLimits.query + 40);
      expect(o.query).toMatch(/…\[\+\d+ chars\]$/);
    }
    expect(ops[0].identity).toBe(ops[1].identity);
    expect(ops[0].identity).not.toBe(ops[2].identity);

    const identities = db.$client
      .prepare("select key, name from identities where type = 'User' order by id")
      .all() as { key: string; name: string }[];
    // Two identities, not three (same name) and not one (the prefix): keyed on the stored, capped name.
    expect(identities.map((i) => i.name)).toEqual([ops[0].identity, ops[2].identity]);
    const terms = db.$client
      .prepare("select value from operation_terms where field = 'identity' order by value")
      .pluck()
      .all();
    expect(terms).toEqual([ops[0].identity, ops[2].identity].sort());
  });
});
