import type { Health } from './api.js';

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Operations and bodies deleted to stay within SCIMTAP_MAX_DB_MB. */
export function storagePruned(health: Health): number {
  const s = health.storage;
  return s ? s.operationsPruned + s.bodiesPruned : 0;
}

/** What the recorder pill's tooltip says: the last error, the file, the budget and what keeping it cost. */
export function recorderTooltip(health: Health): string {
  const lines: string[] = [];
  if (health.db === 'missing' || health.db === 'replaced') {
    lines.push(
      `The database file (SCIMTAP_DB) was ${health.db === 'missing' ? 'deleted' : 'replaced'} while scimtap has it open: what is recorded now is lost at exit. Restart scimtap.`,
    );
  }
  if (health.recorder.lastError) lines.push(`Last error: ${health.recorder.lastError}`);
  const s = health.storage;
  if (s) {
    lines.push(
      `Storage: ${mb(s.totalBytes)} of ${mb(s.budgetBytes)} (SCIMTAP_MAX_DB_MB), WAL ${mb(s.walBytes)}`,
    );
    if (storagePruned(health) > 0) {
      lines.push(
        `Pruned to stay within it: ${s.bodiesPruned} bodies, ${s.operationsPruned} operations, ${s.identitiesPruned} identities`,
      );
    }
  }
  const total = health.recorder.droppedTotal ?? health.recorder.dropped;
  if (total > 0) lines.push(`Dropped: ${health.recorder.dropped} since start, ${total} in all`);
  return lines.join('\n');
}

/** Derivation this far behind the operations log, in seconds, shows on every page (issue 12 §2). */
export const derivationShownAfterSeconds = 5;

/**
 * What the derivation pill says, or null when derivation keeps up: cycles, users & groups and incidents are
 * folded from the operations log after it is written, and may lag during a burst.
 */
export function derivationLag(health: Health): { text: string; title: string } | null {
  const d = health.derivation;
  if (!d || d.operations === 0 || d.seconds < derivationShownAfterSeconds) return null;
  const seconds = Math.round(d.seconds);
  return {
    text: `derivation ${seconds} s behind`,
    title:
      `${d.operations} recorded operations are not yet in cycles, users & groups and incidents: these pages ` +
      `show the state as of ${seconds} s ago. Derivation catches up by itself once the burst is over.`,
  };
}
