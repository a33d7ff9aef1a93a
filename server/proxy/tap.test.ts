import { describe, expect, it } from 'vitest';
import { BodyTap, isOwnBody } from './tap.js';

describe('BodyTap', () => {
  it('returns a single chunk as is, which is not its own to move', () => {
    const socketRead = Buffer.from('xx{"a":1}yy');
    const tap = new BodyTap(100);
    tap.push(socketRead.subarray(2, 9));
    const body = tap.body()!;
    expect(body.toString()).toBe('{"a":1}');
    expect(isOwnBody(body)).toBe(false);
  });

  it('joins several chunks into a buffer of its own, which may be moved to another thread', () => {
    const tap = new BodyTap(100);
    tap.push(Buffer.from('{"a":'));
    tap.push(Buffer.from('1}'));
    const body = tap.body()!;
    expect(body.toString()).toBe('{"a":1}');
    expect(isOwnBody(body)).toBe(true);
    expect(isOwnBody(body.subarray(1))).toBe(false);
  });

  it('keeps the first `limit` bytes across chunks and counts them all', () => {
    const tap = new BodyTap(4);
    tap.push(Buffer.from('abc'));
    tap.push(Buffer.from('def'));
    expect(tap.body()!.toString()).toBe('abcd');
    expect(tap.bytes).toBe(6);
    expect(tap.truncated).toBe(true);
  });
});
