import type { Scimtap } from '../main.js';
import type { DemoApp, DemoAppId, DemoAppSpec } from './apps.js';
import { DEMO_DB, demoDbPath } from './database.js';

/** What the demo prints at start: the dashboard, then each app's Tenant URL, token, target and story. */
export function banner(d: {
  scimtap: Scimtap;
  specs: DemoAppSpec[];
  apps: Partial<Record<DemoAppId, DemoApp>>;
  intervalMs: number;
  db: string;
  several: boolean;
}): string {
  const seconds = Math.round(d.intervalMs / 1000);
  const reset = d.specs.some(
    (s) => demoDbPath(d.db, s.id, d.several) === demoDbPath(DEMO_DB, s.id, d.several),
  );
  const lines = [
    '',
    `  scimtap DEMO — nothing is configured, so scimtap watches ${d.specs.length === 1 ? 'a simulated Entra ID provisioning job' : `${d.specs.length} simulated Entra ID provisioning jobs`}, one per app.`,
    '',
    `  Dashboard    ${d.scimtap.adminUrl}`,
    `  Database     ${demoDbPath(d.db, '<app>', d.several)}${reset ? ' (reset at each demo start)' : ''}`,
    '',
  ];
  for (const spec of d.specs) {
    const app = d.apps[spec.id]!;
    lines.push(
      `  ${spec.name}`,
      `    Tenant URL   ${d.scimtap.proxyUrl.replace(/\/$/, '')}/${spec.id}/  →  an embedded SCIM target ${app.target.url}`,
      `    Token        ${app.target.token}  (the target's bearer token, for your own curl calls)`,
      `    Shows        ${spec.about}`,
      `    Entra-like client: ${spec.size.users} users, ${spec.size.groups} groups, ${spec.size.rate} req/s`,
      '',
    );
  }
  lines.push(
    `  Each app's job runs a provisioning cycle every ${seconds} s (Entra: every 40 min).`,
    '',
    '  To watch your real apps instead:  SCIMTAP_UPSTREAM=https://tenant.example.com/scim/v2 npm start',
    '  (or list them in SCIMTAP_CONFIG\'s "apps")',
    '',
    '',
  );
  return lines.join('\n');
}
