import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBurstRunner } from './burst.js';

describe('createBurstRunner', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const make = (maxWaitMs = 2_000, onError = vi.fn()) => {
    const during = vi.fn();
    const after = vi.fn();
    const runner = createBurstRunner(
      { during, after },
      { duringMs: 500, quietMs: 500, maxWaitMs, onError, now: () => Date.now() },
    );
    return { during, after, runner };
  };

  it('runs `after` once, when the burst has been quiet for quietMs', () => {
    const { after, runner } = make();
    for (let i = 0; i < 5; i++) {
      runner.request();
      vi.advanceTimersByTime(100);
    }
    // 100 ms after the last request: the burst may go on
    expect(after).not.toHaveBeenCalled();
    vi.advanceTimersByTime(400);
    expect(after).toHaveBeenCalledTimes(1);
  });

  it('runs `during` every duringMs while the burst goes on, and not after it', () => {
    const { during, after, runner } = make(10_000);
    for (let i = 0; i < 20; i++) {
      runner.request();
      vi.advanceTimersByTime(100);
    }
    // 2 s of requests: one `during` per 500 ms
    expect(during).toHaveBeenCalledTimes(4);
    vi.advanceTimersByTime(500);
    expect(after).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(5_000);
    expect(during).toHaveBeenCalledTimes(4);
  });

  it('a stream that never pauses still runs `after` maxWaitMs after its first request', () => {
    const { after, runner } = make();
    for (let i = 0; i < 25; i++) {
      runner.request();
      vi.advanceTimersByTime(100);
    }
    expect(after).toHaveBeenCalledTimes(1);
  });

  it('on a loaded machine, a pause longer than quietMs inside a burst does not end it', () => {
    const { after, runner } = make(10_000);
    runner.request();
    vi.advanceTimersByTime(300);
    runner.request();
    // a pause of 300 ms in the burst: 600 ms of quiet is not yet three of them
    vi.advanceTimersByTime(600);
    expect(after).not.toHaveBeenCalled();
    runner.request();
    // now the longest pause is 600 ms: the burst is over after 1,800 ms of quiet
    vi.advanceTimersByTime(1_799);
    expect(after).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(after).toHaveBeenCalledTimes(1);
  });

  it('stop drops the pending runs and ignores later requests', () => {
    const { during, after, runner } = make();
    runner.request();
    runner.stop();
    runner.request();
    vi.advanceTimersByTime(5_000);
    expect(during).not.toHaveBeenCalled();
    expect(after).not.toHaveBeenCalled();
  });

  it('a run that throws is reported and the next burst runs again', () => {
    const onError = vi.fn();
    const { after, runner } = make(2_000, onError);
    after.mockImplementationOnce(() => {
      throw new Error('boom');
    });
    runner.request();
    vi.advanceTimersByTime(500);
    runner.request();
    vi.advanceTimersByTime(500);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(after).toHaveBeenCalledTimes(2);
  });
});
