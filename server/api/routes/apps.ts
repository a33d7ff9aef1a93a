import { Hono } from 'hono';
import type { hc, InferResponseType } from 'hono/client';
import type { OverallState } from '../../cycles/health.js';
import type { AdminApi } from '../index.js';

// GET /api/apps (issue 14): one summary per app, riskiest first: the fleet page's rows. Each summary is read
// from the app's own API (its /status and /cycles), so the fleet page says exactly what the app's pages say.

/** An app as the admin listener serves it: its id, name and Tenant URL path, and its own /api routes. */
export interface AppApi {
  id: string;
  name: string;
  /** where Entra's Tenant URL points on the proxy listener: '/' for the single app, '/<id>/' */
  tenantPath: string;
  api: AdminApi;
}

/** How many cycles the sparkline shows. */
const SPARKLINE_CYCLES = 20;

// Worst first, as the overall state ranks them (cycles/health.ts), with idle (no cycle yet) last.
const stateRank: Record<OverallState, number> = {
  quarantineSuspected: 5,
  stalled: 4,
  atRisk: 3,
  degraded: 2,
  healthy: 1,
  idle: 0,
};

// The answers this reads, from the app API's own route types: a changed /status is a type error here too.
type Client = ReturnType<typeof hc<AdminApi>>;
type Status = InferResponseType<Client['status']['$get'], 200>;
type CyclePage = InferResponseType<Client['cycles']['$get'], 200>;

async function json<T>(api: AdminApi, path: string): Promise<T> {
  const res = await api.request(path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

/** One app's row: its state and why, its newest cycle, when the next is due, what fires, failures per cycle. */
async function summarize(app: AppApi) {
  const [status, cycles] = await Promise.all([
    json<Status>(app.api, '/status'),
    json<CyclePage>(app.api, `/cycles?limit=${SPARKLINE_CYCLES}`),
  ]);
  const last = status.cycle;
  return {
    id: app.id,
    name: app.name,
    tenantPath: app.tenantPath,
    state: status.state,
    reason: status.reason,
    lastCycle: last
      ? {
          id: last.id,
          kind: last.kind,
          state: last.state,
          startedAt: last.startedAt,
          endedAt: last.endedAt,
          total: last.total,
          failures: last.failures,
          failureRate: last.failureRate,
          risk: last.risk,
        }
      : null,
    nextExpectedCycleAt: status.nextExpectedCycleAt,
    firingIncidents: status.incidents.map((i) => ({
      id: i.id,
      rule: i.rule,
      severity: i.severity,
      summary: i.summary,
    })),
    /** oldest first, at most SPARKLINE_CYCLES */
    failuresPerCycle: cycles.items
      .map((c) => ({ cycleId: c.id, failures: c.failures, total: c.total, risk: c.risk }))
      .reverse(),
  };
}

export type AppSummary = Awaited<ReturnType<typeof summarize>>;

/** Riskiest first: the worse state, then the larger failure share of the newest cycle, then the name. Pure. */
function byRisk(a: AppSummary, b: AppSummary): number {
  return (
    stateRank[b.state] - stateRank[a.state] ||
    (b.lastCycle?.failureRate ?? 0) - (a.lastCycle?.failureRate ?? 0) ||
    a.name.localeCompare(b.name)
  );
}

/** Every app's summary, in the order of `apps`. */
async function summarizeAll(apps: AppApi[]): Promise<AppSummary[]> {
  const summaries: AppSummary[] = [];
  for (const app of apps) {
    summaries.push(await summarize(app));
    // Each summary is a few ms of synchronous SQLite reads; 50 in one go would hold the event loop for
    // ~150 ms, and the dashboard asks for this list while its scripts download from this same listener.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return summaries;
}

export function appsRoutes(apps: () => AppApi[]) {
  return new Hono().get('/', async (c) => {
    const summaries = await summarizeAll(apps());
    return c.json({ apps: summaries.sort(byRisk) });
  });
}

/**
 * Reads every app's summary once, for nothing: the first GET /api/apps would otherwise pay each app's one-time
 * costs (its API's router built, its statements prepared, SQLite's cache filled), 0.5-2 s with 50 apps, and every
 * page of the dashboard asks for the list first. Run once the admin listener is up; a failure (scimtap stopping
 * meanwhile) is left to the first real request to report.
 */
export async function warmAppSummaries(apps: AppApi[]): Promise<void> {
  await summarizeAll(apps).catch(() => undefined);
}

/** GET /api/apps, for the dashboard's typed client. */
export type FleetApi = ReturnType<typeof appsRoutes>;
