import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAlertRows, asCopied, T } from '../../../../test/helpers/alert-rows.js';
import { type BothStores, recordedOnBothStores } from '../../../../test/helpers/both-stores.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import type { JsonMessagePreview } from '../../../notify/routing.js';
import { notifyEvents, outboxStates } from '../../../vocabulary.js';
import * as sqlite from '../../queries/notifications.js';
import * as schema from '../../schema/index.js';
import * as pgSchema from '../../schema-pg/index.js';
import * as pg from './notifications.js';

// Differential: each twin answers on PostgreSQL what its SQLite original answers over the same rows (the
// recording, plus test/helpers/alert-rows.ts: other receivers, every outbox state and event, test emails,
// delivery attempts that succeeded and failed). SQLite's answers are compared as the copy stores text
// (`asCopied`: NUL as U+FFFD); the outbox holds no NUL, so this is the identity here.

let server: PostgresServer;
let both: BothStores;
let ids: number[];
let incidents: number[];
beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server);
  const added = await addAlertRows(both);
  ids = [0, ...Array.from({ length: added.outboxIds.at(-1) as number }, (_, i) => i + 1), 9999];
  incidents = [...Array.from({ length: added.incidentIds.at(-1) as number }, (_, i) => i + 1), 9999];
}, 60_000);
afterAll(async () => {
  await both?.close();
  await server?.stop();
});

/** A fixed stand-in for the routing's preview (an argument, not the code under test). */
const preview = (receiver: string, body: string): JsonMessagePreview => ({
  type: receiver === 'slack' ? 'slack' : null,
  payload: `${receiver}: ${body}`,
  note: receiver === 'slack' ? null : 'not configured',
});

const receivers = [undefined, 'email', 'slack', 'oncall', 'nobody'];
const states = [undefined, ...outboxStates, 'unknown'];
const events = [undefined, ...notifyEvents];

describe('listNotifications', () => {
  it('every receiver × state × incident × event', async () => {
    const sizes = new Map<string, number>();
    for (const receiver of receivers) {
      for (const state of states) {
        for (const incident of [undefined, 1, 5, 9, 11, 9999]) {
          for (const event of events) {
            const f = { receiver, state, incident, event, limit: 100 };
            const expected = sqlite.listNotifications(both.sqlite, f);
            const key = [receiver, state, incident, event].join(' ');
            sizes.set(key, expected.length);
            expect(await pg.listNotifications(both.pg, f), key).toEqual(asCopied(expected));
          }
        }
      }
    }
    expect(sizes.get('   ')).toBe(22);
    for (const r of ['email', 'slack', 'oncall']) expect(sizes.get(`${r}   `)).toBeGreaterThan(0);
    for (const s of outboxStates) expect(sizes.get(` ${s}  `), s).toBeGreaterThan(0);
    for (const e of notifyEvents) expect(sizes.get(`   ${e}`), e).toBeGreaterThan(0);
    for (const i of [1, 5, 9, 11]) expect(sizes.get(`  ${i} `)).toBeGreaterThan(0);
    expect(sizes.get('oncall failed 5 first')).toBe(1);
    expect(sizes.get('nobody   ')).toBe(0);
  });

  it('walked to the end, page by page', async () => {
    for (const filter of [
      {},
      { receiver: 'email' },
      { state: 'unsent' },
      { incident: 5 },
      { event: 'first' },
    ]) {
      for (const limit of [1, 2, 3, 50]) {
        const seen: number[] = [];
        let before: number | undefined;
        for (;;) {
          const f = { ...filter, before, limit: limit + 1 };
          const expected = sqlite.listNotifications(both.sqlite, f);
          expect(await pg.listNotifications(both.pg, f), JSON.stringify(f)).toEqual(asCopied(expected));
          const page = expected.slice(0, limit);
          seen.push(...page.map((n) => n.id));
          if (expected.length <= limit) break;
          before = page.at(-1)?.id;
        }
        const all = sqlite.listNotifications(both.sqlite, { ...filter, limit: 100 });
        expect(all.length).toBeGreaterThan(1);
        expect(seen).toEqual(all.map((n) => n.id));
      }
    }
  });

  it('cursor and limit edges', async () => {
    for (const f of [
      { limit: 0 },
      { limit: 1 },
      { before: 9999, limit: 5 },
      { before: 2, limit: 5 },
      { before: 1, limit: 5 },
    ]) {
      expect(await pg.listNotifications(both.pg, f), JSON.stringify(f)).toEqual(
        asCopied(sqlite.listNotifications(both.sqlite, f)),
      );
    }
  });
});

