import { describe, expect, it } from 'vitest';
import type { Health } from './api.js';
import { derivationLag, recorderTooltip, storagePruned } from './tooltip.js';

const MB = 1024 * 1024;
const base: Health = {
  status: 'ok',
  version: '0.1.0',
  appName: 'Tanium SSO',
  db: 'ok',
  upstream: 'reachable',
  email: null,
  mode: 'proxy',
  derivation: null,
  recorder: {
    queued: 0,
    written: 10,
    dropped: 0,
    writeErrors: 0,
    failing: false,
    lastError: null,
    lastErrorAt: null,
    lastDropAt: null,
    droppedTotal: 0,
  },
  storage: {
    budgetBytes: 16 * MB,
    fileBytes: 12 * MB,
    freeBytes: MB,
    walBytes: MB,
    totalBytes: 13 * MB,
    bodiesPruned: 0,
    operationsPruned: 0,
    identitiesPruned: 0,
    termsPruned: 0,
    walTruncations: 0,
    lastPruneAt: null,
    fileProblem: null,
  },
};

describe('recorderTooltip', () => {
  it('shows the budget and its use', () => {
    expect(recorderTooltip(base)).toBe('Storage: 13.0 MB of 16.0 MB (SCIMTAP_MAX_DB_MB), WAL 1.0 MB');
    expect(storagePruned(base)).toBe(0);
  });

  it('says what pruning and drops cost, this run and in all', () => {
    const h: Health = {
      ...base,
      recorder: { ...base.recorder, dropped: 3, droppedTotal: 573 },
      storage: { ...base.storage!, bodiesPruned: 40, operationsPruned: 12, identitiesPruned: 5 },
    };
    expect(storagePruned(h)).toBe(52);
    expect(recorderTooltip(h)).toMatch(/40 bodies, 12 operations, 5 identities/);
    expect(recorderTooltip(h)).toMatch(/Dropped: 3 since start, 573 in all/);
  });

  it('puts a deleted database file first, with what to do', () => {
    const h: Health = { ...base, status: 'degraded', db: 'missing' };
    expect(recorderTooltip(h).split('\n')[0]).toMatch(/was deleted .* Restart scimtap/);
  });

  it('copes with a server that reports no storage', () => {
    expect(recorderTooltip({ ...base, storage: null })).toBe('');
  });
});

describe('derivationLag', () => {
  const lagging = (operations: number, seconds: number): Health => ({
    ...base,
    derivation: { operations, seconds, cursor: 100 },
  });
  it('says nothing while derivation keeps up, or when the health answer has no lag', () => {
    expect(derivationLag(base)).toBeNull();
    expect(derivationLag(lagging(0, 0))).toBeNull();
    // a busy second is normal: shown from 5 s on
    expect(derivationLag(lagging(300, 4.9))).toBeNull();
  });
  it('shows how far behind, and what it means for the pages', () => {
    const lag = derivationLag(lagging(1200, 12.4));
    expect(lag?.text).toBe('derivation 12 s behind');
    expect(lag?.title).toMatch(/^1200 recorded operations are not yet in cycles/);
    expect(lag?.title).toMatch(/as of 12 s ago/);
  });
});
