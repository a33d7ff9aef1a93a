// Which store SCIMTAP_DB names: a SQLite file path (the embedded default), or a postgres:// / postgresql://
// URL. The URL carries a password, so everything that shows the setting shows `describeStore` instead.

export type StoreConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

const postgresScheme = /^postgres(ql)?:\/\//i;

export function isPostgresUrl(value: string): boolean {
  return postgresScheme.test(value);
}

export function storeFromSetting(value: string): StoreConfig {
  return isPostgresUrl(value) ? { kind: 'postgres', url: value } : { kind: 'sqlite', path: value };
}

/** What a problem with a PostgreSQL URL is, without quoting it (it may hold the password); null when usable. */
export function postgresUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a valid URL; expected postgres://user:password@host:5432/database';
  }
  if (!parsed.hostname) return 'names no host; expected postgres://user:password@host:5432/database';
  return null;
}

/** The path, or the URL with its password masked: safe for logs, banners, errors and /api/health. */
export function describeStore(store: StoreConfig): string {
  return store.kind === 'sqlite' ? store.path : redactUrl(store.url);
}

/**
 * What this version cannot run on the store named: a PostgreSQL store serves one app (several replicas of it); an
 * `apps` list on one is refused with a reason, never half-run. Null when it can run.
 */
export function unavailableStore(
  store: StoreConfig,
  { apps, mode }: { apps?: readonly unknown[]; mode?: 'proxy' | 'demo' } = {},
): string | null {
  if (store.kind === 'sqlite') return null;
  if (mode === 'demo') {
    return `SCIMTAP_DB (${describeStore(store)}): the demo runs on SQLite files; set SCIMTAP_UPSTREAM to run scimtap on PostgreSQL`;
  }
  if (!apps) return null;
  return `SCIMTAP_DB (${describeStore(store)}): the PostgreSQL store runs one app in this version; an \`apps\` list needs SQLite files (set SCIMTAP_DB to a file path), or run one scimtap per app, each with its own database URL`;
}

/** Never log credentials that may sit in a URL: the password in its userinfo or in a `password` parameter. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    // Unparseable: mask what looks like userinfo and a password parameter rather than echo it whole.
    return url.replace(/\/\/([^/@:]*):[^/]*@/, '//$1:***@').replace(/([?&]password=)[^&]*/i, '$1***');
  }
}
