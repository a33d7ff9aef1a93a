import type { Db } from '../store/db.js';
import {
  activeSilences,
  deleteIncident,
  insertIncident,
  lastSent,
  nextSequence,
  updateIncident,
} from '../store/queries/incidents.js';
import { receiverWasTold } from '../store/queries/notifications.js';
import { type QueuedEmail, type QueuedMessage, queueEmail, queueMessage } from '../store/queries/outbox.js';
import type { Incident, NotifyEvent, SentNotification, Silence } from './types.js';

export type { QueuedEmail, QueuedMessage };

/**
 * Everything one evaluation (evaluation.ts, open-incidents.ts, notify/routing.ts) reads and writes, synchronously.
 * SQLite answers it inside the evaluation's transaction; PostgreSQL (store/pg/alerts/) answers it from rows
 * fetched beforehand and buffers the writes for one fenced transaction, so the deciding code is the same on both.
 */
export interface EvaluationStore {
  activeSilences(now: number): Silence[];
  /** the last notification decision queued for an incident (acknowledgements and superseded rows aside) */
  lastSent(incidentId: number): SentNotification | null;
  /** the sequence the next row of this (incident, event) gets */
  nextSequence(incidentId: number, event: NotifyEvent): number;
  /** stores a new incident; returns its id */
  insertIncident(i: Incident): number;
  updateIncident(i: Incident): void;
  deleteIncident(id: number): void;
  /** null when the same (receiver, incident, event, sequence) is already queued */
  queueEmail(e: QueuedEmail): number | null;
  queueMessage(m: QueuedMessage): number | null;
  /** whether a receiver was told that an incident fired (first, reasonChanged or reminder) */
  receiverWasTold(receiver: string, incidentId: number | null): boolean;
}

/** The evaluation's store on SQLite: each method one statement (call it inside the evaluation's transaction). */
export function sqliteEvaluationStore(db: Db): EvaluationStore {
  let wasTold: ReturnType<typeof receiverWasTold> | undefined;
  return {
    activeSilences: (now) => activeSilences(db, now),
    lastSent: (id) => lastSent(db, id),
    nextSequence: (id, event) => nextSequence(db, id, event),
    insertIncident: (i) => insertIncident(db, i),
    updateIncident: (i) => updateIncident(db, i),
    deleteIncident: (id) => deleteIncident(db, id),
    queueEmail: (e) => queueEmail(db, e),
    queueMessage: (m) => queueMessage(db, m),
    receiverWasTold(receiver, incidentId) {
      // Prepared on first use: most evaluations never ask.
      wasTold ??= receiverWasTold(db);
      return wasTold(receiver, incidentId);
    },
  };
}
