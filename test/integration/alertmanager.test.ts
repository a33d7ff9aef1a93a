import { afterEach, describe, expect, it } from 'vitest';
import { fingerprint } from '../../server/notify/receivers/webhook.js';
import { startAlertmanager } from '../helpers/alertmanager.js';
import { type Scene, startScene, users } from './alerts-harness.js';

type Am = Awaited<ReturnType<typeof startAlertmanager>>;
// biome-ignore lint/suspicious/noExplicitAny: Alertmanager's JSON
type Json = any;

// Alertmanager judges endsAt by its own (real) clock, so this scene's fake clock follows the real time.
describe('a real Prometheus Alertmanager', () => {
  let am: Am;
  let scene: Scene;
  afterEach(async () => {
    await scene?.close();
    await am?.close();
  });

  const now = () => {
    scene.clock.now = Math.max(scene.clock.now, Date.now());
  };
  const credentialsAlert = async () =>
    (await am.alerts()).find((a: Json) => a.labels.alertname === 'credentials') as Json | undefined;

  it('a firing incident is pushed, pushed again with endsAt moved ahead, and ended when it resolves', async () => {
    am = await startAlertmanager();
    scene = await startScene({
      t0: Date.now(),
      rules: { recoverySeconds: 0 },
      config: { receivers: [{ type: 'alertmanager', name: 'alertmanager', url: am.url, resendSeconds: 5 }] },
    });
    const people = users(5);
    await scene.entra.probe();
    await scene.entra.each(people, (u) => scene.entra.provision(u));
    await scene.settle();
    scene.target.setFaults({ tokenExpired: true });
    for (const u of people.slice(0, 3)) expect((await scene.entra.update(u)).status).toBe(401);
    scene.flush();
    now();
    await scene.tick();

    const first = await credentialsAlert();
    expect(first).toBeDefined();
    expect(first.labels).toEqual({
      alertname: 'credentials',
      app: 'Tanium SSO',
      severity: 'critical',
      scope: 'app',
    });
    expect(first.status.state).toBe('active');
    // Alertmanager's own fingerprint of the labels is the one scimtap's webhook payload carries
    expect(first.fingerprint).toBe(fingerprint(first.labels));
    expect(first.annotations.summary).toMatch(/credentials rejected \(401\)/);
    const incident = (await scene.api('/api/incidents?rule=credentials')).body.items[0];
    expect(first.generatorURL).toBe(`${scene.scimtap.adminUrl}/incidents/${incident.id}`);
    // endsAt four resend intervals ahead: Alertmanager resolves it by itself if scimtap goes away
    expect(Date.parse(first.endsAt)).toBe(scene.clock.now + 20_000);

    // the resend: Alertmanager keeps hearing about it, endsAt moves on
    await new Promise((r) => setTimeout(r, 5_100));
    now();
    await scene.tick();
    const second = await credentialsAlert();
    expect(second.fingerprint).toBe(first.fingerprint);
    expect(Date.parse(second.endsAt)).toBe(scene.clock.now + 20_000);
    expect(Date.parse(second.endsAt)).toBeGreaterThan(Date.parse(first.endsAt));
    expect(Date.parse(second.startsAt)).toBe(Date.parse(first.startsAt));

    // resolved: pushed once with endsAt = the resolve time, so Alertmanager drops it now, not in 20 s
    scene.target.setFaults({ tokenExpired: false });
    for (const u of people) expect((await scene.entra.update(u)).status).toBe(200);
    scene.flush();
    now();
    await scene.tick();
    now();
    await scene.tick();
    expect((await scene.api(`/api/incidents/${incident.id}`)).body.state).toBe('resolved');
    expect(await credentialsAlert()).toBeUndefined();
    const rows = (await scene.api('/api/notifications?receiver=alertmanager')).body.items;
    expect(rows.map((n: Json) => `${n.event}:${n.state}`)).toEqual(['resolved:sent', 'first:sent']);
    expect(rows[1].deliveries[0]).toMatchObject({ ok: true, responseCode: 200 });
  }, 60_000);

  it('POST /api/notifications/test?receiver=alertmanager shows a test alert that ends by itself', async () => {
    am = await startAlertmanager();
    scene = await startScene({
      t0: Date.now(),
      env: { SCIMTAP_ALERTMANAGER_URL: `${am.url}/api/v2/alerts` },
    });
    const res = await scene.api('/api/notifications/test?receiver=alertmanager', {
      method: 'POST',
      body: {},
    });
    expect(res.status).toBe(202);
    await scene.tick();
    const alerts = await am.alerts();
    expect(alerts).toHaveLength(1);
    expect(alerts[0].labels).toMatchObject({ alertname: 'scimtapTest', app: 'Tanium SSO', severity: 'info' });
    expect(Date.parse(alerts[0].endsAt)).toBe(scene.clock.now + 5 * 60_000);
  }, 60_000);
});
