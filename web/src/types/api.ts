// Wire types of the admin API routes the dashboard reads, taken from the server's own view functions where
// they exist (types only: nothing from server/ ends up in the bundle). Times are ISO 8601 UTC strings.

import type { IncidentView, toSilenceView } from '../../../server/alerts/views.js';
import type { OverallState } from '../../../server/cycles/health.js';
import type { CycleView, IdentityView, toCycleDetail } from '../../../server/cycles/view.js';
import type { MessageView, NotificationView } from '../../../server/notify/queries.js';
import type { ReceiverView } from '../../../server/notify/routing.js';
import type { MembershipItem } from '../../../server/store/queries/identities.js';
import type { OperationView } from '../../../server/store/queries/operations.js';

export type { UnrecognisedReport } from '../../../server/store/queries/unrecognised.js';

export type StatusState = OverallState;

/** A cycle as /api/cycles lists it and /api/status shows it (server/cycles/view.ts). */
export type Cycle = CycleView;
/** One cycle with its counts by operation and error (/api/cycles/:id). */
export type CycleDetail = ReturnType<typeof toCycleDetail>;
export type CycleProgress = NonNullable<Cycle['progress']>;

/** GET /api/status (server/api/routes/status.ts). */
export interface Status {
  state: StatusState;
  reason: string;
  basis: 'incidents' | 'cycles';
  now: string;
  running: boolean;
  /** the running cycle, else the newest one */
  cycle: Cycle | null;
  lastScheduledCycle: Cycle | null;
  nextExpectedCycleAt: string | null;
  failingIdentities: number;
  stuckIdentities: number;
  /** firing incidents, when the incident engine is wired in */
  incidents: Incident[];
  inferred: boolean;
}

export type Identity = IdentityView;

/** GET /api/identities/:id (server/api/routes/identities.ts). */
export interface IdentityDetail {
  identity: Identity;
  memberships: {
    role: 'members' | 'groups';
    items: (Omit<MembershipItem, 'since'> & { since: string })[];
    total: number;
  };
  timeline: { items: OperationView[]; nextCursor: string | null };
}

/** An incident as /api/incidents shows it (server/alerts/views.ts), with its emails. */
export type Incident = IncidentView;
export type Notification = NotificationView;
/** GET /api/notifications/:id/message: what the receiver gets (server/notify/queries.ts). */
export type Message = MessageView;
export type { ReceiverView };
export type Silence = ReturnType<typeof toSilenceView>;
