import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { serverFor, stores } from '../helpers/postgres.js';
import { HOUR, MIN, type Scene, startScene, tokenExpires, users } from './alerts-harness.js';

const FIRING_CREDENTIALS =
  '[FIRING critical] Tanium SSO: credentials rejected (401) — provisioning will be quarantined';
const RESOLVED_CREDENTIALS =
  '[RESOLVED critical] Tanium SSO: credentials rejected (401) — provisioning will be quarantined';

async function tokenFixed(scene: Scene, people = users(5)) {
  scene.target.setFaults({ tokenExpired: false });
  scene.advance(40 * MIN);
  expect((await scene.entra.probe()).status).toBe(200);
  for (const u of people) expect((await scene.entra.update(u)).status).toBe(200);
  await scene.settle();
  scene.advance(2 * MIN);
  await scene.tick();
}

// The same scenes on either store (issue 13).
describe.each(stores)('delivery, silences, acknowledgements, restarts, flapping (%s)', (store) => {
  let scene: Scene;
  const pg = serverFor(store);
  afterEach(() => scene?.close());

  it('logs every incident transition: critical firing at error, resolved at warn', async () => {
    const lines: { level: number; msg: string; incident?: { rule: string; state: string } }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    scene = await startScene({ postgres: pg.server, start: { logger } });
    await tokenExpires(scene);
    await scene.tick();
    await tokenFixed(scene);
    const transitions = lines
      .filter((l) => l.incident)
      .map((l) => [l.level, l.incident?.rule, l.incident?.state]);
    expect(transitions).toEqual([
      [50, 'credentials', 'firing'],
      [40, 'credentials', 'resolved'],
    ]);
    expect(lines.find((l) => l.incident)?.msg).toMatch(
      /^incident firing: credentials \(critical\): credentials rejected/,
    );
  }, 60_000);

  it('7. SMTP down while an incident fires, back an hour later: the email is delivered exactly once', async () => {
    scene = await startScene({ postgres: pg.server });
    await scene.smtp.down();
    await tokenExpires(scene);
    await scene.tick();
    const queued = await scene.api('/api/notifications');
    expect(queued.body.smtpConfigured).toBe(true);
    expect(queued.body.items).toHaveLength(1);
    const row = queued.body.items[0];
    expect(row).toMatchObject({ event: 'first', state: 'unsent', subject: FIRING_CREDENTIALS });
    expect(row.attempts).toBeGreaterThanOrEqual(1);
    expect(row.lastError).toMatch(/ECONNECTION|ESOCKET|ECONNREFUSED/);
    expect(row.deliveries[0]).toMatchObject({ ok: false, retryable: true });
    // While email cannot be delivered, scimtap is degraded: its warnings go nowhere.
    const failing = (await scene.api('/api/health')).body;
    expect(failing.status).toBe('degraded');
    expect(failing.email).toMatchObject({ state: 'failing', pending: 1 });
    expect(failing.email.lastError).toMatch(/ECONNECTION|ESOCKET|ECONNREFUSED/);
    // /metrics counts it (on PostgreSQL, as last read from the database: by the tick, then by /api/health).
    const metrics = (await send(`${scene.scimtap.adminUrl}/metrics`)).body.toString('utf8');
    expect(metrics).toMatch(/^scimtap_notifications_pending\{app="default"[^}]*\} 1$/m);

    scene.advance(HOUR);
    await scene.smtp.up();
    await scene.tick();
    await scene.tick();
    expect(scene.subjects()).toEqual([FIRING_CREDENTIALS]);
    expect((await scene.api('/api/health')).body).toMatchObject({
      status: 'ok',
      email: { state: 'ok', pending: 0, lastError: null },
    });
    const delivered = (await scene.api('/api/notifications')).body.items[0];
    expect(delivered.state).toBe('sent');
    expect(delivered.deliveries.at(-1)).toMatchObject({ ok: true, responseCode: 250 });
    expect(delivered.deliveries.filter((d: { ok: boolean }) => d.ok)).toHaveLength(1);
  }, 60_000);

  it('8a. a silence suppresses the rule’s emails; after it expires, emails resume', async () => {
    scene = await startScene({ postgres: pg.server });
    const created = await scene.api('/api/silences', {
      method: 'POST',
      body: { rule: 'credentials', durationMinutes: 90, comment: 'rotating the token', createdBy: 'ops' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ rule: 'credentials', active: true, createdBy: 'ops' });
    await tokenExpires(scene);
    await scene.tick();
    expect(scene.emails()).toHaveLength(0);
    const incident = (await scene.api('/api/incidents?rule=credentials')).body.items[0];
    expect(incident).toMatchObject({
      state: 'firing',
      mutedBy: { by: 'silence', silenceId: created.body.id },
    });

    scene.advance(49 * MIN);
    await scene.tick();
    expect(scene.emails()).toHaveLength(0);
    scene.advance(2 * MIN);
    await scene.tick();
    expect(scene.subjects()).toEqual([FIRING_CREDENTIALS]);
    const silences = await scene.api('/api/silences');
    expect(silences.body.items[0]).toMatchObject({ id: created.body.id, active: false });
  }, 60_000);

  it('8a. a silence on one identity leaves the other stuck objects watched; DELETE ends a silence', async () => {
    scene = await startScene({
      postgres: pg.server,
      faults: { conflictUserNames: ['ada@example.com', 'bob@example.com'] },
    });
    const ada = await scene.api('/api/silences', {
      method: 'POST',
      body: { rule: 'stuckObject', identity: 'ada@example.com', durationMinutes: 24 * 60 },
    });
    for (let cycle = 1; cycle <= 3; cycle++) {
      await scene.entra.probe();
      await scene.entra.provision('user0001@example.com');
      await scene.entra.provision('ada@example.com');
      await scene.entra.provision('bob@example.com');
      await scene.settle();
      scene.advance(40 * MIN);
    }
    await scene.tick();
    expect(scene.subjects()).toEqual([
      '[FIRING warning] Tanium SSO: 1 object has failed in 3+ consecutive cycles: bob@example.com',
    ]);
    expect(scene.emails()[0].text).not.toContain('ada@example.com');
    const ended = await scene.api(`/api/silences/${ada.body.id}`, { method: 'DELETE' });
    expect(ended.body).toMatchObject({ active: false });
    await scene.tick();
    const incident = (await scene.api('/api/incidents?rule=stuckObject')).body.items[0];
    expect(incident.evidence.identities.map((i: { name: string }) => i.name).sort()).toEqual([
      'ada@example.com',
      'bob@example.com',
    ]);
  }, 60_000);

  it('8b. an acknowledged incident sends no reminders; an unacknowledged one does, every 24 h', async () => {
    scene = await startScene({ postgres: pg.server });
    await tokenExpires(scene);
    await scene.tick();
    expect(scene.subjects()).toEqual([FIRING_CREDENTIALS]);
    const credentials = (await scene.api('/api/incidents?rule=credentials')).body.items[0];
    const ack = await scene.api(`/api/incidents/${credentials.id}/ack`, {
      method: 'POST',
      body: { by: 'ada', comment: 'asking for a new token' },
    });
    expect(ack.body).toMatchObject({
      acknowledged: true,
      acknowledgedBy: 'ada',
      ackComment: 'asking for a new token',
    });

    // Three hours without a cycle after the failing one: backoffSuspected fires (not inhibited: it is the news).
    scene.advance(3 * HOUR);
    await scene.tick();
    expect(scene.subjects()).toHaveLength(2);
    expect(scene.subjects()[1]).toMatch(
      /^\[FIRING critical\] Tanium SSO: no cycle for .* after a failing cycle/,
    );

    // A day later: the unacknowledged one reminds, the acknowledged one stays quiet.
    scene.advance(24 * HOUR);
    await scene.tick();
    await scene.tick();
    expect(scene.subjects()).toHaveLength(3);
    expect(scene.subjects()[2]).toMatch(
      /after a failing cycle — Entra has likely quarantined the job \(reminder\)$/,
    );
    expect(scene.subjects().filter((s) => s.includes('credentials'))).toEqual([FIRING_CREDENTIALS]);
  }, 60_000);

  it('8c. a restart in the middle of a scenario sends no duplicate', async () => {
    scene = await startScene({ postgres: pg.server, faults: { conflictUserNames: ['ada@example.com'] } });
    await tokenExpires(scene);
    await scene.tick();
    expect(scene.subjects()).toEqual([FIRING_CREDENTIALS]);

    await scene.restart();
    await scene.tick();
    scene.advance(MIN);
    await scene.tick();
    expect(scene.subjects()).toEqual([FIRING_CREDENTIALS]);

    await tokenFixed(scene);
    await scene.restart();
    await scene.tick();
    expect(scene.subjects()).toEqual([FIRING_CREDENTIALS, RESOLVED_CREDENTIALS]);

    // An email queued while SMTP is down survives a restart and goes out once.
    await scene.smtp.down();
    for (let cycle = 1; cycle <= 3; cycle++) {
      scene.advance(40 * MIN);
      await scene.entra.probe();
      await scene.entra.provision('ada@example.com');
      await scene.settle();
      // Detection state (the failing streak) survives a restart between cycles too.
      if (cycle === 2) await scene.restart();
    }
    scene.advance(40 * MIN);
    await scene.tick();
    expect(scene.emails()).toHaveLength(2);
    const waiting = (await scene.api('/api/notifications?state=unsent')).body.items;
    expect(waiting.map((n: { subject: string }) => n.subject)).toEqual([
      '[FIRING warning] Tanium SSO: 1 object has failed in 3+ consecutive cycles: ada@example.com',
    ]);
    await scene.restart();
    await scene.smtp.up();
    // Past the retry backoff, short of the stall threshold (a stalled email here would be right, and noise).
    scene.advance(15 * MIN);
    await scene.tick();
    await scene.restart();
    await scene.tick();
    expect(scene.subjects()).toEqual([
      FIRING_CREDENTIALS,
      RESOLVED_CREDENTIALS,
      '[FIRING warning] Tanium SSO: 1 object has failed in 3+ consecutive cycles: ada@example.com',
    ]);
  }, 60_000);

  it('9. flapping inside the debounce window sends nothing; inside the recovery window, no burst', async () => {
    scene = await startScene({ postgres: pg.server, rules: { debounceSeconds: 30, recoverySeconds: 120 } });
    const { entra, target } = scene;
    const people = users(5);
    await scene.provisionCycle(people);
    scene.advance(40 * MIN);
    await entra.probe();

    const fail = async () => {
      target.setFaults({ tokenExpired: true });
      for (const u of people.slice(0, 3)) await entra.update(u);
      await scene.settle();
    };
    const recover = async () => {
      target.setFaults({ tokenExpired: false });
      await entra.update(people[4]);
      await scene.settle();
    };

    // fail, recover, fail ... each time well inside the 30 s debounce: never confirmed, never emailed
    for (let i = 0; i < 4; i++) {
      await fail();
      scene.advance(10_000);
      await scene.tick();
      await recover();
      scene.advance(10_000);
      await scene.tick();
    }
    expect(scene.emails()).toHaveLength(0);
    expect((await scene.api('/api/incidents?rule=credentials')).body.items).toHaveLength(0);

    // held for the debounce: one email
    await fail();
    scene.advance(31_000);
    await scene.tick();
    expect(scene.subjects()).toEqual([FIRING_CREDENTIALS]);

    // recover, fail, recover ... inside the 120 s recovery window: still the same incident, no new email
    for (let i = 0; i < 4; i++) {
      await recover();
      scene.advance(60_000);
      await scene.tick();
      await fail();
      scene.advance(10_000);
      await scene.tick();
    }
    expect(scene.subjects()).toEqual([FIRING_CREDENTIALS]);

    // recovered for good: one resolved email
    await recover();
    scene.advance(121_000);
    await scene.tick();
    scene.advance(10 * MIN);
    await scene.tick();
    expect(scene.subjects()).toEqual([FIRING_CREDENTIALS, RESOLVED_CREDENTIALS]);
    const incidents = (await scene.api('/api/incidents?rule=credentials')).body.items;
    expect(incidents).toHaveLength(1);
  }, 60_000);

  it('the jobs catch up at start: a stall that began while scimtap was down is emailed without a tick', async () => {
    scene = await startScene({ postgres: pg.server });
    await scene.entra.probe();
    await scene.entra.each(users(3), (u) => scene.entra.provision(u));
    await scene.settle();
    await scene.scimtap.stop();
    scene.advance(2 * HOUR);
    await scene.restart({ periodicJobs: true });
    const [mail] = await scene.smtp.waitFor(1, 5_000);
    expect(mail.subject).toBe(
      '[FIRING warning] Tanium SSO: no provisioning cycle for 2 h (expected every 40 min)',
    );
  }, 30_000);
});
