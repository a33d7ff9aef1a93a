import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDebounced } from './debounce.js';

describe('createDebounced', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const make = (run: () => void, onError = vi.fn()) =>
    createDebounced(run, { quietMs: 500, maxWaitMs: 2_000, onError, now: () => Date.now() });

  it('runs once, after the burst has been quiet for quietMs', () => {
    const run = vi.fn();
    const d = make(run);
    for (let i = 0; i < 5; i++) {
      d.request();
      vi.advanceTimersByTime(100);
    }
    // 100 ms after the last request: a run now would read half a burst
    expect(run).not.toHaveBeenCalled();
    vi.advanceTimersByTime(400);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('a stream that never pauses still runs maxWaitMs after its first request', () => {
    const run = vi.fn();
    const d = make(run);
    for (let i = 0; i < 25; i++) {
      d.request();
      vi.advanceTimersByTime(100);
    }
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('on a loaded machine, a pause longer than quietMs inside a burst does not end it', () => {
    const run = vi.fn();
    const d = createDebounced(run, {
      quietMs: 500,
      maxWaitMs: 10_000,
      onError: vi.fn(),
      now: () => Date.now(),
    });
    d.request();
    vi.advanceTimersByTime(300);
    d.request();
    // a pause of 300 ms in the burst: 600 ms of quiet is not yet three of them
    vi.advanceTimersByTime(600);
    expect(run).not.toHaveBeenCalled();
    d.request();
    // now the longest pause is 600 ms: the burst is over after 1,800 ms of quiet
    expect(run).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1_799);
    expect(run).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('stop drops the pending run and ignores later requests', () => {
    const run = vi.fn();
    const d = make(run);
    d.request();
    d.stop();
    d.request();
    vi.advanceTimersByTime(5_000);
    expect(run).not.toHaveBeenCalled();
  });

  it('a run that throws is reported and the next burst runs again', () => {
    const onError = vi.fn();
    let calls = 0;
    const d = make(() => {
      calls++;
      if (calls === 1) throw new Error('boom');
    }, onError);
    d.request();
    vi.advanceTimersByTime(500);
    d.request();
    vi.advanceTimersByTime(500);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(calls).toBe(2);
  });
});
