import { randomUUID } from 'node:crypto';
import type { EvaluationStore, QueuedEmail, QueuedMessage } from '../../../alerts/ports.js';
import type { Incident, NotifyEvent, SentNotification, Silence } from '../../../alerts/types.js';
import { toIncidentRow } from '../../queries/incidents.js';
import { emailMessageId } from '../../queries/outbox.js';
import type { outbox } from '../../schema-pg/index.js';

// The store one PostgreSQL evaluation runs the unchanged synchronous code over (alerts/evaluation.ts): what it
// reads was fetched beforehand (prefetch.ts), what it writes is kept for one fenced write-back (write-back.ts).
// Like derivation's workspace (pg/derive/workspace.ts), it is sound because only the lease holder evaluates:
// nothing else inserts, updates or deletes incidents (but for acknowledgements, which the write-back leaves
// alone) or queues their decisions while it does. A read it cannot answer throws: the evaluation fails, nothing
// is written, and the next one reads everything again.

export type IncidentRow = ReturnType<typeof toIncidentRow> & { id: number };
export type OutboxInsert = typeof outbox.$inferInsert;

/** What an evaluation reads, fetched before it runs. */
export interface Prefetched {
  silences: Silence[];
  /** the open incidents' last notification decisions (absent: none) */
  lastSent: Map<number, SentNotification>;
  /** the highest sequence queued per `${incidentId}:${event}` of the open incidents */
  maxSequence: Map<string, number>;
  /** the open incidents' ids: the incidents this workspace can answer for (new ones aside) */
  known: Set<number>;
  /** ids reserved from the incidents' sequence, handed out to new incidents in order */
  ids: number[];
  /** who was told that an incident fired: only acknowledgements ask (acknowledge.ts) */
  wasTold?: (receiver: string, incidentId: number | null) => boolean;
}

/** The writes of one evaluation, each row as it was when written (the incidents in memory change after). */
export interface Writes {
  deletes: number[];
  inserts: IncidentRow[];
  updates: IncidentRow[];
  outbox: OutboxInsert[];
}

/** More new incidents than ids reserved: the evaluation is run again with more. */
export class OutOfIdsError extends Error {
  constructor(readonly used: number) {
    super(`alerts workspace: more than ${used} new incidents in one evaluation`);
    this.name = 'OutOfIdsError';
  }
}

export function createEvaluationWorkspace(p: Prefetched) {
  const writes: Writes = { deletes: [], inserts: [], updates: [], outbox: [] };
  const known = new Set(p.known);
  const lastSent = new Map(p.lastSent);
  const maxSequence = new Map(p.maxSequence);
  /** (receiver, incident, event, sequence) of the rows queued here: the outbox's unique key */
  const queuedKeys = new Set<string>();
  let used = 0;

  const answerable = (id: number, what: string) => {
    if (!known.has(id))
      throw new Error(`alerts workspace: ${what} of incident ${id}, which was not prefetched`);
  };

  /** One outbox row, unless its unique key was queued already; the row's position here stands for its id. */
  function queue(row: OutboxInsert): number | null {
    const key = `${row.receiver}\n${row.incidentId}\n${row.event}\n${row.sequence}`;
    if (queuedKeys.has(key)) return null;
    queuedKeys.add(key);
    writes.outbox.push(row);
    if (row.incidentId !== null && row.incidentId !== undefined) {
      // What SQLite would read back inside its transaction: the row just queued is the newest.
      const k = `${row.incidentId}:${row.event}`;
      maxSequence.set(k, Math.max(maxSequence.get(k) ?? 0, row.sequence));
      if (row.event !== 'acknowledged') {
        lastSent.set(row.incidentId, {
          event: row.event as NotifyEvent,
          reasonKey: row.reasonKey ?? null,
          createdAt: row.createdAt,
        });
      }
    }
    return writes.outbox.length;
  }

  const store: EvaluationStore = {
    activeSilences: (now) => p.silences.filter((s) => s.endedAt === null && s.expiresAt > now),
    lastSent(id) {
      answerable(id, 'lastSent');
      return lastSent.get(id) ?? null;
    },
    nextSequence(id, event) {
      answerable(id, 'nextSequence');
      return (maxSequence.get(`${id}:${event}`) ?? 0) + 1;
    },
    insertIncident(i: Incident): number {
      const id = p.ids[used];
      if (id === undefined) throw new OutOfIdsError(used);
      used++;
      // A fresh id from the sequence: no outbox row names it yet.
      known.add(id);
      writes.inserts.push({ ...toIncidentRow(i), id });
      return id;
    },
    updateIncident(i: Incident): void {
      if (i.id === null) throw new Error('updateIncident: not stored yet');
      writes.updates.push({ ...toIncidentRow(i), id: i.id });
    },
    deleteIncident: (id) => void writes.deletes.push(id),
    queueEmail: (e: QueuedEmail) => queue(emailRow(e)),
    queueMessage: (m: QueuedMessage) => queue(messageRow(m)),
    receiverWasTold(receiver, incidentId) {
      if (!p.wasTold) throw new Error('alerts workspace: receiverWasTold was not prefetched');
      return p.wasTold(receiver, incidentId);
    },
  };

  return {
    store,
    writes: () => writes,
    /** how many reserved ids new incidents took */
    usedIds: () => used,
  };
}

/** The row queries/outbox.ts queueEmail inserts. */
function emailRow(e: QueuedEmail): OutboxInsert {
  return {
    receiver: 'email',
    incidentId: e.incidentId,
    event: e.event,
    sequence: e.sequence,
    reasonKey: e.reasonKey,
    createdAt: e.now,
    recipients: e.recipients.join(','),
    subject: e.subject,
    text: e.text,
    html: e.html,
    state: 'unsent',
    attempts: 0,
    nextAttemptAt: e.now,
    messageId: emailMessageId(e.from),
  };
}

/** The row queries/outbox.ts queueMessage inserts. */
function messageRow(m: QueuedMessage): OutboxInsert {
  return {
    receiver: m.receiver,
    incidentId: m.incidentId,
    event: m.event,
    sequence: m.sequence,
    reasonKey: m.reasonKey,
    createdAt: m.now,
    recipients: m.target,
    subject: m.subject,
    text: m.body,
    html: '',
    state: 'unsent',
    attempts: 0,
    nextAttemptAt: m.now,
    messageId: randomUUID(),
  };
}
