import type { DueRow } from '../queries/outbox.js';
import type { Pool } from './pool.js';

// Claiming outbox rows on PostgreSQL, where more than one process may run the delivery loop (a leader that has
// just lost its lease may still be finishing a send while the next one starts).
//
// A claim is one statement: pick due rows FOR UPDATE SKIP LOCKED and mark them `sending` with a deadline. Two
// senders never take the same row: the second skips rows the first has locked, and once the first commits the
// row is no longer due (PostgreSQL re-checks the condition on the row's new version before locking it).
//
// Which way we err: at least once. The claim commits before the SMTP conversation; a sender that dies after
// the server's answer but before `markSent` commits leaves the row `sending`, and it is sent again once
// `sendingTimeoutMs` has passed, with the same Message-ID (X-Scimtap-Delivery for webhooks), so mail clients
// and receivers can recognise the repeat. Marking it sent first would risk a firing alert nobody ever gets,
// which is worse for this tool than a duplicate.

export interface ClaimOptions {
  receiver: string;
  now: number;
  /** when a claimed row whose sender died becomes due again */
  sendingTimeoutMs: number;
  limit?: number;
}

/**
 * Claims up to `limit` due rows of one receiver, oldest first; each incident's rows one at a time, in order.
 * `attempts` is the count before this claim, as in DueRow. Under contention a claim may come back short or
 * empty (rows another sender took between our snapshot and our lock are dropped, not replaced): the delivery
 * loop simply claims again at its next run.
 */
export async function claimDue(
  pool: Pool,
  { receiver, now, sendingTimeoutMs, limit = 20 }: ClaimOptions,
): Promise<DueRow[]> {
  const { rows } = await pool.query<DueRow & { id: string; incidentId: string | null }>(
    `with picked as (
       select id from outbox o
       where receiver = $1 and state in ('unsent', 'sending') and next_attempt_at <= $2
         and (incident_id is null or not exists (select 1 from outbox p where p.incident_id = o.incident_id
           and p.receiver = o.receiver and p.id < o.id and p.state in ('unsent', 'sending')))
       order by id limit $4
       for update skip locked)
     update outbox set state = 'sending', attempts = attempts + 1, last_attempt_at = $2, next_attempt_at = $3
     from picked where outbox.id = picked.id
     returning outbox.id, receiver, incident_id as "incidentId", event, recipients, subject, text, html,
       attempts - 1 as attempts, message_id as "messageId"`,
    [receiver, now, now + sendingTimeoutMs, limit],
  );
  return rows
    .map((r) => ({ ...r, id: Number(r.id), incidentId: r.incidentId === null ? null : Number(r.incidentId) }))
    .sort((a, b) => a.id - b.id);
}

/** The server accepted it: the row is done (only its claimer, still `sending`, may mark it). */
export async function markSent(
  pool: Pool,
  id: number,
  { at, response, recipients }: { at: number; response: string | null; recipients?: string },
): Promise<boolean> {
  const r = await pool.query(
    `update outbox set state = 'sent', sent_at = $2, response = $3, last_error = null,
       recipients = coalesce($4, recipients) where id = $1 and state = 'sending'`,
    [id, at, response, recipients ?? null],
  );
  return r.rowCount === 1;
}
