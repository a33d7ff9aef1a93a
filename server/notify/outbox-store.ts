import type { DueRow } from '../store/queries/outbox.js';

// What the delivery loop (outbox.ts) asks of the store, on SQLite (store/queries/outbox.ts `sqliteOutboxStore`)
// and on PostgreSQL (store/pg/outbox.ts `pgOutboxStore`), where every replica may run the loop at once.

export type { DueRow };

export interface ClaimRequest {
  receiver: string;
  /** read when a claim is made and when a claimed row is handed out (its attempt starts then) */
  clock: () => number;
  /** a claimed row whose sender died is due again this long after its claim (same Message-ID) */
  sendingTimeoutMs: number;
  /** emails queued without recipients can go to configured ones; false: they wait, with the reason on them */
  fallbackRecipients: boolean;
}

/**
 * One step of a claim: a row this caller now holds (`sending`, `attempts` counted; the row's `attempts` is the
 * count before) to send and then mark, or a reminder superseded instead of sent because a newer message about
 * its incident is queued behind it (it says nothing new).
 */
export type Claimed =
  | { kind: 'claimed'; row: DueRow; startedAt: number }
  | { kind: 'superseded'; row: DueRow };

/** One send attempt, as `delivery_attempts` logs it. */
export interface Attempt {
  startedAt: number;
  durationMs: number;
  responseCode: number | null;
}

export interface OutboxStore {
  /**
   * The receiver's due rows, oldest first, each incident's one at a time, claimed as the caller takes them: a
   * caller that stops iterating (close) leaves none of the rows it did not take claimed. Rows another sender
   * holds are skipped. Ends when this pass has nothing more; the loop asks again while a pass did something.
   * Emails without recipients (and no fallback) are not claimed: they get the reason, once, and wait.
   */
  claimDue(request: ClaimRequest): AsyncIterable<Claimed>;
  /** the Message-ID of the incident's first email before `beforeId`, which later ones reply to */
  thread(incidentId: number, beforeId: number): Promise<string | null>;
  /** the last message each firing incident got on this receiver, unless it said "resolved" */
  stillFiring(receiver: string): Promise<string[]>;
  /** rows of receivers no longer configured get the reason on them, once */
  orphans(configured: string[]): Promise<void>;
  /**
   * Delivered: logs the attempt and marks the row `sent`, in one transaction. `recipients`: an email's, as
   * sent (null for other receivers). False when the row was no longer this caller's claim (PostgreSQL: its
   * claim timed out and another sender took it); the attempt is logged anyway.
   */
  sent(
    row: DueRow,
    attempt: Attempt & { at: number; response: string | null; recipients: string | null },
  ): Promise<boolean>;
  /** Not delivered, worth retrying: logs the attempt, the row waits until `nextAttemptAt`. */
  retry(row: DueRow, attempt: Attempt & { error: string; nextAttemptAt: number }): Promise<boolean>;
  /** Rejected for good: logs the attempt, the row is `failed`. */
  fail(row: DueRow, attempt: Attempt & { error: string }): Promise<boolean>;
}
