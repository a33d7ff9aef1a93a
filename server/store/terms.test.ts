import { describe, expect, it } from 'vitest';
import { entra, recorder } from '../../test/helpers/traffic.js';
import { classify } from '../scim/classify.js';
import { openDatabase } from './db.js';
import { createIngest } from './ingest.js';
import { backfillTerms, createTermsStage } from './terms.js';

const terms = (db: ReturnType<typeof openDatabase>) =>
  db.$client.prepare('select field, value from operation_terms order by field, value').all();

describe('operation_terms', () => {
  it('holds each distinct identity, target id and reason once, as the recorder writes them', () => {
    const db = openDatabase(':memory:');
    const write = recorder(db);
    const t = Date.UTC(2025, 0, 15);
    write([entra.lookupUser(t, 'ada@example.com'), entra.createUser(t + 1, 'ada@example.com', 'u-1')]);
    write([entra.createConflict(t + 2, 'bob@example.com'), entra.createConflict(t + 3, 'bob@example.com')]);
    expect(terms(db)).toEqual([
      { field: 'identity', value: 'ada@example.com' },
      { field: 'identity', value: 'bob@example.com' },
      { field: 'reason', value: 'userName bob@example.com is already in use' },
      { field: 'targetId', value: 'u-1' },
    ]);
    db.$client.close();
  });

  it('is rolled back with a batch that fails after it', () => {
    const db = openDatabase(':memory:');
    const failing = {
      afterInsert() {
        throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
      },
    };
    const write = createIngest({
      db,
      classify: (e) => classify(e, { capture: 'redacted', redact: [] }),
      stages: [createTermsStage(db), failing],
    });
    expect(() => write([entra.lookupUser(0, 'ada@example.com')])).toThrow('disk full');
    expect(terms(db)).toEqual([]);
    db.$client.close();
  });

  it('can be backfilled from operations written around the recorder', () => {
    const db = openDatabase(':memory:');
    db.$client.exec(`insert into operations (time, duration_ms, http_method, path, resource_type, operation,
      provisioning_action, status, identity, target_id, reason)
      values (1, 1, 'DELETE', '/scim/v2/Users/u-9', 'User', 'delete', 'delete', 'failure', null, 'u-9', 'gone')`);
    expect(terms(db)).toEqual([]);
    backfillTerms(db);
    expect(terms(db)).toEqual([
      { field: 'reason', value: 'gone' },
      { field: 'targetId', value: 'u-9' },
    ]);
    db.$client.close();
  });
});
