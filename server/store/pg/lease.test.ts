import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { currentLeader, type LeaderLease, startLeaderLease } from './lease.js';
import { createPool, type Pool } from './pool.js';

const waitFor = async (what: string, check: () => boolean | Promise<boolean>, ms = 20_000) => {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
};

describe('the leader lease', () => {
  let server: PostgresServer;
  let url: string;
  let pool: Pool;
  const leases: LeaderLease[] = [];
  const contend = (replica: string) => {
    const lease = startLeaderLease({ url, replica });
    leases.push(lease);
    return lease;
  };
  // Sampled all along: two replicas must never both believe they lead.
  let bothLed = false;
  let sampler: NodeJS.Timeout;

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase();
    pool = createPool(url, { max: 2 });
    sampler = setInterval(() => {
      if (leases.filter((l) => l.leading).length > 1) bothLed = true;
    }, 20);
  });
  afterAll(async () => {
    clearInterval(sampler);
    await Promise.all(leases.map((l) => l.stop()));
    await pool?.end();
    await server?.stop();
  });

  // One leads, the other waits; killing the leader's session hands the lead over well within 15 s.
  it('has one leader, and another takes over when its connection is killed', async () => {
    const a = contend('a');
    await waitFor('a to lead', () => a.leading);
    const b = contend('b');
    await new Promise((r) => setTimeout(r, 2_500));
    expect([a.leading, b.leading]).toEqual([true, false]);
    const leader = await currentLeader(pool);
    expect(leader?.replica).toBe('a');

    await pool.query('select pg_terminate_backend($1)', [leader?.pid]);
    const took = await waitFor('b to take over', () => b.leading);
    expect(took).toBeLessThan(15_000);
    expect(a.leading).toBe(false);
    // a reconnects and keeps trying, but b holds it.
    await new Promise((r) => setTimeout(r, 2_500));
    expect([a.leading, b.leading]).toEqual([false, true]);
    expect((await currentLeader(pool))?.replica).toBe('b');

    // Stopping hands the lead over too.
    await b.stop();
    expect(await waitFor('a to lead again after b stops', () => a.leading)).toBeLessThan(15_000);
    await a.stop();
    expect(bothLed).toBe(false);
  });

  // kill -9 of the leading process: the server ends its session, and a replica in another process takes over.
  it('moves to another replica when the leading process is killed', { timeout: 120_000 }, async () => {
    const lease = fileURLToPath(new URL('./lease.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { startLeaderLease } from ${JSON.stringify(lease)};
         startLeaderLease({ url: ${JSON.stringify(url)}, replica: 'doomed', onChange: (l) => l && console.log('leading') });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      // Its start (tsx, imports) is slow on a busy machine; only the takeover is timed.
      await waitFor(
        'the child to lead',
        async () => (await currentLeader(pool))?.replica === 'doomed',
        90_000,
      );
      const c = contend('c');
      await new Promise((r) => setTimeout(r, 2_500));
      expect(c.leading).toBe(false);
      child.kill('SIGKILL');
      const took = await waitFor('c to take over', () => c.leading);
      expect(took).toBeLessThan(15_000);
      expect((await currentLeader(pool))?.replica).toBe('c');
    } finally {
      child.kill('SIGKILL');
    }
    expect(bothLed).toBe(false);
  });
});
