import { describe, expect, it } from 'vitest';
import { createClosers } from './closers.js';

describe('closers', () => {
  it('close newest first, wait for async ones, and go on past one that throws', async () => {
    const done: string[] = [];
    const errors: string[] = [];
    const closers = createClosers((name) => errors.push(name));
    closers.add('db', () => done.push('db'));
    closers.add('thread', async () => {
      await new Promise((r) => setTimeout(r, 5));
      done.push('thread');
    });
    closers.add('broken', () => {
      throw new Error('boom');
    });
    closers.add('listener', () => done.push('listener'));
    await closers.closeAll();
    expect(done).toEqual(['listener', 'thread', 'db']);
    expect(errors).toEqual(['broken']);
    // Each closes once: a second call has nothing left.
    await closers.closeAll();
    expect(done).toHaveLength(3);
  });
});
