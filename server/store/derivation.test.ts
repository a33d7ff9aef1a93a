import { describe, expect, it, vi } from 'vitest';
import { entra } from '../../test/helpers/traffic.js';
import { loadConfig } from '../config.js';
import { createClientStage } from '../cycles/clients.js';
import { createCycleStage } from '../cycles/index.js';
import { rebuildRollups } from '../cycles/rebuild.js';
import { createRandom, type Random } from '../demo/simulator/random.js';
import { classify } from '../scim/classify.js';
import type { Exchange } from '../scim/types.js';
import { type Db, openDatabase } from './db.js';
import { createDerivation, readCursor } from './derivation.js';
import { createLogWriter, type IngestStage } from './ingest.js';
import { createTermsStage } from './terms.js';

// Issue 12 §2's property: deriving incrementally, in random batches interleaved with random log writes (some
// logged alone, as in a burst, some derived in their own transaction as the log writer does when caught up),
// with crashes (restarts) at random points, some in the middle of a derivation or write-through transaction,
// gives the same cycles, identities, memberships and per-operation labels as a rebuild from an empty cursor.

const start = Date.UTC(2025, 0, 15, 9, 0, 0);

/** Entra-like traffic: cycles of calls on a few users, separated by gaps longer than the cycle gap, and strangers. */
function traffic(rand: Random, n: number): Exchange[] {
  const out: Exchange[] = [];
  let at = start;
  const users = Array.from({ length: 8 }, (_, i) => ({ name: `user${i}@contoso.example`, id: `u-${i}` }));
  while (out.length < n) {
    // A new cycle after a pause of 10 to 60 minutes (the cycle gap is 5), sometimes a short pause within one.
    at += rand.next() < 0.2 ? (10 + rand.int(50)) * 60_000 : 200 + rand.int(5_000);
    const u = users[rand.int(users.length)];
    const pick = rand.int(10);
    const ex =
      pick === 0
        ? entra.createUser(at, u.name, u.id)
        : pick === 1
          ? entra.createConflict(at, u.name)
          : pick === 2
            ? entra.updateUser(at, u.id, u.name, `Name ${rand.int(100)}`)
            : pick === 3
              ? entra.disableUser(at, u.id, u.name)
              : pick === 4
                ? entra.deleteUser(at, u.id)
                : pick === 5
                  ? entra.throttled(at, u.id)
                  : pick === 6
                    ? entra.upstreamDown(at)
                    : entra.lookupUser(at, u.name, rand.next() < 0.5 ? u.id : undefined);
    // Now and then a scanner without a token: the clients stage must not take it for the app's client.
    if (rand.next() < 0.05) out.push({ ...entra.lookupUser(at, 'x'), tokenFingerprint: null, path: '/.env' });
    out.push(ex);
  }
  return out;
}

const config = loadConfig({ SCIMTAP_DB: ':memory:' });
const classifyOptions = { capture: 'redacted' as const, redact: ['password'] };

/** What derivation produced: the rollups and the labels it wrote on each operation. */
function snapshot(db: Db) {
  const all = (sql: string) => db.$client.prepare(sql).all();
  return {
    cycles: all('select * from cycles order by id'),
    identities: all('select * from identities order by id'),
    memberships: all('select * from memberships order by 1, 2'),
    operations: all('select id, cycle_id, identity_id, client_kind, identity from operations order by id'),
  };
}

