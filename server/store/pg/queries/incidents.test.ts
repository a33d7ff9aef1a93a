import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAlertRows, asCopied, T } from '../../../../test/helpers/alert-rows.js';
import { type BothStores, recordedOnBothStores } from '../../../../test/helpers/both-stores.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import { notifyEvents, ruleCodes } from '../../../vocabulary.js';
import * as sqlite from '../../queries/incidents.js';
import * as pg from './incidents.js';

// Differential: each twin answers on PostgreSQL what its SQLite original answers over the same rows (the
// recording, plus test/helpers/alert-rows.ts). The recorded silence's comment holds a NUL, which the copy (and
// the pg writes) turn into U+FFFD: SQLite's answers are compared after that same replacement (`asCopied`).

let server: PostgresServer;
let both: BothStores;
let incidentIds: number[];
beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server);
  ({ incidentIds } = await addAlertRows(both));
}, 60_000);
afterAll(async () => {
  await both?.close();
  await server?.stop();
});

const allIds = () => [
  0,
  ...Array.from({ length: (incidentIds.at(-1) as number) + 1 }, (_, i) => i + 1),
  9999,
];

/**
 * Walks every page as the API does (limit + 1 rows, the next cursor from the page's last id), comparing each;
 * returns the ids seen.
 */
async function walk(
  limit: number,
  read: (before: number | undefined, limit: number) => [{ id: number | null }[], Promise<unknown>],
): Promise<number[]> {
  const seen: number[] = [];
  let before: number | undefined;
  for (;;) {
    const [expected, actual] = read(before, limit + 1);
    expect(await actual).toEqual(asCopied(expected));
    const page = expected.slice(0, limit);
    seen.push(...page.map((r) => r.id as number));
    if (expected.length <= limit) return seen;
    before = page.at(-1)?.id as number;
  }
}

describe('incidents', () => {
  it('loadOpenIncidents', async () => {
    const expected = sqlite.loadOpenIncidents(both.sqlite);
    expect(expected.map((i) => i.state)).toEqual(expect.arrayContaining(['pending', 'firing']));
    expect(await pg.loadOpenIncidents(both.pg)).toEqual(expected);
  });

  it('getIncident: every id, hits and misses (damaged evidence included)', async () => {
    let hits = 0;
    for (const id of allIds()) {
      const expected = sqlite.getIncident(both.sqlite, id);
      if (expected) hits++;
      expect(await pg.getIncident(both.pg, id)).toEqual(expected);
    }
    expect(hits).toBe(12);
    expect(sqlite.getIncident(both.sqlite, 11)?.evidence.count).toBe(0);
  });

  const states = [undefined, 'open', 'pending', 'firing', 'resolved'] as const;
  const rules = [undefined, ...ruleCodes];

  it('listIncidents: every state × rule, one page and walked to the end', async () => {
    const sizes = new Map<string, number>();
    for (const state of states) {
      for (const rule of rules) {
        const f = { state, rule };
        const expected = sqlite.listIncidents(both.sqlite, { ...f, limit: 100 });
        expect(await pg.listIncidents(both.pg, { ...f, limit: 100 }), `${state} ${rule}`).toEqual(expected);
        sizes.set(`${state} ${rule}`, expected.length);
        const seen = await walk(2, (before, limit) => [
          sqlite.listIncidents(both.sqlite, { ...f, before, limit }),
          pg.listIncidents(both.pg, { ...f, before, limit }),
        ]);
        expect(seen).toEqual(expected.map((i) => i.id));
      }
    }
    expect(sizes.get('undefined undefined')).toBe(12);
    for (const state of ['open', 'pending', 'firing', 'resolved'])
      expect(sizes.get(`${state} undefined`)).toBeGreaterThan(0);
    for (const rule of ['credentials', 'escrowProportion', 'stuckObject', 'throttling']) {
      expect(sizes.get(`undefined ${rule}`)).toBeGreaterThan(0);
    }
    expect(sizes.get('pending credentials')).toBe(1);
    expect(sizes.get('resolved stuckObject')).toBe(1);
    expect(sizes.get('undefined tooManyDeletes')).toBe(0);
  });

  it('listIncidents: cursor and limit edges', async () => {
    for (const f of [
      { limit: 1 },
      { limit: 0 },
      { limit: 3, before: 9999 },
      { limit: 3, before: 6 },
      { limit: 3, before: 1 },
      { limit: 3, before: 0 },
      { state: 'open' as const, limit: 1, before: 11 },
    ]) {
      expect(await pg.listIncidents(both.pg, f), JSON.stringify(f)).toEqual(
        sqlite.listIncidents(both.sqlite, f),
      );
    }
  });
});

