import { describe, expect, it } from 'vitest';
import { addressKey, createFairShare } from './fairness.js';

describe('createFairShare', () => {
  it('admits up to the share, queues up to the queue, refuses the rest', () => {
    const fair = createFairShare({ perClient: 2, queuePerClient: 1 });
    const turns: string[] = [];
    const a = [1, 2, 3, 4].map((i) => fair.admit('a', () => turns.push(`a${i}`)));
    expect(a.map((s) => s.admission)).toEqual(['now', 'now', 'queued', 'refused']);
    expect(fair.usage('a')).toEqual({ running: 2, waiting: 1 });
    expect(turns).toEqual([]);
  });

  it('counts each client on its own: a busy client does not use up another one', () => {
    const fair = createFairShare({ perClient: 1, queuePerClient: 0 });
    expect(fair.admit('attacker', () => {}).admission).toBe('now');
    expect(fair.admit('attacker', () => {}).admission).toBe('refused');
    expect(fair.admit('entra', () => {}).admission).toBe('now');
    expect(fair.clients()).toBe(2);
  });

  it('hands a freed slot to the oldest waiter of the same client, which then holds it', () => {
    const fair = createFairShare({ perClient: 1, queuePerClient: 2 });
    const turns: string[] = [];
    const first = fair.admit('a', () => turns.push('first'));
    const second = fair.admit('a', () => turns.push('second'));
    const third = fair.admit('a', () => turns.push('third'));
    first.release();
    expect(turns).toEqual(['second']);
    expect(fair.usage('a')).toEqual({ running: 1, waiting: 1 });
    second.release();
    expect(turns).toEqual(['second', 'third']);
    third.release();
    expect(fair.usage('a')).toEqual({ running: 0, waiting: 0 });
    expect(fair.clients()).toBe(0);
  });

  it('lets a waiter leave the queue (it gave up waiting) without taking or freeing a slot', () => {
    const fair = createFairShare({ perClient: 1, queuePerClient: 1 });
    const turns: string[] = [];
    const running = fair.admit('a', () => turns.push('running'));
    const waiting = fair.admit('a', () => turns.push('waiting'));
    waiting.release();
    expect(fair.usage('a')).toEqual({ running: 1, waiting: 0 });
    // the queue place is free again
    expect(fair.admit('a', () => turns.push('next')).admission).toBe('queued');
    running.release();
    expect(turns).toEqual(['next']);
  });

  it('ignores a second release, and the release of a refused request', () => {
    const fair = createFairShare({ perClient: 1, queuePerClient: 0 });
    const s = fair.admit('a', () => {});
    const r = fair.admit('a', () => {});
    r.release();
    expect(fair.usage('a').running).toBe(1);
    s.release();
    s.release();
    expect(fair.usage('a')).toEqual({ running: 0, waiting: 0 });
    // a double release did not hand out a phantom slot
    fair.admit('a', () => {});
    expect(fair.admit('a', () => {}).admission).toBe('refused');
  });

  it('forgets clients with nothing running or waiting (memory bounded by open requests)', () => {
    const fair = createFairShare({ perClient: 4, queuePerClient: 4 });
    for (let i = 0; i < 1_000; i++) fair.admit(`10.0.${i >> 8}.${i & 255}`, () => {}).release();
    expect(fair.clients()).toBe(0);
  });
});

describe('addressKey', () => {
  it.each([
    // IPv4 as it is
    ['203.0.113.7', '203.0.113.7'],
    // IPv4 seen on a dual-stack socket counts as the same client as plain IPv4
    ['::ffff:203.0.113.7', '203.0.113.7'],
    // IPv6: the /64, so one host cannot take a share per address
    ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    // zeros compressed in the prefix, leading zeros and case do not matter
    ['2001:0DB8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    // zone index dropped
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    // no address (socket already gone): one shared key
    ['', ''],
  ])('%s → %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