function runIncrementally(seed: number) {
  const rand = createRandom(seed);
  const exchanges = traffic(rand, 150 + rand.int(250));
  const clock = () => exchanges[exchanges.length - 1].startedAt + 1;
  const db = openDatabase(':memory:');
  const classifyOne = (e: Exchange) => classify(e, classifyOptions);
  const writeLog = createLogWriter({ db, classify: classifyOne });
  // A restart: the stages' memory is gone; what they know comes back from the database.
  const boot = (extra: IngestStage[] = []) => {
    const cycles = createCycleStage({ db, config, clock });
    const stages = [createClientStage({ db }), cycles, createTermsStage(db), ...extra];
    const derivation = createDerivation({ db, stages, batchSize: 1 + rand.int(60) });
    return { cycles, derivation, writeThrough: createLogWriter({ db, classify: classifyOne, derivation }) };
  };
  let live = boot();
  let written = 0;
  let crashes = 0;
  let derivedAsWritten = 0;
  while (written < exchanges.length) {
    const choice = rand.next();
    if (choice < 0.25) {
      const n = 1 + rand.int(40);
      writeLog(exchanges.slice(written, written + n));
      written += n;
    } else if (choice < 0.45) {
      // The log writer's way when caught up: derived in the write's transaction (else logged alone).
      const n = 1 + rand.int(40);
      if (live.writeThrough(exchanges.slice(written, written + n)).derived) derivedAsWritten++;
      written += n;
    } else if (choice < 0.85) {
      live.derivation.step();
    } else if (choice < 0.93) {
      live = boot();
      crashes++;
    } else {
      // A crash inside a derivation transaction: a stage after the cycles stage throws, the transaction rolls
      // back, and the process (its stages) is gone.
      const crashing = boot([
        {
          afterInsert() {
            throw new Error('crash');
          },
        },
      ]);
      if (readCursor(db) < written) expect(() => crashing.derivation.step()).toThrow('crash');
      else {
        // Caught up: the crash comes in a write-through transaction, which takes the log rows down with it.
        const n = 1 + rand.int(40);
        expect(() => crashing.writeThrough(exchanges.slice(written, written + n))).toThrow('crash');
      }
      live = boot();
      crashes++;
    }
  }
  live.derivation.drain();
  live.cycles.closeStale(clock());
  expect(live.derivation.lag(clock()).operations).toBe(0);
  return { db, clock, crashes, derivedAsWritten, operations: exchanges.length };
}

