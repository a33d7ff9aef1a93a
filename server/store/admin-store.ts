import { type Db, pingDatabase } from './db.js';
import {
  failingIdentityCounts,
  getCycleRow,
  lastScheduledCycleRow,
  latestCycleRow,
  listCycles,
} from './queries/cycles.js';
import { type ExportOptions, exportCsv } from './queries/export.js';
import {
  getIdentityRow,
  identityMemberships,
  identityTimeline,
  listIdentities,
} from './queries/identities.js';
import {
  activeSilences,
  createSilence,
  endSilence,
  getIncident,
  listIncidents,
  listSilences,
} from './queries/incidents.js';
import {
  emailDeliveryState,
  getMessage,
  getNotification,
  listNotifications,
  notificationsForIncidents,
} from './queries/notifications.js';
import { getOperation, listOperations, type OperationFilter } from './queries/operations.js';
import { createCycleOutcomeQuery } from './queries/outcomes.js';
import { createTimeseriesQuery } from './queries/timeseries.js';
import { createUnrecognisedQuery } from './queries/unrecognised.js';

// What the admin API reads, and the few rows it writes itself (silences), whichever store holds them. Every
// answer is a promise: SQLite answers at once (better-sqlite3 is synchronous), PostgreSQL over the network
// (pg/admin-store.ts, the same methods over the twins in pg/queries/). The API is written once, against this.

/** A SQLite query function bound to its database, as a promise (a thrown error becomes a rejection). */
function bind<A extends unknown[], R>(db: Db, query: (db: Db, ...args: A) => R): (...args: A) => Promise<R> {
  return async (...args) => query(db, ...args);
}

/**
 * The export's CSV slices, with a turn of the event loop before each: a slice is a few ms of synchronous
 * reading and formatting, and the proxy and the recorder run in between.
 */
async function* yieldingBetween(slices: Generator<string>): AsyncGenerator<string> {
  for (const slice of slices) {
    await new Promise((resolve) => setImmediate(resolve));
    yield slice;
  }
}

export function sqliteAdminStore(db: Db) {
  const cycleOutcomes = createCycleOutcomeQuery(db);
  const operationsPerBucket = createTimeseriesQuery(db);
  const unrecognisedSince = createUnrecognisedQuery(db);
  return {
    kind: 'sqlite' as 'sqlite' | 'postgres',
    /** throws when the store cannot answer at all: /api/health asks */
    ping: bind(db, pingDatabase),
    listOperations: bind(db, listOperations),
    getOperation: bind(db, getOperation),
    /** CSV text slices, header first; the route streams them as the client takes them */
    exportCsv: (filter: OperationFilter, options?: ExportOptions): AsyncGenerator<string> =>
      yieldingBetween(exportCsv(db, filter, options)),
    operationsPerBucket: async (...args: Parameters<typeof operationsPerBucket>) =>
      operationsPerBucket(...args),
    listCycles: bind(db, listCycles),
    getCycleRow: bind(db, getCycleRow),
    latestCycleRow: bind(db, latestCycleRow),
    lastScheduledCycleRow: bind(db, lastScheduledCycleRow),
    failingIdentityCounts: bind(db, failingIdentityCounts),
    cycleOutcomes: async (...args: Parameters<typeof cycleOutcomes>) => cycleOutcomes(...args),
    listIdentities: bind(db, listIdentities),
    getIdentityRow: bind(db, getIdentityRow),
    identityMemberships: bind(db, identityMemberships),
    identityTimeline: bind(db, identityTimeline),
    unrecognisedSince: async (...args: Parameters<typeof unrecognisedSince>) => unrecognisedSince(...args),
    getIncident: bind(db, getIncident),
    listIncidents: bind(db, listIncidents),
    activeSilences: bind(db, activeSilences),
    listSilences: bind(db, listSilences),
    createSilence: bind(db, createSilence),
    endSilence: bind(db, endSilence),
    listNotifications: bind(db, listNotifications),
    getNotification: bind(db, getNotification),
    getMessage: bind(db, getMessage),
    notificationsForIncidents: bind(db, notificationsForIncidents),
    emailDeliveryState: bind(db, emailDeliveryState),
  };
}

export type AdminStore = ReturnType<typeof sqliteAdminStore>;
