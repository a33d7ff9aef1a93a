/**
 * What a start opened, closed in the reverse order by one function: at stop, and when a start fails halfway (a
 * listener that cannot bind), where an open handle would otherwise keep a process that failed to start alive.
 * Each part registers its closer as soon as it is open, so the order of shutdown is the order of startup reversed,
 * written once.
 */
export interface Closers {
  /** `close` undoes what was just opened; it may be async, and may run before the rest of the start happened */
  add(name: string, close: () => unknown): void;
  /** close everything registered, newest first; a closer that throws is reported and the others still run */
  closeAll(): Promise<void>;
}

export function createClosers(onError: (name: string, err: unknown) => void): Closers {
  const stack: { name: string; close: () => unknown }[] = [];
  return {
    add(name, close) {
      stack.push({ name, close });
    },
    async closeAll() {
      for (let c = stack.pop(); c; c = stack.pop()) {
        try {
          await c.close();
        } catch (err) {
          onError(c.name, err);
        }
      }
    },
  };
}
