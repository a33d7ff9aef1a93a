import { resolve } from 'node:path';
import type { AppEntry, Config, RulesConfig } from './schema.js';
import { isPostgresUrl } from './store.js';

// The apps scimtap fronts (issue 14). The JSON file's `apps` list names each app, its upstream and what it
// overrides of the top-level settings; without the list, SCIMTAP_UPSTREAM is the one app, at the root of the
// proxy listener, exactly as before.

/** The id of the one app configured by SCIMTAP_UPSTREAM alone (no `apps` list): its Tenant URL is the root. */
export const SINGLE_APP_ID = 'default';

/** An app as the pipeline uses it: every setting resolved against the top-level ones. */
export interface AppConfig {
  id: string;
  name: string;
  /** base URL of the app's SCIM endpoint */
  upstream: string;
  /**
   * The path under which Entra's Tenant URL reaches this app on the proxy listener, without a trailing slash:
   * `/<id>` for an app of the list, '' for the single app (the root).
   */
  prefix: string;
  notifyTo: string[];
  cycleIntervalMin: number;
  expectedObjects?: number;
  rules: RulesConfig;
  /** PEM contents of extra CAs for this app's upstream (read at load time, so a bad path is a config error) */
  upstreamCa?: string;
  /** the SQLite file the app's entry names, as written (absent: `appDb` chooses) */
  db?: string;
}

type TopLevel = Pick<
  Config,
  'appName' | 'upstream' | 'notifyTo' | 'cycleIntervalMin' | 'expectedObjects' | 'rules' | 'upstreamCa'
>;

/**
 * The apps of a loaded configuration: those of its `apps` list, or the single app of SCIMTAP_UPSTREAM. Pure; the
 * list's CA files were read by `resolveAppEntries` at load time.
 */
export function appsOf(config: TopLevel & { apps?: AppConfig[] }): AppConfig[] {
  if (config.apps) return config.apps;
  if (!config.upstream) return [];
  return [
    {
      id: SINGLE_APP_ID,
      name: config.appName,
      upstream: config.upstream,
      prefix: '',
      notifyTo: config.notifyTo,
      cycleIntervalMin: config.cycleIntervalMin,
      expectedObjects: config.expectedObjects,
      rules: config.rules,
      upstreamCa: config.upstreamCa,
    },
  ];
}

/**
 * An app's database when there are several: beside SCIMTAP_DB, named after it and the app
 * (`./data/scimtap.db` → `./data/scimtap-tanium.db`). `:memory:` stays in memory: each opening is its own.
 */
export function appDbPath(db: string, id: string): string {
  if (db === ':memory:') return db;
  const dot = db.lastIndexOf('.');
  const slash = Math.max(db.lastIndexOf('/'), db.lastIndexOf('\\'));
  return dot > slash + 1 ? `${db.slice(0, dot)}-${id}${db.slice(dot)}` : `${db}-${id}`;
}

/**
 * The file `app` records into when the process starts: the one its entry names, else SCIMTAP_DB (`db`) itself
 * when it is the only app, else its own file beside SCIMTAP_DB (`appDbPath`). Pure.
 */
export function appDb(db: string, app: Pick<AppConfig, 'id' | 'db'>, several: boolean): string {
  return app.db ?? (several ? appDbPath(db, app.id) : db);
}

/** Whether two database settings name one file (`./data/x.db` and `data/x.db` do); `:memory:` is never shared. */
export function sameDbFile(a: string, b: string): boolean {
  return a !== ':memory:' && b !== ':memory:' && resolve(a) === resolve(b);
}

/**
 * The configuration the pipeline runs with for `app`: the top-level settings that an app can override, replaced
 * by the app's. One scimtap runs one pipeline today; this is how an `apps` list of one reaches it. Pure.
 */
export function forApp<C extends TopLevel>(config: C, app: AppConfig): C {
  return {
    ...config,
    appName: app.name,
    upstream: app.upstream,
    notifyTo: app.notifyTo,
    cycleIntervalMin: app.cycleIntervalMin,
    expectedObjects: app.expectedObjects,
    rules: app.rules,
    upstreamCa: app.upstreamCa,
  };
}

/**
 * The `apps` list resolved against the top-level settings, and every problem with it (the schema has checked
 * each entry's shape; these are the rules between entries and with the rest of the file). `readPem` reads an
 * entry's `upstreamCa` file and returns undefined after adding its own problem.
 */
export function resolveAppEntries(
  entries: AppEntry[],
  top: TopLevel & Pick<Config, 'db'>,
  readPem: (path: string, key: string) => string | undefined,
): { apps: AppConfig[]; problems: string[] } {
  const problems = databaseProblems(entries, top.db);
  if (top.upstream) {
    problems.push(
      'SCIMTAP_UPSTREAM (--upstream): not used with an `apps` list, where each app names its upstream; remove one of them',
    );
  }
  const firstIndex = new Map<string, number>();
  entries.forEach((entry, i) => {
    const seen = firstIndex.get(entry.id);
    if (seen === undefined) firstIndex.set(entry.id, i);
    else
      problems.push(`apps.${i}.id: "${entry.id}" is already the id of apps.${seen}; each app needs its own`);
  });
  const apps = entries.map(
    (entry, i): AppConfig => ({
      id: entry.id,
      name: entry.name,
      upstream: entry.upstream,
      prefix: `/${entry.id}`,
      notifyTo: entry.notifyTo ?? top.notifyTo,
      cycleIntervalMin: entry.cycleIntervalMinutes ?? top.cycleIntervalMin,
      expectedObjects: entry.expectedObjects ?? top.expectedObjects,
      rules: { ...top.rules, ...entry.rules },
      upstreamCa: entry.upstreamCa ? readPem(entry.upstreamCa, `apps.${i}.upstreamCa`) : top.upstreamCa,
      db: entry.db,
    }),
  );
  return { apps, problems };
}

/**
 * Two apps recording into one file would mix their histories (and two log writers would contend for it): each
 * entry's file, named or chosen by `appDb`, must be its own. The problem is the `db` key's that names the file.
 */
function databaseProblems(entries: AppEntry[], db: string): string[] {
  const problems: string[] = [];
  const several = entries.length > 1;
  entries.forEach((entry, i) => {
    if (entry.db && isPostgresUrl(entry.db)) {
      problems.push(
        `apps.${i}.db: an app's database is a SQLite file path (e.g. ./data/scimtap-${entry.id}.db)`,
      );
    }
  });
  const files = entries.map((entry) => appDb(db, entry, several));
  files.forEach((file, i) => {
    const j = files.findIndex(
      (other, k) => k < i && entries[k].id !== entries[i].id && sameDbFile(other, file),
    );
    if (j < 0) return;
    // An id used twice is reported once, by resolveAppEntries; files differ between distinct ids unless named.
    const [named, other] = entries[i].db ? [i, j] : [j, i];
    problems.push(
      `apps.${named}.db: ${file} is also the database of apps.${other} ("${entries[other].id}"); each app needs a file of its own`,
    );
  });
  return problems;
}
