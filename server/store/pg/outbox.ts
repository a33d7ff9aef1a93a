import type { Claimed, ClaimRequest, OutboxStore } from '../../notify/outbox-store.js';
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

/** Row `o` of receiver $1 is due at $2: the oldest unsent (or timed-out) message of its incident. */
const due = `o.receiver = $1 and o.state in ('unsent', 'sending') and o.next_attempt_at <= $2
         and (o.incident_id is null or not exists (select 1 from outbox p where p.incident_id = o.incident_id
           and p.receiver = o.receiver and p.id < o.id and p.state in ('unsent', 'sending')))`;

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
       where ${due}
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

export interface PgOutboxStoreOptions {
  /**
   * Rows claimed per statement. Few: a process stopped mid-batch leaves its claimed rows `sending` until
   * `sendingTimeoutMs` (a loop that closes hands back the ones it has not sent).
   */
  claimBatch?: number;
}

type ClaimedRow = DueRow & { kind: Claimed['kind']; prevNext: number; prevLast: number | null };

/**
 * One claim statement: the receiver's due rows, locked FOR UPDATE SKIP LOCKED, then, as SQLite's loop decides
 * row by row, (1) a reminder that a newer message about its incident follows is superseded, (2) an email
 * without recipients, with none to fall back to, is left alone (`noRecipients` marks it), (3) the others are
 * claimed as `claimDue` claims. The previous next/last attempt times come back so that a claim not sent can be
 * handed back as it was.
 */
const claimSql = `with picked as (
    select o.id, o.event, o.incident_id, o.recipients, o.next_attempt_at as prev_next,
      o.last_attempt_at as prev_last
    from outbox o
    where ${due} and ($5 or o.receiver <> 'email' or o.recipients <> '' or o.event = 'reminder')
    order by o.id limit $4
    for update skip locked),
  stale as (
    select k.id from picked k where k.event = 'reminder' and k.incident_id is not null
      and exists (select 1 from outbox n where n.incident_id = k.incident_id and n.receiver = $1
        and n.id > k.id and n.state <> 'superseded')),
  superseded as (
    update outbox set state = 'superseded' from stale where outbox.id = stale.id
    returning outbox.*, 'superseded' as kind, 0::bigint as prev_next, null::bigint as prev_last),
  claimed as (
    update outbox set state = 'sending', attempts = attempts + 1, last_attempt_at = $2, next_attempt_at = $3
    from picked where outbox.id = picked.id and picked.id not in (select id from stale)
      and ($5 or $1 <> 'email' or picked.recipients <> '')
    returning outbox.*, 'claimed' as kind, picked.prev_next, picked.prev_last)
  select id, receiver, incident_id as "incidentId", event, recipients, subject, text, html,
    case when kind = 'claimed' then attempts - 1 else attempts end as attempts, message_id as "messageId", kind,
    prev_next as "prevNext", prev_last as "prevLast"
  from (select * from superseded union all select * from claimed) c order by id`;

const num = (v: unknown) => (v === null ? null : Number(v));

async function claimStep(pool: Pool, r: ClaimRequest, now: number, limit: number): Promise<ClaimedRow[]> {
  const { rows } = await pool.query<Record<string, unknown>>(claimSql, [
    r.receiver,
    now,
    now + r.sendingTimeoutMs,
    limit,
    r.fallbackRecipients,
  ]);
  return rows.map((row) => ({
    ...(row as unknown as ClaimedRow),
    id: Number(row.id),
    incidentId: num(row.incidentId),
    prevNext: Number(row.prevNext),
    prevLast: num(row.prevLast),
  }));
}

/**
 * Sets the row's state, if the caller's claim is still the row's (`sending`, the attempt count it claimed), and
 * logs the attempt, in one statement: atomic without a transaction.
 */
async function finish(
  pool: Pool,
  row: DueRow,
  set: string,
  params: unknown[],
  a: { startedAt: number; durationMs: number; ok: boolean; retryable: boolean | null },
  log: { error: string | null; responseCode: number | null; response: string | null },
): Promise<boolean> {
  const n = params.length;
  const { rows } = await pool.query(
    `with marked as (update outbox set ${set} where id = $${n + 1} and state = 'sending' and attempts = $${n + 2}
       returning 1),
     logged as (insert into delivery_attempts (outbox_id, at, duration_ms, ok, retryable, error, response_code,
       response) values ($${n + 1}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7}, $${n + 8}, $${n + 9}))
     select count(*)::int as n from marked`,
    [
      ...params,
      row.id,
      row.attempts + 1,
      a.startedAt,
      a.durationMs,
      a.ok,
      a.retryable,
      log.error,
      log.responseCode,
      log.response,
    ],
  );
  return rows[0].n === 1;
}

