import { afterEach, describe, expect, it } from 'vitest';
import { serverFor, stores } from '../helpers/postgres.js';
import { MIN, type Scene, startScene, users } from './alerts-harness.js';

// Acceptance scenario 1 (issue 5): the token expires mid-cycle. The same scene on either store (issue 13).
describe.each(stores)('credentials: the token expires mid-cycle (%s)', (store) => {
  let scene: Scene;
  const pg = serverFor(store);
  afterEach(() => scene?.close());

  it('sends exactly one credentials email within 10 s of the third 401, nothing else while it fires, and one resolved email after the fix', async () => {
    scene = await startScene({ postgres: pg.server });
    const { entra, target } = scene;
    const people = users(25);

    // Cycle 1: the initial cycle provisions everyone.
    expect((await entra.probe()).status).toBe(200);
    await entra.each(people, (u) => entra.provision(u));
    await scene.settle();
    expect(scene.emails()).toHaveLength(0);

    // Cycle 2, 40 minutes later: a few updates go through, then the token expires.
    scene.advance(40 * MIN);
    await entra.probe();
    for (const u of people.slice(0, 2)) expect((await entra.update(u)).status).toBe(200);
    target.setFaults({ tokenExpired: true });
    for (const u of people.slice(2, 4)) expect((await entra.update(u)).status).toBe(401);
    expect((await entra.update(people[4])).status).toBe(401);
    const thirdAt = performance.now();
    // No flush and no tick: the recorder's own flush and the evaluation after each batch must do it.
    const [first] = await scene.smtp.waitFor(1, 10_000);
    const latencyMs = performance.now() - thirdAt;
    expect(latencyMs).toBeLessThan(10_000);

    expect(first.subject).toBe(
      '[FIRING critical] Tanium SSO: credentials rejected (401) — provisioning will be quarantined',
    );
    const text = first.text ?? '';
    expect(text).toContain('EncounteredQuarantineException');
    expect(text.match(/PATCH \/scim\/v2\/Users\/\S+ {2}401 {2}Unauthorized/g)?.length).toBe(3);
    expect(text).toContain('token- prefix');
    expect(text).toMatch(/same one the app accepted before: it has most likely expired/);
    expect(text).toMatch(/\/incidents\/\d+/);
    expect(text).toContain('/operations?status=failure&errorCode=Unauthorized');
    expect(text).not.toContain(target.token);
    expect(first.html).toContain('credentials rejected (401)');

    // The rest of the cycle fails too: per-user and escrow conditions appear, muted by the credentials incident.
    await entra.each(people.slice(5), (u) => entra.update(u));
    await scene.settle();
    // Cycle 3: Entra's probe is rejected.
    scene.advance(40 * MIN);
    expect((await entra.probe()).status).toBe(401);
    await scene.settle();
    scene.advance(40 * MIN);
    expect((await entra.probe()).status).toBe(401);
    await scene.settle();
    expect(scene.subjects()).toEqual([first.subject]);
    const escrow = await scene.api('/api/incidents?rule=escrowProportion');
    expect(escrow.body.items).toHaveLength(1);
    expect(escrow.body.items[0]).toMatchObject({
      state: 'firing',
      mutedBy: { by: 'inhibition', rule: 'credentials' },
      notifications: [],
    });

    // The token is fixed: the next cycle runs clean.
    target.setFaults({ tokenExpired: false });
    scene.advance(40 * MIN);
    expect((await entra.probe()).status).toBe(200);
    for (const u of people) expect((await entra.update(u)).status).toBe(200);
    await scene.settle();
    // Still within the recovery window: nothing yet.
    expect(scene.emails()).toHaveLength(1);
    scene.advance(2 * MIN);
    await scene.tick();
    scene.advance(10 * MIN);
    await scene.tick();

    expect(scene.subjects()).toEqual([
      first.subject,
      '[RESOLVED critical] Tanium SSO: credentials rejected (401) — provisioning will be quarantined',
    ]);
    // The resolved email threads under the first one.
    expect(scene.emails()[1].inReplyTo).toBe(first.messageId);
    const credentials = await scene.api('/api/incidents?rule=credentials');
    expect(credentials.body.items).toHaveLength(1);
    expect(credentials.body.items[0]).toMatchObject({ state: 'resolved' });
    expect(
      credentials.body.items[0].notifications.map((n: { event: string; state: string }) => [
        n.event,
        n.state,
      ]),
    ).toEqual([
      ['first', 'sent'],
      ['resolved', 'sent'],
    ]);
    // The muted escrow incident resolved without a word.
    const after = await scene.api('/api/incidents?rule=escrowProportion');
    expect(after.body.items[0]).toMatchObject({ state: 'resolved', notifications: [] });
    console.log(`credentials email ${Math.round(latencyMs)} ms after the third 401`);
  }, 60_000);
});
