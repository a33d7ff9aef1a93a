import { Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../../store/db.js';
import { parseInput } from '../errors.js';

const querySchema = z
  .object({
    /** how far back, in hours */
    hours: z.coerce
      .number()
      .positive()
      .max(24 * 90)
      .default(24),
    /** recent requests listed */
    limit: z.coerce.number().int().min(0).max(1000).default(50),
  })
  .strict();

/** rows read at most per call: a scanner's flood costs the dashboard no more than this */
const scanCap = 20_000;

export interface UnrecognisedRequest {
  id: number;
  /** the operation's time (the CSV's and /api/operations' name, store/vocabulary.ts) */
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

/**
 * GET /api/unrecognised?hours&limit: requests from outside the provisioning client (server/cycles/clients.ts),
 * kept apart from cycles and outcomes: how many, from where, for what. Reads the partial index of these rows,
 * newest first, so the provisioning log around them is never scanned.
 */
export function unrecognisedRoutes({ db, clock = Date.now }: { db: Db; clock?: () => number }) {
  const stmt = db.$client.prepare<
    [number, number],
    Omit<UnrecognisedRequest, 'activityDateTime'> & { time: number; reason: string | null }
  >(
    `select id, time, client_ip as clientIp, http_method as httpMethod, path, http_status as httpStatus,
        error_code as errorCode, token_fingerprint as tokenFingerprint, user_agent as userAgent, reason
       from operations indexed by operations_unrecognised_idx
      where client_kind = 'unrecognised' and time >= ?
      order by id desc limit ?`,
  );
  return new Hono().get('/', (c) => {
    const q = parseInput(querySchema, c.req.query());
    const from = clock() - q.hours * 3_600_000;
    const rows = stmt.all(from, scanCap);
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
    const body: UnrecognisedReport = {
      from: new Date(from).toISOString(),
      count: rows.length,
      capped: rows.length >= scanCap,
      lastSeen: rows[0] ? new Date(rows[0].time).toISOString() : null,
      addresses: top('clientIp'),
      paths: top('path'),
      refused: rows.filter((r) => r.reason?.includes('SCIMTAP_TRUSTED_CLIENTS')).length,
      recent: rows
        .slice(0, q.limit)
        .map(({ reason: _r, time, ...r }) => ({ ...r, activityDateTime: new Date(time).toISOString() })),
    };
    return c.json(body);
  });
}