/**
 * The delivery loop's store on PostgreSQL, where every replica may run the loop: a row is claimed by one
 * statement (FOR UPDATE SKIP LOCKED), a few at a time, and only its claimer, while its claim holds (still
 * `sending`, same attempt count), may mark it sent, retried or failed: a sender whose claim timed out and was
 * taken over cannot undo the new claimer's work. The attempt is logged either way (it happened).
 */
export function pgOutboxStore(pool: Pool, { claimBatch = 3 }: PgOutboxStoreOptions = {}): OutboxStore {
  return {
    claimDue: (request) => claimRows(pool, request, claimBatch),
    async thread(incidentId, beforeId) {
      const { rows } = await pool.query(
        `select message_id from outbox where incident_id = $1 and receiver = 'email' and id < $2
         order by id limit 1`,
        [incidentId, beforeId],
      );
      return (rows[0]?.message_id as string | undefined) ?? null;
    },
    async stillFiring(receiver) {
      const { rows } = await pool.query(
        `select o.text from outbox o join incidents i on i.id = o.incident_id
         where o.receiver = $1 and i.state = 'firing' and o.event <> 'resolved'
           and o.id = (select max(p.id) from outbox p where p.receiver = o.receiver
             and p.incident_id = o.incident_id and p.state = 'sent')
         order by o.incident_id limit 500`,
        [receiver],
      );
      return rows.map((r) => r.text as string);
    },
    async orphans(configured) {
      await pool.query(
        `update outbox set last_error = 'receiver "' || receiver || '" is not configured'
         where state = 'unsent' and receiver <> 'email' and last_error is null and receiver <> all($1::text[])`,
        [configured],
      );
    },
    sent: (row, a) =>
      finish(
        pool,
        row,
        `state = 'sent', sent_at = $1, response = $2, last_error = null, recipients = coalesce($3, recipients)`,
        [a.at, a.response, a.recipients],
        { ...a, ok: true, retryable: null },
        { error: null, responseCode: a.responseCode, response: a.response },
      ),
    retry: (row, a) =>
      finish(
        pool,
        row,
        `state = 'unsent', next_attempt_at = $1, last_error = $2`,
        [a.nextAttemptAt, a.error],
        { ...a, ok: false, retryable: true },
        { error: a.error, responseCode: a.responseCode, response: null },
      ),
    fail: (row, a) =>
      finish(
        pool,
        row,
        `state = 'failed', last_error = $1, response = null`,
        [a.error],
        { ...a, ok: false, retryable: false },
        { error: a.error, responseCode: a.responseCode, response: null },
      ),
  };
}

/**
 * Claims `batch` rows at a time and hands them out one by one, until a claim finds nothing. Rows claimed but not
 * handed out when the caller stops (the loop closing, or an error) are handed back as they were.
 */
async function* claimRows(pool: Pool, request: ClaimRequest, batch: number): AsyncGenerator<Claimed> {
  let pending: ClaimedRow[] = [];
  try {
    for (;;) {
      const now = request.clock();
      if (request.receiver === 'email' && !request.fallbackRecipients) await noRecipients(pool, now);
      pending = await claimStep(pool, request, now, batch);
      if (pending.length === 0) return;
      while (pending.length > 0) {
        const { kind, prevNext: _n, prevLast: _l, ...row } = pending.shift() as ClaimedRow;
        // The attempt starts now: the batch's earlier rows may have taken a while.
        yield kind === 'claimed' ? { kind, row, startedAt: request.clock() } : { kind, row };
      }
    }
  } finally {
    await release(pool, pending);
  }
}

/** Emails without recipients, with none configured to fall back to: the reason goes on them, once. */
async function noRecipients(pool: Pool, now: number): Promise<void> {
  await pool.query(
    `update outbox o set last_error = 'no recipients: set SCIMTAP_NOTIFY_TO'
     where ${due} and o.recipients = '' and o.last_error is null`,
    ['email', now],
  );
}

/** Hands claimed rows back untouched: as they were before the claim, if still this claim's. */
async function release(pool: Pool, rows: ClaimedRow[]): Promise<void> {
  const claimed = rows.filter((r) => r.kind === 'claimed');
  if (claimed.length === 0) return;
  await pool.query(
    `update outbox o set state = 'unsent', attempts = o.attempts - 1, next_attempt_at = r.prev_next,
       last_attempt_at = r.prev_last
     from json_to_recordset($1::json) as r(id bigint, attempts int, prev_next bigint, prev_last bigint)
     where o.id = r.id and o.state = 'sending' and o.attempts = r.attempts + 1`,
    [
      JSON.stringify(
        claimed.map((r) => ({
          id: r.id,
          attempts: r.attempts,
          prev_next: r.prevNext,
          prev_last: r.prevLast,
        })),
      ),
    ],
  );
}
