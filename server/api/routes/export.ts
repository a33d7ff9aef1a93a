import { Hono } from 'hono';
import type { Db } from '../../store/db.js';
import { exportCsv, exportFilename } from '../../store/queries/export.js';
import { operationFilterSchema } from '../../store/queries/operations.js';
import { parseInput } from '../errors.js';

export interface ExportDeps {
  db: Db;
  /** SCIMTAP_APP_NAME, slugged into the file name */
  appName?: string;
  /** the app's id: the CSV's first column */
  appId?: string;
  clock?: () => number;
}

/** GET /api/export.csv (ARCHITECTURE §9): the provisioning log, same filters as /api/operations, streamed. */
export function exportRoutes({ db, appName = 'SCIM app', appId, clock = Date.now }: ExportDeps) {
  return new Hono().get('/', (c) => {
    const filter = parseInput(operationFilterSchema, c.req.query());
    const chunks = exportCsv(db, filter, { app: appId });
    const encoder = new TextEncoder();
    let cancelled = false;
    // Pulled, never pushed: the next slice is read only when the client has taken the last one (backpressure).
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          // Each slice is a few ms of synchronous work: let the proxy and the recorder run between slices.
          await new Promise((resolve) => setImmediate(resolve));
          if (cancelled) return;
          try {
            const next = chunks.next();
            if (next.done) controller.close();
            else controller.enqueue(encoder.encode(next.value));
          } catch (err) {
            // Headers are gone: failing the stream makes the client see a broken download, not a short file.
            console.error('export.csv failed', err);
            controller.error(err);
          }
        },
        // The client went away: no more reads.
        cancel() {
          cancelled = true;
          chunks.return(undefined);
        },
      },
      { highWaterMark: 0 },
    );
    return c.body(body, 200, {
      'content-type': 'text/csv; charset=utf-8; header=present',
      'content-disposition': `attachment; filename="${exportFilename(appName, filter, clock())}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
  });
}
