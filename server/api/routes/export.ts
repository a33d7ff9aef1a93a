import { Hono } from 'hono';
import type { AdminStore } from '../../store/admin-store.js';
import { exportFilename } from '../../store/queries/export.js';
import { operationFilterSchema } from '../../store/queries/operations.js';
import { parseInput } from '../errors.js';

export interface ExportDeps {
  store: AdminStore;
  /** SCIMTAP_APP_NAME, slugged into the file name */
  appName?: string;
  /** the app's id: the CSV's first column */
  appId?: string;
  clock?: () => number;
}

/** GET /api/export.csv (ARCHITECTURE §9): the provisioning log, same filters as /api/operations, streamed. */
export function exportRoutes({ store, appName = 'SCIM app', appId, clock = Date.now }: ExportDeps) {
  return new Hono().get('/', (c) => {
    const filter = parseInput(operationFilterSchema, c.req.query());
    const chunks = store.exportCsv(filter, { app: appId });
    const encoder = new TextEncoder();
    let cancelled = false;
    // Pulled, never pushed: the next slice is read only when the client has taken the last one (backpressure).
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          if (cancelled) return;
          try {
            // The store lets the event loop turn before each slice (SQLite reads synchronously).
            const next = await chunks.next();
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
          void chunks.return(undefined);
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
