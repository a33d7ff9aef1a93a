import type { Db } from '../db.js';

/** rows read at most per call: a scanner's flood costs the dashboard no more than this */
export const unrecognisedScanCap = 20_000;

export interface UnrecognisedRequest {
  id: number;
  /** the operation's time (the CSV's and /api/operations' name, server/vocabulary.ts) */
  activityDateTime: string;
  clientIp: string | null;
  httpMethod: string;
  path: string;
  httpStatus: number | null;
  errorCode: string | null;
  tokenFingerprint: string | null;
  userAgent: string | null;
}

export interface UnrecognisedReport {
  from: string;
  /** requests in the window (`capped`: at least this many) */
  count: number;
  capped: boolean;
  lastSeen: string | null;
  /** most requests first (≤ 20 each) */
  addresses: { value: string; count: number }[];
  paths: { value: string; count: number }[];
  /** of them, requests scimtap refused itself (SCIMTAP_TRUSTED_CLIENTS) */
  refused: number;
  recent: UnrecognisedRequest[];
}

/** A row as read from `operations`, before the report. */
export type UnrecognisedRow = Omit<UnrecognisedRequest, 'activityDateTime'> & {
  time: number;
  reason: string | null;
};

/**
 * Requests from outside the provisioning client (server/cycles/clients.ts) since `from`: how many, from where,
 * for what, and the `limit` most recent. Reads the partial index of these rows, newest first, so the
 * provisioning log around them is never scanned. Prepared once: call the returned function per request.
 */
export function createUnrecognisedQuery(db: Db) {
  const stmt = db.$client.prepare<[number, number], UnrecognisedRow>(
    `select id, time, client_ip as clientIp, http_method as httpMethod, path, http_status as httpStatus,
        error_code as errorCode, token_fingerprint as tokenFingerprint, user_agent as userAgent, reason
       from operations indexed by operations_unrecognised_idx
      where client_kind = 'unrecognised' and time >= ?
      order by id desc limit ?`,
  );
  return (from: number, limit: number): UnrecognisedReport =>
    unrecognisedReport(from, limit, stmt.all(from, unrecognisedScanCap));
}

/** The report over the rows read (newest first, at most `unrecognisedScanCap`); shared with the pg twin. */
export function unrecognisedReport(from: number, limit: number, rows: UnrecognisedRow[]): UnrecognisedReport {
  const top = (key: 'clientIp' | 'path') => {
    const counts = new Map<string, number>();
    for (const r of rows) {
      const v = r[key] ?? 'unknown';
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    return [...counts]
      .map(([value, count]) => ({ value, count }))
      .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value))
      .slice(0, 20);
  };
  return {
    from: new Date(from).toISOString(),
    count: rows.length,
    capped: rows.length >= unrecognisedScanCap,
    lastSeen: rows[0] ? new Date(rows[0].time).toISOString() : null,
    addresses: top('clientIp'),
    paths: top('path'),
    refused: rows.filter((r) => r.reason?.includes('SCIMTAP_TRUSTED_CLIENTS')).length,
    recent: rows
      .slice(0, limit)
      .map(({ reason: _r, time, ...r }) => ({ ...r, activityDateTime: new Date(time).toISOString() })),
  };
}