describe('notification decisions', () => {
  it('lastSent: every incident (none, superseded and acknowledged rows skipped)', async () => {
    const found = [];
    for (const id of allIds()) {
      const expected = sqlite.lastSent(both.sqlite, id);
      if (expected) found.push(id);
      expect(await pg.lastSent(both.pg, id), `incident ${id}`).toEqual(expected);
    }
    expect(found).toEqual([1, 3, 5, 6, 8, 9, 10]);
    expect(sqlite.lastSent(both.sqlite, 5)?.event).toBe('first');
    expect(sqlite.lastSent(both.sqlite, 9)?.event).toBe('reasonChanged');
  });

  it('nextSequence: every incident × event', async () => {
    const above1 = [];
    for (const id of allIds()) {
      for (const event of notifyEvents) {
        const expected = sqlite.nextSequence(both.sqlite, id, event);
        if (expected > 1) above1.push(expected);
        expect(await pg.nextSequence(both.pg, id, event), `${id} ${event}`).toBe(expected);
      }
    }
    expect(above1).toContain(3);
    expect(above1).toContain(3_000_000_001);
  });
});

describe('silences', () => {
  const instants = [
    0,
    T - 1,
    T,
    T + 30 * 60_000,
    T + 60 * 60_000 - 1,
    T + 60 * 60_000,
    T + 90 * 60_000,
    T + 1e9,
  ];

  it('createSilence, endSilence: same rows written (a NUL comment stored as U+FFFD)', async () => {
    const silences = [
      { rule: 'throttling', identity: 'user3@contoso.example', comment: 'noisy', createdBy: 'bob' },
      { rule: 'credentials', identity: null, comment: 'rotating\0 keys', createdBy: 'alice' },
      { rule: 'stuckObject', identity: null, comment: '', createdBy: 'dashboard' },
    ] as const;
    for (const [i, s] of silences.entries()) {
      const row = { ...s, createdAt: T + i * 60_000, expiresAt: T + (i + 1) * 45 * 60_000 };
      const expected = sqlite.createSilence(both.sqlite, row);
      expect(await pg.createSilence(both.pg, row)).toEqual(asCopied(expected));
    }
    for (const [id, now] of [
      [3, T + 10 * 60_000],
      [3, T + 20 * 60_000],
      [9999, T],
    ] as const) {
      const expected = sqlite.endSilence(both.sqlite, id, now);
      expect(await pg.endSilence(both.pg, id, now), `end ${id} at ${now}`).toEqual(asCopied(expected));
    }
    expect(sqlite.endSilence(both.sqlite, 3, T)?.endedAt).toBe(T + 10 * 60_000);
    expect(sqlite.listSilences(both.sqlite, { now: T, limit: 100 })).toHaveLength(4);
  });

  it('activeSilences at several instants', async () => {
    const counts = [];
    for (const now of instants) {
      const expected = sqlite.activeSilences(both.sqlite, now);
      counts.push(expected.length);
      expect(await pg.activeSilences(both.pg, now), `at ${now}`).toEqual(asCopied(expected));
    }
    expect(Math.max(...counts)).toBe(3);
    expect(counts.at(-1)).toBe(0);
  });

  it('listSilences: active or all, at several instants, walked to the end', async () => {
    for (const active of [undefined, true, false]) {
      for (const now of instants) {
        const expected = sqlite.listSilences(both.sqlite, { active, now, limit: 100 });
        expect(await pg.listSilences(both.pg, { active, now, limit: 100 })).toEqual(asCopied(expected));
        const seen = await walk(1, (before, limit) => [
          sqlite.listSilences(both.sqlite, { active, now, before, limit }),
          pg.listSilences(both.pg, { active, now, before, limit }),
        ]);
        expect(seen).toEqual(expected.map((s) => s.id));
        if (active !== true) expect(seen).toEqual([4, 3, 2, 1]);
      }
    }
    const f = { now: T, limit: 2, before: 1 };
    expect(await pg.listSilences(both.pg, f)).toEqual(sqlite.listSilences(both.sqlite, f));
  });
});

describe('acknowledgeIncident', () => {
  it('writes the same acknowledgement; a second one, or a missing incident, changes nothing', async () => {
    const acks = [
      [5, 'carol', 'on it\0 now', T + 7 * 60_000],
      [5, 'dave', 'too late', T + 8 * 60_000],
      [9, 'erin', null, T + 9 * 60_000],
      [11, 'frank', 'already acked', T + 9 * 60_000],
      [9999, 'gina', null, T],
    ] as const;
    for (const [id, by, comment, now] of acks) {
      const expected = sqlite.acknowledgeIncident(both.sqlite, id, by, comment, now);
      expect(await pg.acknowledgeIncident(both.pg, id, by, comment, now), `ack ${id}`).toEqual(
        asCopied(expected),
      );
    }
    expect(sqlite.getIncident(both.sqlite, 5)?.acknowledgedBy).toBe('carol');
    expect(asCopied(sqlite.listIncidents(both.sqlite, { limit: 100 }))).toEqual(
      await pg.listIncidents(both.pg, { limit: 100 }),
    );
    expect(await pg.loadOpenIncidents(both.pg)).toEqual(asCopied(sqlite.loadOpenIncidents(both.sqlite)));
  });
});
