import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  append,
  clock,
  config,
  type DerivationEvent,
  deriveOnSqliteFollowing,
  expectSameDump,
} from '../../../../test/helpers/derive-compare.js';
import { generatedTraffic, scenario } from '../../../../test/helpers/derive-traffic.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import type { Exchange } from '../../../scim/types.js';
import { currentLeader } from '../lease.js';
import { migratePostgres } from '../migrate.js';
import { createPool, type Pool } from '../pool.js';
import { type PgConsumer, readPgLag, startPgConsumer } from './consumer.js';
import { createPgDerivation, type PgDerivation, type PgDerivationOptions } from './derivation.js';
import { FencedError } from './flush.js';

// The leader's consumer on a real PostgreSQL, two replicas sharing one database: exactly one derives, a new
// leader takes over from where the old one committed, and the write-back's fence keeps a deposed leader's last
// batch and the new leader's first from both committing. Always checked against SQLite deriving the same log.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitFor = async (what: string, check: () => boolean | Promise<boolean>, ms = 20_000) => {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return Date.now() - started;
};

/**
 * createPgDerivation, noting what SQLite must follow (DerivationEvent): where a derivation (a new leader's, or one
 * started afresh after a refused or failed batch) first committed from, and each closeStale that committed.
 */
function observed(events: DerivationEvent[], errors: unknown[] = []) {
  return (options: PgDerivationOptions): PgDerivation => {
    let fresh = true;
    const d = createPgDerivation({
      ...options,
      onReset: () => {
        fresh = true;
      },
    });
    /** `write`, noting the restart it is the first commit of (from where the derivation stood before it) */
    const committing = async <T>(write: () => Promise<T>, wrote: (result: T) => boolean): Promise<T> => {
      try {
        const from = (await d.cursor()).id;
        const result = await write();
        if (fresh && wrote(result)) {
          events.push({ kind: 'restart', at: from });
          fresh = false;
        }
        return result;
      } catch (err) {
        errors.push(err);
        throw err;
      }
    };
    return {
      ...d,
      step: () => committing(d.step, (n) => n > 0),
      async closeStale(now) {
        const closed = await committing(
          () => d.closeStale(now),
          () => true,
        );
        events.push({ kind: 'closeStale', at: (await d.cursor()).id, now: now ?? clock() });
        return closed;
      },
    };
  };
}

/**
 * The pool, with a gate on `connect()`, which a derivation calls to write a batch back (after reading and deriving
 * it): `hold` resolves once a write-back waits at the gate, `release` lets it through.
 */
