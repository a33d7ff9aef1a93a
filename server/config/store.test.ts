import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { describeStore, redactUrl, storeFromSetting, unavailableStore } from './store.js';

const upstream = 'https://tenant.example.com/scim/v2';

describe('SCIMTAP_DB names a SQLite file or a PostgreSQL URL', () => {
  it.each([
    // the default and plain paths stay SQLite files
    ['./data/scimtap.db', 'sqlite'],
    [':memory:', 'sqlite'],
    // a path that merely contains the word is still a file
    ['./postgres/scimtap.db', 'sqlite'],
    // both schemes libpq accepts, in any case
    ['postgres://scimtap:s3cret@db.example.com:5432/scimtap', 'postgres'],
    ['postgresql://scimtap@db.example.com/scimtap?sslmode=require', 'postgres'],
    ['POSTGRES://db.example.com/scimtap', 'postgres'],
  ])('%s is %s', (value, kind) => {
    expect(storeFromSetting(value).kind).toBe(kind);
  });

  it('keeps config.db the SQLite path, and adds the typed store', () => {
    const c = loadConfig({ SCIMTAP_UPSTREAM: upstream, SCIMTAP_DB: './x/scimtap.db' });
    expect(c.db).toBe('./x/scimtap.db');
    expect(c.store).toEqual({ kind: 'sqlite', path: './x/scimtap.db' });
    expect(unavailableStore(c.store ?? { kind: 'sqlite', path: c.db })).toBeNull();
  });

  it('takes a postgres:// URL for PostgreSQL, and config.db never holds its password', () => {
    const url = 'postgres://scimtap:hunter2hunter2@db.example.com:5432/scimtap';
    const c = loadConfig({ SCIMTAP_UPSTREAM: upstream, SCIMTAP_DB: url });
    expect(c.store).toEqual({ kind: 'postgres', url });
    expect(c.db).toBe('postgres://scimtap:***@db.example.com:5432/scimtap');
    // One app on PostgreSQL runs; an `apps` list on it is refused, with the password masked.
    const store = c.store ?? { kind: 'sqlite', path: c.db };
    expect(unavailableStore(store, c)).toBeNull();
    const message = unavailableStore(store, { apps: [{ id: 'crm' }] }) ?? '';
    expect(message).toMatch(/^SCIMTAP_DB \(postgres:\/\/scimtap:\*\*\*@db\.example\.com:5432\/scimtap\): /);
    expect(message).toMatch(/PostgreSQL store runs one app in this version/);
    expect(message).not.toContain('hunter2');
  });

  it('reports a malformed PostgreSQL URL without quoting it', () => {
    let problems: string[] = [];
    try {
      loadConfig({ SCIMTAP_UPSTREAM: upstream, SCIMTAP_DB: 'postgres://scimtap:hunter2@:5432:x/db' });
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems;
    }
    expect(problems.join()).toMatch(/SCIMTAP_DB .*not a valid URL/);
    expect(problems.join()).not.toContain('hunter2');
  });
});

describe('redactUrl', () => {
  it.each([
    // the password in the userinfo
    ['postgres://u:pw1secret@h/db', 'postgres://u:***@h/db'],
    // libpq also takes it as a parameter
    [
      'postgresql://u@h/db?sslmode=require&password=pw1secret',
      'postgresql://u@h/db?sslmode=require&password=***',
    ],
    // unparseable: still masked, not echoed whole
    ['postgres://u:pw1secret@:1:2/db', 'postgres://u:***@:1:2/db'],
    // nothing secret: unchanged
    ['https://tenant.example.com/scim/v2', 'https://tenant.example.com/scim/v2'],
  ])('%s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
    expect(describeStore(storeFromSetting(url))).not.toContain('pw1secret');
  });
});
