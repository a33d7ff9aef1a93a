import { type CycleAcc, newCycleAcc } from './cycle-fold.js';
import type { EscrowBase, ObservedOperation } from './tracker.js';
import type { CycleRollup, DetectionInput } from './types.js';

/**
 * The tracker's recent cycles (the cycles stage's, as detection counts them), at most `maxCycles` in memory: an
 * older one folds into the escrow base, the failures counted since the last healthy cycle. A cycle is completed
 * once a newer one opened or `gapMs` passed since its last operation.
 */
export function createCycleWindow(maxCycles: number, gapMs: number) {
  const cycles: CycleAcc[] = [];
  let seq = 0;
  let base: EscrowBase = { failures: 0, failuresBase: 0, since: null };

  function newCycle(op: ObservedOperation & { cycleId: number }): CycleAcc {
    const cycle = newCycleAcc(op, ++seq);
    cycles.push(cycle);
    while (cycles.length > maxCycles) evict(cycles.shift()!);
    return cycle;
  }

  function evict(c: CycleAcc): void {
    // The evicted cycle is never the newest, so it is completed.
    if (isHealthy(c)) base = { failures: 0, failuresBase: 0, since: c.lastOperationAt };
    else
      base = {
        ...base,
        failures: base.failures + c.failures,
        failuresBase: base.failuresBase + c.failuresBase,
      };
  }

  function isCompleted(c: CycleAcc, now: number): boolean {
    return c !== cycles.at(-1) || now - c.lastOperationAt >= gapMs;
  }

  function lastHealthyIndex(now: number): number {
    for (let i = cycles.length - 1; i >= 0; i--) {
      if (isCompleted(cycles[i], now) && isHealthy(cycles[i])) return i;
    }
    return -1;
  }

  return {
    /** The cycles stage segments (ARCHITECTURE §5); an operation it put in no cycle counts in none here. */
    cycleFor(op: ObservedOperation): CycleAcc | null {
      const cycleId = op.cycleId;
      if (cycleId === null || cycleId === undefined) return null;
      const current = cycles.at(-1);
      if (current?.id === cycleId) return current;
      return cycles.find((c) => c.id === cycleId) ?? newCycle({ ...op, cycleId });
    },
    rollups(now: number): CycleRollup[] {
      return cycles.map((c) => rollup(c, isCompleted(c, now)));
    },
    /** failures since the last healthy cycle: the ones in memory after it, else the escrow base and all of them */
    sinceHealthy(now: number): DetectionInput['sinceHealthy'] {
      const h = lastHealthyIndex(now);
      const counted = cycles.slice(h + 1);
      let failures = h >= 0 ? 0 : base.failures;
      let failuresBase = h >= 0 ? 0 : base.failuresBase;
      let lastSeen: number | null = null;
      for (const c of counted) {
        failures += c.failures;
        failuresBase += c.failuresBase;
        if (c.lastFailureAt !== null) lastSeen = c.lastFailureAt;
      }
      return { failures, failuresBase, since: h >= 0 ? cycles[h].lastOperationAt : base.since, lastSeen };
    },
    setEscrowBase(b: EscrowBase): void {
      base = { ...b };
    },
    lastHealthyCycle(now: number): { lastOperationId: number; endedAt: number } | null {
      const h = lastHealthyIndex(now);
      return h >= 0
        ? { lastOperationId: cycles[h].lastOperationId, endedAt: cycles[h].lastOperationAt }
        : null;
    },
  };
}

function isHealthy(c: CycleAcc): boolean {
  return c.failures === 0 && !c.probeOnly;
}

/** A cycle as the rules read it: a copy, with its state at the time of the snapshot. */
function rollup(c: CycleAcc, completed: boolean): CycleRollup {
  const { failed, lastOperationId: _last, ...rest } = c;
  return {
    ...rest,
    endedAt: completed ? c.lastOperationAt : null,
    state: completed ? 'completed' : 'running',
    probe: c.probe ? { ...c.probe } : null,
    failureSamples: [...c.failureSamples],
    deleteSamples: [...c.deleteSamples],
    throttleSamples: [...c.throttleSamples],
    failedIdentities: [...failed.shown],
    failedIdentityCount: failed.size,
  };
}