const gates: { release(): void }[] = [];
function gated(pool: Pool) {
  let held: { reached: () => void; open: Promise<void>; release: () => void } | null = null;
  const wrapped = new Proxy(pool, {
    get(target, prop) {
      if (prop === 'connect')
        return async (...args: unknown[]) => {
          if (args.length > 0) return (target.connect as (...a: unknown[]) => unknown)(...args);
          if (held) {
            held.reached();
            await held.open;
          }
          return target.connect();
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const gate = {
    pool: wrapped,
    hold(): Promise<void> {
      return new Promise((reached) => {
        let release = () => {};
        const open = new Promise<void>((r) => {
          release = r;
        });
        held = { reached, open, release };
      });
    },
    release() {
      held?.release();
      held = null;
    },
  };
  gates.push(gate);
  return gate;
}

describe('the leader consumer on PostgreSQL', () => {
  let server: PostgresServer;
  const pools: Pool[] = [];
  const consumers: PgConsumer[] = [];
  const fresh = async () => {
    const url = await server.createDatabase();
    const pool = createPool(url, { max: 8 });
    pools.push(pool);
    await migratePostgres(pool);
    return { url, pool };
  };
  const start = (
    url: string,
    pool: Pool,
    replica: string,
    events: DerivationEvent[],
    batchSize = 5,
    errors: unknown[] = [],
  ) => {
    const c = startPgConsumer({
      pool,
      url,
      replica,
      config,
      clock,
      batchSize,
      intervalMs: 20,
      retryMs: 100,
      heartbeatTimeoutMs: 1_000,
      createDerivation: observed(events, errors),
      // What these tests follow is the lead, not the order of requests across replicas (derivation.test.ts)
      settleMs: 0,
    });
    consumers.push(c);
    return c;
  };
  const leaders = () => consumers.filter((c) => c.leading);
  // Sampled all along: two replicas never both derive.
  let bothLed = false;
  let sampler: NodeJS.Timeout;

  beforeAll(async () => {
    server = await startPostgres();
    sampler = setInterval(() => {
      if (leaders().length > 1) bothLed = true;
    }, 10);
  });
  afterEach(async () => {
    // A failed test may leave a write-back at its gate: stop() waits for it.
    for (const gate of gates.splice(0)) gate.release();
    await Promise.all(consumers.splice(0).map((c) => c.stop()));
    expect(bothLed).toBe(false);
  });
  afterAll(async () => {
    clearInterval(sampler);
    await Promise.all(pools.map((p) => p.end()));
    await server?.stop();
  });

  const caughtUp = async (pool: Pool, total: number) => {
    await waitFor('derivation to catch up', async () => (await readPgLag(pool, 0)).operations === 0, 60_000);
    const { rows } = await pool.query('select count(*)::int as n from operations where cycle_id is not null');
    expect(rows[0].n).toBeGreaterThan(0);
    expect(consumers.reduce((n, c) => n + c.stats().derived, 0)).toBe(total);
  };

  it('derives with exactly one of two replicas, as SQLite does', async () => {
    const { url, pool } = await fresh();
    const events: DerivationEvent[] = [];
    const a = start(url, pool, 'a', events);
    const b = start(url, pool, 'b', events);
    const batches = generatedTraffic(1);
    for (const [i, batch] of batches.entries()) {
      await append(pool, batch);
      if (i % 3 === 0) await sleep(5);
    }
    await waitFor('a leader', () => leaders().length === 1);
    const leader = a.leading ? a : b;
    const other = leader === a ? b : a;
    await caughtUp(pool, batches.flat().length);
    expect(other.stats()).toEqual({ leading: false, derived: 0, failing: false, lastError: null });
    expect(leader.stats()).toMatchObject({ leading: true, failing: false });
    expect(await currentLeader(pool)).toMatchObject({ replica: leader === a ? 'a' : 'b' });
    // One derivation, started at the beginning.
    expect(events.filter((e) => e.kind === 'restart')).toEqual([{ kind: 'restart', at: 0 }]);
    await expectSameDump(pool, deriveOnSqliteFollowing(batches, events));
  });

  for (const inFlight of [false, true]) {
    const how = inFlight ? ', its last batch still in flight' : '';
    it(`hands over when the leader loses its lease${how}, deriving nothing twice and skipping nothing`, async () => {
      const { url, pool } = await fresh();
      const events: DerivationEvent[] = [];
      const refused: unknown[] = [];
      const gates = { a: gated(pool), b: gated(pool) };
      const a = start(url, gates.a.pool, 'a', events, 3, refused);
      const b = start(url, gates.b.pool, 'b', events, 3, refused);
      await waitFor('a leader', () => leaders().length === 1);
      const first = a.leading ? 'a' : 'b';
      const [leader, other] = a.leading ? [a, b] : [b, a];
      const batches = generatedTraffic(2);
      const total = batches.flat().length;
      const killAt = Math.floor(batches.length / 3);
      let tookOverMs = -1;
      for (const [i, batch] of batches.entries()) {
        await append(pool, batch);
        await sleep(3);
        if (i !== killAt) continue;
        await waitFor('some derivation', () => leader.stats().derived > 0);
        // In flight: the leader has read a batch and is about to write it back when its lease goes.
        if (inFlight) await gates[first].hold();
        await pool.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1',
          [`scimtap:${first}`],
        );
        // Operations keep arriving while the other replica takes over.
        void waitFor('the other replica to lead', () => other.leading, 15_000).then((ms) => {
          tookOverMs = ms;
        });
        if (!inFlight) continue;
        // The new leader derives the same rows first; the deposed one's write-back comes second: refused.
        await waitFor('the new leader to derive', () => other.stats().derived > 0);
        gates[first].release();
        await waitFor('the old batch to be refused', () => refused.length > 0);
        expect(refused).toEqual([expect.any(FencedError)]);
      }
      await waitFor('the take-over', () => tookOverMs >= 0, 15_000);
      expect(tookOverMs).toBeLessThan(15_000);
      expect(leader.leading).toBe(false);
      await caughtUp(pool, total);
      expect(other.stats().derived).toBeGreaterThan(0);
      expect(leader.stats().failing).toBe(false);
      expect(events.filter((e) => e.kind === 'restart').length).toBeGreaterThan(1);
      // Without the gate, the two may race or not: whatever was refused, was refused by the fence.
      for (const err of refused) expect(err).toBeInstanceOf(FencedError);
      await expectSameDump(pool, deriveOnSqliteFollowing(batches, events));
    });
  }

  it('refuses the second of two derivations committing from the same state', async () => {
    const { pool } = await fresh();
    const events: DerivationEvent[] = [];
    const make = observed(events);
    const one = make({ pool, config, clock, batchSize: 4 });
    const two = make({ pool, config, clock, batchSize: 4 });
    const batches = scenario();
    const race = async () => {
      // Both read their state (the same cursor) before the rows arrive, then step over the same rows.
      const settled = await Promise.allSettled([one.step(), two.step()]);
      const won = settled.filter((s) => s.status === 'fulfilled');
      const refused = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
      expect(won).toHaveLength(1);
      expect((won[0] as PromiseFulfilledResult<number>).value).toBeGreaterThan(0);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toBeInstanceOf(FencedError);
    };
    const [first, second, ...rest] = batches as [Exchange[], Exchange[], ...Exchange[][]];
    // The first batch: no cursor row yet, both insert it.
    await Promise.all([one.cursor(), two.cursor()]);
    await append(pool, first);
    await race();
    // Then with a cursor row, both from the same one.
    await Promise.all([one.cursor(), two.cursor()]);
    expect(await one.cursor()).toEqual(await two.cursor());
    await append(pool, second);
    await race();
    // A commit that leaves the cursor where it was (closeStale) fences too.
    await Promise.all([one.cursor(), two.cursor()]);
    for (const batch of rest) await append(pool, batch);
    await one.closeStale(clock());
    await expect(two.step()).rejects.toBeInstanceOf(FencedError);
    // The refused one starts afresh from what was committed, and derives the rest.
    await two.drain();
    // And the other one, behind now, is refused in turn, then finds nothing left.
    await expect(one.step()).rejects.toBeInstanceOf(FencedError);
    expect(await one.step()).toBe(0);
    expect((await readPgLag(pool, 0)).operations).toBe(0);
    await expectSameDump(pool, deriveOnSqliteFollowing(batches, events));
  });

  it('gives the lead away on stop', async () => {
    const { url, pool } = await fresh();
    const a = start(url, pool, 'a', []);
    const b = start(url, pool, 'b', []);
    await waitFor('a leader', () => leaders().length === 1);
    const [leader, other] = a.leading ? [a, b] : [b, a];
    await leader.stop();
    expect(leader.leading).toBe(false);
    const ms = await waitFor('the other replica to lead', () => other.leading, 5_000);
    expect(ms).toBeLessThan(5_000);
    expect(await currentLeader(pool)).toMatchObject({ replica: other === a ? 'a' : 'b' });
    // It derives what arrives next.
    const batches = scenario();
    for (const batch of batches) await append(pool, batch);
    await caughtUp(pool, batches.flat().length);
  });

  it('reports the lag from the committed cursor', async () => {
    const { url, pool } = await fresh();
    const batches = scenario();
    for (const batch of batches) await append(pool, batch);
    const total = batches.flat().length;
    const firstAt = ((batches[0] as Exchange[])[0] as Exchange).startedAt;
    expect(await readPgLag(pool, firstAt + 60_000)).toEqual({
      operations: total,
      exact: true,
      seconds: 60,
      cursor: 0,
    });
    const c = start(url, pool, 'a', []);
    await caughtUp(pool, total);
    const { rows } = await pool.query('select max(id)::int as id from operations');
    expect(await c.lag(firstAt)).toEqual({ operations: 0, exact: true, seconds: 0, cursor: rows[0].id });
  });

  // Last: it restarts the server every other test shares.
  it('leads again and derives the rest after the server restarts', async () => {
    const { url, pool } = await fresh();
    const events: DerivationEvent[] = [];
    const errors: unknown[] = [];
    const a = start(url, pool, 'a', events, 5, errors);
    const b = start(url, pool, 'b', events, 5, errors);
    const batches = generatedTraffic(3);
    const half = Math.floor(batches.length / 2);
    for (const batch of batches.slice(0, half)) await append(pool, batch);
    await caughtUp(pool, batches.slice(0, half).flat().length);
    await server.down();
    await waitFor('the leader to step down', () => leaders().length === 0);
    await sleep(300);
    await server.up();
    await waitFor('a leader again', () => leaders().length === 1);
    for (const batch of batches.slice(half)) {
      await waitFor('the log to take rows', () =>
        append(pool, batch).then(
          () => true,
          () => false,
        ),
      );
    }
    await caughtUp(pool, batches.flat().length);
    expect([a, b].find((c) => c.leading)?.stats().failing).toBe(false);
    await expectSameDump(pool, deriveOnSqliteFollowing(batches, events));
  });
});
