import type { Logger } from 'pino';
import { type AppConfig, appDbPath, appsOf } from './config/apps.js';
import type { Config } from './config.js';
import type { Fleet } from './fleet.js';

// Reload (issue 14): the operator edits the JSON file and sends SIGHUP (cli.ts); the apps of the new file are
// diffed against the running ones by id. Added apps start, removed ones stop, changed ones restart on the same
// database (or the one their entry's `db` names now); the others never notice. Everything else in the file is read only at startup.

export interface ReloadSummary {
  added: string[];
  removed: string[];
  /** changed entries: the old pipeline stopped, a new one started on the same database (or on the entry's new `db`) */
  replaced: string[];
  unchanged: string[];
  /** what could not be done; the apps it did not touch keep running */
  failed: { id: string; step: 'add' | 'remove' | 'replace'; error: string }[];
  /** settings the file changed that only a restart applies: their running values are kept */
  needRestart: string[];
}

/** A reload that changes nothing, and why (the running apps keep running). */
export class ReloadRefused extends Error {}

/**
 * Keys that reach the apps through their AppConfig (config/apps.ts resolves each app against them), so the app
 * diff sees their changes; `warnings` and `apps` are not settings.
 */
const perAppKeys = new Set([
  'apps',
  'warnings',
  'appName',
  'upstream',
  'notifyTo',
  'cycleIntervalMin',
  'expectedObjects',
  'rules',
  'upstreamCa',
]);

/** The settings, other than the apps', whose value differs: listeners, db, adminToken, smtp, capture, ... */
export function restartOnlyChanges(running: Config, next: Config): string[] {
  const keys = new Set([...Object.keys(running), ...Object.keys(next)]);
  const get = (c: Config, k: string) => JSON.stringify((c as unknown as Record<string, unknown>)[k]);
  return [...keys].filter((k) => !perAppKeys.has(k) && get(running, k) !== get(next, k)).sort();
}

/** By id: what to start, stop, restart with new settings, and leave alone. Pure. */
export function diffApps(running: AppConfig[], next: AppConfig[]) {
  const before = new Map(running.map((a) => [a.id, a]));
  const after = new Set(next.map((a) => a.id));
  return {
    added: next.filter((a) => !before.has(a.id)),
    removed: running.filter((a) => !after.has(a.id)).map((a) => a.id),
    replaced: next.filter((a) => before.has(a.id) && JSON.stringify(before.get(a.id)) !== JSON.stringify(a)),
    unchanged: next.filter((a) => JSON.stringify(before.get(a.id)) === JSON.stringify(a)).map((a) => a.id),
  };
}

export interface Reloader {
  /** one at a time: a reload asked for during another waits for it */
  reload(next: Config): Promise<ReloadSummary>;
  /** resolves when no reload runs (shutdown waits for it, so that it closes what a reload started) */
  idle(): Promise<void>;
}

/** `start`: the configuration the process started with; its settings other than the apps' stay in force. */
export function createReloader(fleet: Fleet, start: Config, logger: Logger): Reloader {
  // The database each app id ran on in this process without naming one: an app removed then added back finds its
  // history again, and an app keeps its file when a reload grows a list of one (which ran on SCIMTAP_DB itself).
  const dbs = new Map(
    fleet
      .pipelines()
      .filter((p) => p.app.db === undefined)
      .map((p) => [p.app.id, p.config.db]),
  );
  let queue: Promise<unknown> = Promise.resolve();
  const run = async (next: Config): Promise<ReloadSummary> => {
    if (Boolean(start.apps) !== Boolean(next.apps)) {
      throw new ReloadRefused(
        start.apps
          ? 'the file has no `apps` list now: going from an `apps` list to SCIMTAP_UPSTREAM alone needs a restart; the running apps are kept'
          : 'the file has an `apps` list now: going from SCIMTAP_UPSTREAM alone to an `apps` list needs a restart; the running app is kept',
      );
    }
    const needRestart = restartOnlyChanges(start, next);
    if (needRestart.length > 0) {
      logger.warn(
        { settings: needRestart },
        `reload: ${needRestart.join(', ')} changed, which only a restart applies; keeping the running values`,
      );
    }
    const summary = await applyApps(fleet, appsOf(next), { start, dbs, logger });
    const level = summary.failed.length > 0 ? 'error' : 'info';
    logger[level](
      { ...summary, needRestart },
      `reload: ${summary.added.length} added, ${summary.removed.length} removed, ${summary.replaced.length} replaced, ${summary.unchanged.length} unchanged${summary.failed.length > 0 ? `, ${summary.failed.length} failed` : ''}`,
    );
    return { ...summary, needRestart };
  };
  return {
    reload(next) {
      const result = queue.then(() => run(next));
      queue = result.catch(() => {});
      return result;
    },
    idle: () => queue.then(() => {}),
  };
}

/** Removed apps first (their sockets and threads go), then the replaced ones, then the added ones. */
async function applyApps(
  fleet: Fleet,
  next: AppConfig[],
  { start, dbs, logger }: { start: Config; dbs: Map<string, string>; logger: Logger },
): Promise<Omit<ReloadSummary, 'needRestart'>> {
  const diff = diffApps(
    fleet.pipelines().map((p) => p.app),
    next,
  );
  const several = next.length > 1;
  // The file an entry names; else the one the app ran on; else, as an app of a list, a file of its own (the
  // SCIMTAP_DB file is the one an app ran alone on).
  const dbFor = (app: AppConfig) => app.db ?? dbs.get(app.id) ?? appDbPath(start.db, app.id);
  const started = (app: AppConfig, db: string) => {
    if (app.db === undefined) dbs.set(app.id, db);
  };
  const failed: ReloadSummary['failed'] = [];
  const done = { added: [] as string[], removed: [] as string[], replaced: [] as string[] };
  const attempt = async (id: string, step: 'add' | 'remove' | 'replace', action: () => Promise<unknown>) => {
    try {
      await action();
      done[step === 'add' ? 'added' : step === 'remove' ? 'removed' : 'replaced'].push(id);
    } catch (err) {
      logger.error({ err, appId: id }, `reload: could not ${step} app ${id}`);
      failed.push({ id, step, error: err instanceof Error ? err.message : String(err) });
    }
  };
  for (const id of diff.removed) await attempt(id, 'remove', () => fleet.stop(id));
  for (const app of diff.replaced) {
    const db = dbFor(app);
    await attempt(app.id, 'replace', async () => {
      await replace(fleet, app, db, several, logger);
      started(app, db);
    });
  }
  for (const app of diff.added) {
    const db = dbFor(app);
    await attempt(app.id, 'add', async () => {
      await fleet.start(app, db, several);
      started(app, db);
    });
  }
  return { ...done, unchanged: diff.unchanged, failed };
}

/**
 * Stop the old pipeline, start one with the new settings on `db` (its database, unless the entry's `db` changed);
 * if that fails, the old one again on its own.
 */
async function replace(
  fleet: Fleet,
  app: AppConfig,
  db: string,
  several: boolean,
  logger: Logger,
): Promise<void> {
  const old = fleet.get(app.id);
  if (!old) throw new Error(`app ${app.id} is not running`);
  await fleet.stop(app.id, { restarting: true });
  try {
    await fleet.start(app, db, several);
  } catch (err) {
    try {
      await fleet.start(old.app, old.config.db, several);
      logger.warn({ appId: app.id }, `reload: app ${app.id} runs with its previous settings`);
    } catch (again) {
      fleet.release(app.id);
      logger.error({ err: again, appId: app.id }, `reload: app ${app.id} could not restart: it is stopped`);
    }
    throw err;
  }
}
