import { and, desc, gte, sql } from 'drizzle-orm';
import {
  type UnrecognisedReport,
  type UnrecognisedRow,
  unrecognisedReport,
  unrecognisedScanCap,
} from '../../queries/unrecognised.js';
import { operations } from '../../schema-pg/index.js';
import type { PgDb } from '../db.js';

/**
 * The PostgreSQL twin of queries/unrecognised.ts: requests from outside the provisioning client since `from`,
 * newest first through the partial index on these rows (the kind a literal, so the planner matches the
 * index's predicate; SQLite needed `indexed by`), then the same report over them.
 */
export function createUnrecognisedQuery(db: PgDb) {
  return async (from: number, limit: number): Promise<UnrecognisedReport> => {
    const rows: UnrecognisedRow[] = await db
      .select({
        id: operations.id,
        time: operations.time,
        clientIp: operations.clientIp,
        httpMethod: operations.httpMethod,
        path: operations.path,
        httpStatus: operations.httpStatus,
        errorCode: operations.errorCode,
        tokenFingerprint: operations.tokenFingerprint,
        userAgent: operations.userAgent,
        reason: operations.reason,
      })
      .from(operations)
      // `from` may have a fraction (?hours=0.123...): bigint takes no fraction, and over whole ms
      // `time >= ceil(from)` keeps exactly the rows `time >= from` keeps in SQLite.
      .where(and(sql`${operations.clientKind} = 'unrecognised'`, gte(operations.time, Math.ceil(from))))
      .orderBy(desc(operations.id))
      .limit(unrecognisedScanCap);
    return unrecognisedReport(from, limit, rows);
  };
}
