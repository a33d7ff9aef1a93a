import type { AdminStore } from '../admin-store.js';
import type { PgDb } from './db.js';
import * as cycles from './queries/cycles.js';
import { exportCsv } from './queries/export.js';
import * as identities from './queries/identities.js';
import * as incidents from './queries/incidents.js';
import * as notifications from './queries/notifications.js';
import * as operations from './queries/operations.js';
import { createCycleOutcomeQuery } from './queries/outcomes.js';
import { createTimeseriesQuery } from './queries/timeseries.js';
import { createUnrecognisedQuery } from './queries/unrecognised.js';

// The admin API's store on PostgreSQL: the twins in pg/queries/, each answering what its SQLite original
// answers (pg/queries/*.test.ts compare them over the same rows). Typed as the SQLite store's type, so a
// method missing here, or answering another shape, does not compile.

/** A twin query bound to its database. */
function bind<A extends unknown[], R>(db: PgDb, query: (db: PgDb, ...args: A) => Promise<R>) {
  return (...args: A): Promise<R> => query(db, ...args);
}

export function pgAdminStore(db: PgDb): AdminStore {
  return {
    kind: 'postgres',
    ping: async () => {
      await db.$client.query('select 1');
    },
    listOperations: bind(db, operations.listOperations),
    getOperation: bind(db, operations.getOperation),
    exportCsv: (filter, options) => exportCsv(db, filter, options),
    operationsPerBucket: createTimeseriesQuery(db),
    listCycles: bind(db, cycles.listCycles),
    getCycleRow: bind(db, cycles.getCycleRow),
    latestCycleRow: bind(db, cycles.latestCycleRow),
    lastScheduledCycleRow: bind(db, cycles.lastScheduledCycleRow),
    failingIdentityCounts: bind(db, cycles.failingIdentityCounts),
    cycleOutcomes: createCycleOutcomeQuery(db),
    listIdentities: bind(db, identities.listIdentities),
    getIdentityRow: bind(db, identities.getIdentityRow),
    identityMemberships: bind(db, identities.identityMemberships),
    identityTimeline: bind(db, identities.identityTimeline),
    unrecognisedSince: createUnrecognisedQuery(db),
    getIncident: bind(db, incidents.getIncident),
    listIncidents: bind(db, incidents.listIncidents),
    activeSilences: bind(db, incidents.activeSilences),
    listSilences: bind(db, incidents.listSilences),
    createSilence: bind(db, incidents.createSilence),
    endSilence: bind(db, incidents.endSilence),
    listNotifications: bind(db, notifications.listNotifications),
    getNotification: bind(db, notifications.getNotification),
    getMessage: bind(db, notifications.getMessage),
    notificationsForIncidents: bind(db, notifications.notificationsForIncidents),
    emailDeliveryState: bind(db, notifications.emailDeliveryState),
  };
}
