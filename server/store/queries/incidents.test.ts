import { describe, expect, it } from 'vitest';
import { evidenceFixture, incidentFixture } from '../../../test/fixtures/incidents.js';
import type { Incident } from '../../alerts/types.js';
import type { RuleCode } from '../../detect/types.js';
import { openDatabase } from '../db.js';
import { getIncident, insertIncident, updateIncident } from './incidents.js';

// updateIncident writes through a statement prepared once per database (every evaluation of the rules updates
// the open incidents whose evidence moved): every column is written, on every call, with that call's values.

// The stored incidents as the engine first writes them: pending, not yet fired.
const base = (rule: RuleCode): Incident =>
  incidentFixture(rule, {
    id: null,
    severity: 'warning',
    state: 'pending',
    summary: 'first summary',
    reasonKey: 'r1',
    evidence: evidenceFixture({
      count: 1,
      sampleOperationIds: [1],
      identityCount: 1,
      details: { threshold: 1 },
    }),
    firedAt: null,
  });

describe('updateIncident', () => {
  it('writes every column of the incident it is given, and only of that one', () => {
    const db = openDatabase(':memory:');
    const a = base('stuckObject');
    a.id = insertIncident(db, a);
    const b = base('escrowProportion');
    b.id = insertIncident(db, b);
    const changed: Incident = {
      ...a,
      severity: 'critical',
      state: 'firing',
      entraReason: 'escrow' as Incident['entraReason'],
      summary: 'second summary',
      reasonKey: 'r2',
      evidence: evidenceFixture({ count: 7, firstSeen: 70, lastSeen: 140, details: { threshold: 7 } }),
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
