import { afterEach, describe, expect, it } from 'vitest';
import { serverFor, stores } from '../helpers/postgres.js';
import { HOUR, MIN, type Scene, startScene, users } from './alerts-harness.js';

// The same rule scenes on either store (issue 13): one PostgreSQL server for the whole PostgreSQL block.
describe.each(stores)('%s', (store) => {
  const pg = serverFor(store);
  // One scene per test, whichever describe it is in, closed after it.
  let scene: Scene | undefined;
  afterEach(async () => {
    await scene?.close();
    scene = undefined;
  });

  // Acceptance scenarios 2–6 (issue 5): each rule end to end, from real traffic to the email.
  describe('alert rules end to end', () => {
    it('2. upstream down: one upstreamUnavailable email; back up: one resolved email', async () => {
      scene = await startScene({ postgres: pg.server });
      const { entra } = scene;
      const people = users(10);
      await scene.provisionCycle(people);

      scene.advance(40 * MIN);
      await scene.targetDown();
      for (const u of people) expect((await entra.update(u)).status).toBe(502);
      await scene.settle();
      await scene.settle();
      expect(scene.subjects()).toHaveLength(1);
      expect(scene.subjects()[0]).toMatch(
        /^\[FIRING critical\] Tanium SSO: the app is unreachable: 10 calls in a row failed \(UpstreamUnreachable\)/,
      );
      const text = scene.emails()[0].text ?? '';
      expect(text).toContain('502  UpstreamUnreachable: scimtap: upstream unreachable');
      expect(text).toContain('/operations?errorCode=UpstreamUnreachable');

      await scene.targetUp();
      scene.advance(40 * MIN);
      expect((await entra.probe()).status).toBe(200);
      // The target came back empty: Entra's next cycle finds and creates everyone again. Once the failures
      // have left the 20-call window, the recovery window starts.
      await entra.each(people, (u) => entra.provision(u));
      await scene.settle();
      scene.advance(2 * MIN);
      await scene.tick();
      scene.advance(2 * MIN);
      await scene.tick();
      expect(scene.subjects()).toHaveLength(2);
      expect(scene.subjects()[1]).toMatch(/^\[RESOLVED critical\] Tanium SSO: the app is unreachable/);
    }, 60_000);

    it("3. half of a cycle's calls fail with 500: escrowProportion", async () => {
      scene = await startScene({ postgres: pg.server });
      const { entra, target } = scene;
      const people = users(20);
      await scene.provisionCycle(people);

      scene.advance(40 * MIN);
      await entra.probe();
      // Exactly every other call fails: the target draws 0.2, 0.8, 0.2, ... against an error rate of 0.5.
      let draw = 0;
      target.setFaults({ errorRate: 0.5, random: () => (draw++ % 2 === 0 ? 0.2 : 0.8) });
      for (const u of people) await entra.update(u);
      await scene.settle();
      expect(scene.subjects()).toEqual([
        "[FIRING critical] Tanium SSO: 48% of a cycle's calls failed (10 of 21) — Entra quarantines above 40%",
      ]);
      const text = scene.emails()[0].text ?? '';
      expect(text).toContain('EncounteredEscrowProportionThreshold');
      expect(text).toContain('500  InternalServerError');
      expect(text).toMatch(/Affected identities \(10\)/);
      expect(text).toMatch(/\/cycles\/\d+/);
    }, 60_000);

    it('4. 600 disables in one cycle: tooManyDeletes', async () => {
      scene = await startScene({ postgres: pg.server });
      const { entra } = scene;
      const people = users(600);
      await scene.provisionCycle(people);
      expect(scene.emails()).toHaveLength(0);

      scene.advance(40 * MIN);
      await entra.probe();
      await entra.each(people, (u) => entra.disable(u));
      await scene.settle();
      expect(scene.subjects()).toEqual([
        '[FIRING warning] Tanium SSO: 600 deletes and disables in one cycle — above the accidental-deletion threshold of 500',
      ]);
      const { body } = await scene.api('/api/incidents?rule=tooManyDeletes');
      expect(body.items).toHaveLength(1);
      expect(body.items[0].evidence.count).toBe(600);
      const text = scene.emails()[0].text ?? '';
      expect(text).toContain('TooManyDeletes');
      expect(text).toContain('pause provisioning in Entra now');
      expect(text).toMatch(/\/operations\?operation=disable&cycle=\d+/);
    }, 120_000);

    it('5a. no cycle for interval + grace: stalled; a new cycle resolves it', async () => {
      scene = await startScene({ postgres: pg.server });
      const { entra } = scene;
      await entra.probe();
      await entra.each(users(5), (u) => entra.provision(u));
      await scene.settle();

      scene.advance(59 * MIN);
      await scene.tick();
      expect(scene.emails()).toHaveLength(0);
      scene.advance(1 * MIN);
      await scene.tick();
      expect(scene.subjects()).toEqual([
        '[FIRING warning] Tanium SSO: no provisioning cycle for 1 h (expected every 40 min)',
      ]);

      scene.advance(10 * MIN);
      await entra.probe();
      await entra.update('user0001@example.com');
      await scene.settle();
      scene.advance(2 * MIN);
      await scene.tick();
      expect(scene.subjects()[1]).toMatch(/^\[RESOLVED warning\] Tanium SSO: no provisioning cycle/);
    }, 60_000);

    it('5b. a 3 h gap after a failing cycle: backoffSuspected', async () => {
      scene = await startScene({ postgres: pg.server });
      const { entra, target } = scene;
      const people = users(20);
      await scene.provisionCycle(people);

      scene.advance(40 * MIN);
      await entra.probe();
      target.setFaults({ errorRate: 1 });
      for (const u of people) await entra.update(u);
      target.setFaults({ errorRate: 0 });
      await scene.settle();
      expect(scene.subjects()).toHaveLength(1);
      expect(scene.subjects()[0]).toMatch(/escrow|failed/);

      scene.advance(3 * HOUR);
      await scene.tick();
      const backoff = scene
        .emails()
        .filter((m) => m.subject?.includes('Entra has likely quarantined the job'));
      expect(backoff).toHaveLength(1);
      expect(backoff[0].subject).toMatch(
        /^\[FIRING critical\] Tanium SSO: no cycle for 3 h after a failing cycle/,
      );
      expect(backoff[0].text).toContain('Restart provisioning');
    }, 60_000);

    it('6. the same users answered 409 in three consecutive cycles: one grouped stuckObject incident naming them', async () => {
      scene = await startScene({
        postgres: pg.server,
        faults: { conflictUserNames: ['ada@example.com', 'bob@example.com'] },
      });
      const { entra } = scene;
      const people = users(10);
      for (let cycle = 1; cycle <= 3; cycle++) {
        await entra.probe();
        for (const u of cycle === 1 ? people : people.slice(0, 3)) await entra.provision(u);
        expect((await entra.provision('ada@example.com')).status).toBe(409);
        expect((await entra.provision('bob@example.com')).status).toBe(409);
        await scene.settle();
        if (cycle < 3) expect(scene.emails()).toHaveLength(0);
        scene.advance(40 * MIN);
      }
      await scene.tick();
      expect(scene.subjects()).toEqual([
        '[FIRING warning] Tanium SSO: 2 objects have failed in 3+ consecutive cycles: ada@example.com, bob@example.com',
      ]);
      const text = scene.emails()[0].text ?? '';
      expect(text).toContain('ada@example.com (User), failing 3 cycles — EntryConflict');
      expect(text).toContain('bob@example.com (User), failing 3 cycles — EntryConflict');
      const stuck = await scene.api('/api/incidents?rule=stuckObject');
      expect(stuck.body.items).toHaveLength(1);
      expect(stuck.body.items[0]).toMatchObject({ scope: 'app', evidence: { count: 2, identityCount: 2 } });
    }, 60_000);

    it('recorderFailing: operations the recorder had to drop raise a critical incident', async () => {
      scene = await startScene({ postgres: pg.server, start: { recorderMaxQueue: 5 } });
      const { entra } = scene;
      // 60 requests at once against a queue of 5 flushed every 100 ms: most cannot be recorded.
      await entra.each(users(60), (u) => entra.lookup(u), 60);
      expect(scene.scimtap.recorder.stats().dropped).toBeGreaterThan(0);
      await scene.settle();
      expect(scene.subjects()).toHaveLength(1);
      expect(scene.subjects()[0]).toMatch(
        /^\[FIRING critical\] Tanium SSO: scimtap dropped \d+ operations it could not record$/,
      );
      // Ten quiet minutes later it resolves.
      scene.advance(11 * MIN);
      await scene.tick();
      scene.advance(2 * MIN);
      await scene.tick();
      expect(scene.subjects()[1]).toMatch(/^\[RESOLVED critical\] Tanium SSO: scimtap dropped/);
    }, 60_000);
  });

  describe('inhibition ends when the inhibitor resolves', () => {
    it('escrowProportion, muted by scimCompliance, is emailed once scimCompliance resolves and it still fires', async () => {
      scene = await startScene({ postgres: pg.server });
      const { entra, target } = scene;
      const people = users(20);
      await scene.provisionCycle(people);

      // Next cycle: the app answers filters with 404 (scimCompliance) and every other call with 500 (escrow).
      scene.advance(40 * MIN);
      target.setFaults({ nonCompliantFilter: true });
      await entra.probe();
      let draw = 0;
      target.setFaults({ errorRate: 0.5, random: () => (draw++ % 2 === 0 ? 0.2 : 0.8) });
      for (const u of people) await entra.update(u);
      await scene.settle();
      const firing = async () =>
        (
          (await scene!.api('/api/incidents?state=firing')).body.items as {
            rule: string;
            notifications: unknown[];
          }[]
        )
          .map((i) => i.rule)
          .sort();
      expect(await firing()).toEqual(['escrowProportion', 'scimCompliance']);
      expect(scene.subjects()).toHaveLength(1);
      expect(scene.subjects()[0]).toMatch(/^\[FIRING critical\] Tanium SSO: .*filter/i);

      // The filters are fixed; the 500s go on, so the cycle's failure share stays near half. scimCompliance
      // clears once its window holds 20 answered filter queries (every other lookup fails: 40 lookups).
      target.setFaults({ nonCompliantFilter: false });
      for (const u of [...people, ...people]) await entra.lookup(u);
      await scene.settle();
      scene.advance(2 * MIN);
      await scene.settle();
      await scene.settle();
      expect(await firing()).toEqual(['escrowProportion']);
      const subjects = scene.subjects();
      expect(subjects.filter((s) => s.startsWith('[RESOLVED critical]'))).toHaveLength(1);
      const escrow = scene.emails().filter((m) => /calls failed/.test(m.subject ?? ''));
      expect(escrow.map((m) => m.subject)).toHaveLength(1);
      expect(escrow[0].subject).toMatch(/^\[FIRING critical\] Tanium SSO: \d+% of a cycle's calls failed/);
      expect(escrow[0].text).toMatch(/Held back while scimCompliance fired/);
    }, 60_000);
  });

  describe('advice from real traffic', () => {
    it('a Tenant URL ending in /scim/v2 in front of an upstream that has it too: "repeats /scim/v2", not "missing"', async () => {
      // SCIMTAP_UPSTREAM = http://target/scim/v2 while Entra calls <scimtap>/scim/v2/Users: the app sees /scim/v2/scim/v2/Users
      scene = await startScene({ postgres: pg.server, upstream: (url) => url });
      await scene.entra.probe();
      await scene.entra.lookup('ada@example.com');
      await scene.settle();
      const email = scene.emails().find((m) => /filter queries/.test(m.subject ?? ''));
      expect(email?.subject).toMatch(/^\[FIRING critical\] Tanium SSO: filter queries answered/);
      expect(email?.text).toMatch(/repeats \/scim\/v2/);
      expect(email?.text).not.toMatch(/missing/);
    }, 60_000);
  });
});
