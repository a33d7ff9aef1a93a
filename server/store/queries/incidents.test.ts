import { describe, expect, it } from 'vitest';
import type { Incident } from '../../alerts/types.js';
import { openDatabase } from '../db.js';
import { getIncident, insertIncident, updateIncident } from './incidents.js';

// updateIncident writes through a statement prepared once per database (every evaluation of the rules updates
// the open incidents whose evidence moved): every column is written, on every call, with that call's values.

const evidence = (count: number): Incident['evidence'] => ({
  count,
  firstSeen: count * 10,
  lastSeen: count * 20,
  sampleOperationIds: [count],
  samples: [],
  identities: [],
  identityCount: count,
  details: { threshold: count },
});

const base = (key: string): Incident => ({
  id: null,
  key,
  rule: 'stuckObject',
  scope: 'app',
  severity: 'warning',
  state: 'pending',
  entraReason: null,
  summary: 'first summary',
  reasonKey: 'r1',
  evidence: evidence(1),
  startedAt: 1_000,
  firedAt: null,
  lastTrueAt: 1_000,
  clearedAt: null,
  resolvedAt: null,
  acknowledgedAt: null,
  acknowledgedBy: null,
  ackComment: null,
  inhibitedBy: null,
  inhibitedAt: null,
  updatedAt: 1_000,
});

describe('updateIncident', () => {
  it('writes every column of the incident it is given, and only of that one', () => {
    const db = openDatabase(':memory:');
    const a = base('stuckObject:app');
    a.id = insertIncident(db, a);
    const b = base('escrowProportion:app');
    b.rule = 'escrowProportion';
    b.id = insertIncident(db, b);
    const changed: Incident = {
      ...a,
      severity: 'critical',
      state: 'firing',
      entraReason: 'escrow' as Incident['entraReason'],
      summary: 'second summary',
      reasonKey: 'r2',
      evidence: evidence(7),
      firedAt: 2_000,
      lastTrueAt: 3_000,
      clearedAt: 3_500,
      acknowledgedAt: 4_000,
      acknowledgedBy: 'oncall@example.com',
      ackComment: 'looking',
      inhibitedBy: 'upstreamDown' as Incident['inhibitedBy'],
      inhibitedAt: 4_500,
      updatedAt: 5_000,
    };
    updateIncident(db, changed);
    expect(getIncident(db, a.id)).toEqual(changed);
    expect(getIncident(db, b.id)).toEqual(b);
    // The same statement again, with other values, and back to nulls.
    const resolved: Incident = {
      ...changed,
      state: 'resolved',
      resolvedAt: 6_000,
      clearedAt: null,
      updatedAt: 6_000,
    };
    updateIncident(db, resolved);
    expect(getIncident(db, a.id)).toEqual(resolved);
    db.$client.close();
  });
});
