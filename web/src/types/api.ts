// Wire types of the admin API, read from the server's one route chain (`AdminApi`, server/api/index.ts) through
// Hono's typed client: none is written by hand, so a changed answer on the server is a type error here.
// Types only: nothing from server/ ends up in the bundle. Times are ISO 8601 UTC strings.

import type { hc, InferResponseType } from 'hono/client';
import type { AdminApi } from '../../../server/api/index.js';
import type { FleetApi } from '../../../server/api/routes/apps.js';

/** The admin API as `hc` sees it: one property per path segment, then `$get`, `$post`, `$delete`. */
export type Api = ReturnType<typeof hc<AdminApi>>;

/** The JSON a route answers with when it succeeds (errors are `{error, message}`: lib/api-client.ts). */
export type Answer<Route> = InferResponseType<Route, 200 | 201 | 202>;

/** GET /api/health */
export type Health = Answer<Api['health']['$get']>;

/** GET /api/status */
export type Status = Answer<Api['status']['$get']>;
export type StatusState = Status['state'];

/** GET /api/cycles: newest first, cursor paging. */
export type CyclePage = Answer<Api['cycles']['$get']>;
/** A cycle as /api/cycles lists it and /api/status shows it. */
export type Cycle = CyclePage['items'][number];
export type CycleProgress = NonNullable<Cycle['progress']>;
/** One cycle with its counts by operation and error (/api/cycles/:id). */
export type CycleDetail = Answer<Api['cycles'][':id']['$get']>;
/** GET /api/cycles/:id/outcomes: one row per user or group the cycle touched. */
export type CycleOutcomePage = Answer<Api['cycles'][':id']['outcomes']['$get']>;
export type CycleOutcome = CycleOutcomePage['items'][number];

/** GET /api/operations */
export type OperationPage = Answer<Api['operations']['$get']>;
export type Operation = OperationPage['items'][number];
/** GET /api/operations/:id: one operation with its (redacted) bodies. */
export type OperationDetail = Answer<Api['operations'][':id']['$get']>;

/** GET /api/timeseries/operations */
export type OperationsTimeseries = Answer<Api['timeseries']['operations']['$get']>;

/** GET /api/identities */
export type IdentityPage = Answer<Api['identities']['$get']>;
export type Identity = IdentityPage['items'][number];
/** GET /api/identities/:id: the identity, its memberships and its timeline. */
export type IdentityDetail = Answer<Api['identities'][':id']['$get']>;

/** GET /api/incidents: incidents with their emails. */
export type IncidentPage = Answer<Api['incidents']['$get']>;
export type Incident = IncidentPage['items'][number];

/** GET /api/silences */
export type SilencePage = Answer<Api['silences']['$get']>;
export type Silence = SilencePage['items'][number];

/** GET /api/notifications: the outbox, its delivery log and the receivers. */
export type NotificationPage = Answer<Api['notifications']['$get']>;
export type Notification = NotificationPage['items'][number];
export type ReceiverView = NotificationPage['receivers'][number];
/** GET /api/notifications/:id/message: what the receiver gets. */
export type Message = Answer<Api['notifications'][':id']['message']['$get']>;
/** POST /api/notifications/test */
export type TestSent = Answer<Api['notifications']['test']['$post']>;

/** GET /api/unrecognised */
export type UnrecognisedReport = Answer<Api['unrecognised']['$get']>;

/** GET /api/apps (issue 14), the fleet page's rows, from its own route chain: it is about all apps, not one. */
export type Fleet = ReturnType<typeof hc<FleetApi>>;
/** GET /api/apps: one summary per app, riskiest first. */
export type Apps = Answer<Fleet['index']['$get']>;
export type AppSummary = Apps['apps'][number];
export type AppLastCycle = NonNullable<AppSummary['lastCycle']>;
export type AppCyclePoint = AppSummary['failuresPerCycle'][number];