describe('one notification', () => {
  it('getNotification and getMessage: every id, hits and misses', async () => {
    const formats = new Set<string>();
    let withDeliveries = 0;
    for (const id of ids) {
      const expected = sqlite.getNotification(both.sqlite, id);
      if (expected && expected.deliveries.length > 1) withDeliveries++;
      expect(await pg.getNotification(both.pg, id), `notification ${id}`).toEqual(asCopied(expected));
      const message = sqlite.getMessage(both.sqlite, id, preview);
      if (message) formats.add(`${message.format} ${message.receiver}`);
      expect(await pg.getMessage(both.pg, id, preview), `message ${id}`).toEqual(asCopied(message));
    }
    expect(sqlite.getNotification(both.sqlite, 0)).toBeNull();
    expect([...formats].sort()).toEqual(['email email', 'json oncall', 'json slack']);
    expect(withDeliveries).toBe(2);
  });
});

describe('notificationsForIncidents', () => {
  it('several sets of incidents, in the same order', async () => {
    for (const set of [[], [5], [9999], [1, 3, 5, 9, 10, 11], [11, 5, 1], [5, 5], incidents]) {
      const expected = sqlite.notificationsForIncidents(both.sqlite, set);
      const actual = await pg.notificationsForIncidents(both.pg, set);
      // entries, so that the map's order (by incident) is compared too
      expect([...actual], JSON.stringify(set)).toEqual([...asCopied(expected)]);
    }
    expect(sqlite.notificationsForIncidents(both.sqlite, incidents).size).toBe(8);
  });
});

describe('receiverWasTold', () => {
  it('answers as SQLite for every receiver × incident', async () => {
    const told = sqlite.receiverWasTold(both.sqlite);
    const twin = await pg.receiverWasTold(both.pg);
    const yes: string[] = [];
    for (const receiver of ['email', 'slack', 'oncall', 'nobody']) {
      for (const incident of [null, 0, ...incidents]) {
        const expected = told(receiver, incident);
        if (expected) yes.push(`${receiver} ${incident}`);
        expect(twin(receiver, incident), `${receiver} ${incident}`).toBe(expected);
      }
    }
    // oncall 10: a reminder; slack 11: superseded; oncall 5: failed still counts
    expect(yes).toEqual(expect.arrayContaining(['email 1', 'slack 5', 'oncall 5', 'oncall 10', 'email 10']));
    expect(yes).not.toContain('slack 11');
  });
});

describe('delivery summary', () => {
  it('pendingEmailCount', async () => {
    const expected = sqlite.pendingEmailCount(both.sqlite);
    expect(expected).toBeGreaterThan(0);
    expect(await pg.pendingEmailCount(both.pg)).toBe(expected);
  });

  // Last: it adds delivery attempts to both stores, then deletes them all.
  it('emailDeliveryState: failing, ok, idle', async () => {
    const seen: string[] = [];
    const compare = async () => {
      const expected = sqlite.emailDeliveryState(both.sqlite);
      seen.push(expected.state);
      expect(await pg.emailDeliveryState(both.pg)).toEqual(expected);
    };
    await compare();
    const ok = { outboxId: 1, at: T + 20 * 60_000, durationMs: 30, ok: true, retryable: null, error: null };
    const { id } = both.sqlite.insert(schema.deliveryAttempts).values(ok).returning().get();
    await both.pg.insert(pgSchema.deliveryAttempts).values({ ...ok, id });
    await compare();
    both.sqlite.delete(schema.deliveryAttempts).run();
    await both.pg.delete(pgSchema.deliveryAttempts);
    await compare();
    expect(seen).toEqual(['failing', 'ok', 'idle']);
  });
});
