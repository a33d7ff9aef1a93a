import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { serverFor, stores } from '../helpers/postgres.js';
import { MIN, type Scene, startScene, users } from './alerts-harness.js';

// The same API suite on either store (issue 13).
describe.each(stores)('alerts API (ARCHITECTURE §8) (%s)', (store) => {
  let scene: Scene;
  const pg = serverFor(store);
  afterEach(() => scene?.close());

  it('POST /api/notifications/test queues a test email through the outbox and delivers it', async () => {
    scene = await startScene({ postgres: pg.server });
    const queued = await scene.api('/api/notifications/test', {
      method: 'POST',
      body: { requestedBy: 'ada' },
    });
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ smtpConfigured: true, recipients: ['ops@example.com'] });
    expect(queued.body.notification).toMatchObject({ event: 'test', incidentId: null });
    await scene.smtp.waitFor(1, 5_000);
    expect(scene.subjects()).toEqual(['[TEST] Tanium SSO: scimtap notification test']);
    // The SMTP server has the message a moment before the row says so (on PostgreSQL, a round trip later).
    const path = `/api/notifications/${queued.body.notification.id}`;
    await expect.poll(async () => (await scene.api(path)).body.state).toBe('sent');
    const row = await scene.api(path);
    expect(row.body).toMatchObject({ state: 'sent', attempts: 1, recipients: ['ops@example.com'] });
    expect(row.body.text).toContain('queued at 2025-01-06 09:00 UTC by ada');
    expect(row.body.deliveries).toHaveLength(1);
  });

  it('without SMTP configured, emails stay in the outbox, unsent and visible', async () => {
    scene = await startScene({ postgres: pg.server, env: { SCIMTAP_SMTP_URL: '' } });
    await scene.api('/api/notifications/test', { method: 'POST' });
    const { entra, target } = scene;
    await entra.probe();
    await entra.each(users(3), (u) => entra.provision(u));
    target.setFaults({ tokenExpired: true });
    for (const u of users(3)) await entra.update(u);
    await scene.settle();
    const list = await scene.api('/api/notifications');
    expect(list.body.smtpConfigured).toBe(false);
    expect(
      list.body.items.map((n: { event: string; state: string; attempts: number }) => [
        n.event,
        n.state,
        n.attempts,
      ]),
    ).toEqual([
      ['first', 'unsent', 0],
      ['test', 'unsent', 0],
    ]);
    expect(scene.emails()).toHaveLength(0);
    const firing = await scene.api('/api/incidents?state=firing');
    expect(firing.body.items[0].notifications[0]).toMatchObject({ event: 'first', state: 'unsent' });
  });

  it('lists incidents by state and rule, pages with a cursor, and feeds /api/status', async () => {
    scene = await startScene({ postgres: pg.server });
    const { entra, target } = scene;
    await entra.probe();
    await entra.each(users(3), (u) => entra.provision(u));
    target.setFaults({ tokenExpired: true });
    for (const u of users(3)) await entra.update(u);
    await scene.settle();
    scene.advance(3 * 60 * MIN);
    await scene.tick();

    const all = await scene.api('/api/incidents');
    expect(all.body.items.map((i: { rule: string }) => i.rule).sort()).toEqual([
      'backoffSuspected',
      'credentials',
      'stalled',
    ]);
    const firstPage = await scene.api('/api/incidents?limit=2');
    expect(firstPage.body.items).toHaveLength(2);
    const secondPage = await scene.api(`/api/incidents?limit=2&cursor=${firstPage.body.nextCursor}`);
    expect(secondPage.body.items).toHaveLength(1);
    expect(secondPage.body.nextCursor).toBeNull();
    const stalled = (await scene.api('/api/incidents?rule=stalled')).body.items[0];
    expect(stalled).toMatchObject({
      state: 'firing',
      mutedBy: { by: 'inhibition', rule: 'credentials' },
      notifications: [],
    });
    expect(stalled.evidence.details.lastCycleStartedAt).toBe('2025-01-06T09:00:00.000Z');
    expect((await scene.api('/api/incidents?state=resolved')).body.items).toHaveLength(0);

    const one = await scene.api(`/api/incidents/${stalled.id}`);
    expect(one.body).toMatchObject({ id: stalled.id, rule: 'stalled' });

    const metrics = (await send(`${scene.scimtap.adminUrl}/metrics`)).body.toString('utf8');
    // On PostgreSQL every series also names the replica it comes from (api/metrics.ts).
    const labels = store === 'PostgreSQL' ? 'app="default",replica="[^"]+"' : 'app="default"';
    expect(metrics).toMatch(new RegExp(`^scimtap_incidents_firing\\{${labels}\\} 3$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^scimtap_notifications_pending\\{${labels}\\} 0$`, 'm'));

    const status = await scene.api('/api/status');
    expect(status.body).toMatchObject({ basis: 'incidents', state: 'quarantineSuspected' });
    expect(status.body.incidents.map((i: { rule: string }) => i.rule).sort()).toEqual([
      'backoffSuspected',
      'credentials',
      'stalled',
    ]);
  });

  it('answers bad input with 400 and unknown ids with 404', async () => {
    scene = await startScene({ postgres: pg.server });
    const cases: [string, string, unknown, number, RegExp][] = [
      ['GET', '/api/incidents?state=burning', undefined, 400, /state/],
      ['GET', '/api/incidents?rule=nope', undefined, 400, /rule/],
      ['GET', '/api/incidents/999', undefined, 404, /no incident 999/],
      ['POST', '/api/incidents/999/ack', {}, 404, /no incident 999/],
      ['POST', '/api/silences', { rule: 'credentials' }, 400, /exactly one of expiresAt and durationMinutes/],
      ['POST', '/api/silences', { rule: 'nope', durationMinutes: 5 }, 400, /rule/],
      ['POST', '/api/silences', { rule: 'credentials', expiresAt: '2020-01-01T00:00:00Z' }, 400, /future/],
      ['POST', '/api/silences', { rule: 'credentials', durationMinutes: 5, extra: 1 }, 400, /extra/],
      ['DELETE', '/api/silences/999', undefined, 404, /no silence 999/],
      ['GET', '/api/notifications?state=lost', undefined, 400, /state/],
      ['GET', '/api/notifications/999', undefined, 404, /no notification 999/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const res = await scene.api(path, { method, body });
      expect(res.status, `${method} ${path}`).toBe(status);
      expect(res.body.message, `${method} ${path}`).toMatch(message);
    }
  });

  it('acknowledging a resolved incident is a conflict; acknowledging twice keeps the first', async () => {
    scene = await startScene({ postgres: pg.server });
    const { entra, target } = scene;
    await entra.probe();
    await entra.each(users(3), (u) => entra.provision(u));
    target.setFaults({ tokenExpired: true });
    for (const u of users(3)) await entra.update(u);
    await scene.settle();
    const id = (await scene.api('/api/incidents?rule=credentials')).body.items[0].id;
    await scene.api(`/api/incidents/${id}/ack`, { method: 'POST', body: { by: 'ada' } });
    const again = await scene.api(`/api/incidents/${id}/ack`, { method: 'POST', body: { by: 'bob' } });
    expect(again.body).toMatchObject({ acknowledgedBy: 'ada' });

    target.setFaults({ tokenExpired: false });
    await entra.update(users(3)[0]);
    await scene.settle();
    scene.advance(2 * MIN);
    await scene.tick();
    const conflict = await scene.api(`/api/incidents/${id}/ack`, { method: 'POST' });
    expect(conflict.status).toBe(409);
  });
});