describe('derivation from the operations log', () => {
  it('gives what a rebuild from an empty cursor gives, over random batches, interleavings and crashes', () => {
    let crashes = 0;
    let derivedAsWritten = 0;
    for (let seed = 1; seed <= 25; seed++) {
      const { db, clock, crashes: c, derivedAsWritten: d, operations } = runIncrementally(seed);
      crashes += c;
      derivedAsWritten += d;
      const incremental = snapshot(db);
      expect(incremental.cycles.length, `seed ${seed}: cycles`).toBeGreaterThan(1);
      expect(incremental.identities.length, `seed ${seed}: identities`).toBeGreaterThan(0);
      const rebuilt = rebuildRollups(db, config, { clock, batchSize: 1 + createRandom(seed).int(500) });
      expect(rebuilt.operations).toBe(operations);
      expect(snapshot(db), `seed ${seed}`).toEqual(incremental);
      expect(readCursor(db)).toBe(operations);
      db.$client.close();
    }
    // The runs did crash, in both places, and did derive batches as they were written.
    expect(crashes).toBeGreaterThan(25);
    expect(derivedAsWritten).toBeGreaterThan(25);
  });

  it('rebuilds a file a crash left with rows in pending_operations as live derivation would have', () => {
    const exchanges = traffic(createRandom(7), 300);
    const clock = () => exchanges[exchanges.length - 1].startedAt + 1;
    const classifyOne = (e: Exchange) => classify(e, classifyOptions);
    const terms = (db: Db) =>
      db.$client.prepare('select field, value from operation_terms order by 1, 2').all();
    // Both files hold a burst logged first (none of it derived), as a crash in the middle of one leaves it.
    const [live, crashed] = [openDatabase(':memory:'), openDatabase(':memory:')];
    for (const db of [live, crashed]) createLogWriter({ db, classify: classifyOne })(exchanges);
    // One started again and derived the burst (catchUpAtStart's stages), the other went straight to a rebuild.
    const stages = [createClientStage({ db: live }), createCycleStage({ db: live, config, clock })];
    createDerivation({ db: live, stages: [...stages, createTermsStage(live)] }).drain();
    for (const db of [live, crashed]) {
      expect(rebuildRollups(db, config, { clock }).operations).toBe(exchanges.length);
      expect(db.$client.prepare('select count(*) from pending_operations').pluck().get()).toBe(0);
    }
    // The same client kinds (the scanner's calls told apart) and the same search terms.
    expect(snapshot(crashed)).toEqual(snapshot(live));
    expect(terms(crashed)).toEqual(terms(live));
    expect(terms(crashed).length).toBeGreaterThan(0);
    expect(
      crashed.$client
        .prepare("select count(*) from operations where client_kind != 'provisioning'")
        .pluck()
        .get(),
    ).toBeGreaterThan(0);
  });

  it('reports how far it is behind, in operations and seconds', () => {
    const db = openDatabase(':memory:');
    const writeLog = createLogWriter({ db, classify: (e) => classify(e, classifyOptions) });
    const derivation = createDerivation({ db, stages: [], batchSize: 2 });
    writeLog([
      entra.lookupUser(start, 'a'),
      entra.lookupUser(start + 1_000, 'b'),
      entra.lookupUser(start + 2_000, 'c'),
    ]);
    expect(derivation.lag(start + 10_000)).toEqual({ operations: 3, seconds: 10, cursor: 0 });
    expect(derivation.step()).toBe(2);
    expect(derivation.lag(start + 10_000)).toEqual({ operations: 1, seconds: 8, cursor: 2 });
    expect(derivation.drain()).toBe(1);
    expect(derivation.lag(start + 10_000)).toEqual({ operations: 0, seconds: 0, cursor: 3 });
  });

  it('moves rows logged alone into the log with their bodies, under ids the log never gave out', () => {
    const db = openDatabase(':memory:');
    const sqlite = db.$client;
    const derivation = createDerivation({ db, stages: [createTermsStage(db)], batchSize: 1 });
    const write = createLogWriter({ db, classify: (e) => classify(e, classifyOptions), derivation });
    const pendingIds = () => sqlite.prepare('select id from pending_operations order by id').pluck().all();
    const bodiesOf = (table: string, key: string) =>
      sqlite
        .prepare(
          `select ${key} as id, request_body, response_body, response_truncated from ${table} order by 1`,
        )
        .all();
    expect(write([entra.createUser(start, 'a@x', 'u-a'), entra.lookupUser(start + 1, 'b')]).derived).toBe(
      true,
    );
    // The newest rows gone (a storage budget): their ids stay used.
    sqlite.exec('delete from bodies where operation_id = 2; delete from operations where id = 2');
    expect(
      write([entra.createUser(start + 2, 'c@x', 'u-c'), entra.lookupUser(start + 3, 'd')], { derive: false }),
    ).toEqual({ lastId: 4, derived: false });
    // Waiting in pending_operations: not in the log yet, but counted as behind, from the oldest of them.
    expect(sqlite.prepare('select id from operations').pluck().all()).toEqual([1]);
    expect(derivation.lag(start + 10_002)).toEqual({ operations: 2, seconds: 10, cursor: 2 });
    const waiting = bodiesOf('pending_operations', 'id');
    // One moved: gone from pending_operations, and no longer counted.
    expect(derivation.step()).toBe(1);
    expect(pendingIds()).toEqual([4]);
    expect(derivation.lag(start + 10_003)).toEqual({ operations: 1, seconds: 10, cursor: 3 });
    expect(derivation.step()).toBe(1);
    expect(pendingIds()).toEqual([]);
    expect(derivation.step()).toBe(0);
    expect(bodiesOf('bodies', 'operation_id').slice(1)).toEqual(waiting);
    // Labelled on the way in, and searchable like any other row.
    expect(sqlite.prepare("select value from operation_terms where value = 'c@x'").pluck().all()).toEqual([
      'c@x',
    ]);
    // Caught up: the next batch goes straight into the log, after them.
    expect(write([entra.lookupUser(start + 4, 'e')])).toEqual({ lastId: 5, derived: true });
    expect(sqlite.prepare('select id from operations order by id').pluck().all()).toEqual([1, 3, 4, 5]);
  });

  it("knows at once when its own writer logged rows alone, and sees other writers' rows within a second", () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const db = openDatabase(':memory:');
      const derivation = createDerivation({ db, stages: [] });
      const writeLog = createLogWriter({ db, classify: (e) => classify(e, classifyOptions), derivation });
      expect(derivation.behind()).toBe(false);
      // A burst logged alone: the consumer's next look finds it without reading the log.
      writeLog([entra.lookupUser(start, 'a')], { derive: false });
      expect(derivation.behind()).toBe(true);
      expect(derivation.drain()).toBe(1);
      expect(derivation.behind()).toBe(false);
      // A row this process did not write (another writer on the file): the look reads the log's end once a second.
      const other = createLogWriter({ db, classify: (e) => classify(e, classifyOptions) });
      other([entra.lookupUser(start + 1_000, 'b')]);
      expect(derivation.behind()).toBe(false);
      vi.advanceTimersByTime(1_000);
      expect(derivation.behind()).toBe(true);
      expect(derivation.drain()).toBe(1);
      expect(derivation.behind()).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
