import { describe, expect, it } from 'vitest';
import type { AppConfig } from './config/apps.js';
import { loadConfig } from './config.js';
import { diffApps, restartOnlyChanges } from './reload.js';

const app = (id: string, over: Partial<AppConfig> = {}): AppConfig => ({
  id,
  name: `App ${id}`,
  upstream: `https://${id}.example.com/scim`,
  prefix: `/${id}`,
  notifyTo: [],
  cycleIntervalMin: 40,
  rules: {} as AppConfig['rules'],
  ...over,
});

describe('diffApps', () => {
  it('sorts the apps by id into added, removed, replaced (any field changed) and unchanged', () => {
    const diff = diffApps(
      [app('a'), app('b'), app('c'), app('d')],
      [
        app('a'),
        app('c', { upstream: 'https://new.example.com' }),
        app('d', { notifyTo: ['x@example.com'] }),
        app('e'),
      ],
    );
    expect(diff.added.map((a) => a.id)).toEqual(['e']);
    expect(diff.removed).toEqual(['b']);
    expect(diff.replaced.map((a) => a.id)).toEqual(['c', 'd']);
    expect(diff.unchanged).toEqual(['a']);
  });

  it('restarts an app whose db was named, changed or dropped: each is another file', () => {
    const diff = diffApps(
      [
        app('a'),
        app('b', { db: './data/b.db' }),
        app('c', { db: './data/c.db' }),
        app('d', { db: './data/d.db' }),
      ],
      [
        app('a', { db: './data/scimtap.db' }),
        app('b', { db: './data/b2.db' }),
        app('c'),
        app('d', { db: './data/d.db' }),
      ],
    );
    expect(diff.replaced.map((a) => a.id)).toEqual(['a', 'b', 'c']);
    expect(diff.unchanged).toEqual(['d']);
  });
});

describe('restartOnlyChanges', () => {
  const load = (env: Record<string, string>) =>
    loadConfig({ SCIMTAP_UPSTREAM: 'https://app.example.com/scim', ...env }, [], undefined, {
      command: 'serve',
    });

  it('names the settings outside the apps that changed, not those the apps are resolved from', () => {
    const before = load({ SCIMTAP_LISTEN: '127.0.0.1:8080' });
    expect(restartOnlyChanges(before, load({ SCIMTAP_LISTEN: '127.0.0.1:8080' }))).toEqual([]);
    const after = load({
      SCIMTAP_LISTEN: '127.0.0.1:9090',
      SCIMTAP_ADMIN_TOKEN: 'a'.repeat(32),
      SCIMTAP_UPSTREAM: 'https://other.example.com/scim',
      SCIMTAP_NOTIFY_TO: 'oncall@example.com',
    });
    expect(restartOnlyChanges(before, after)).toEqual(['adminToken', 'listen']);
  });
});
