import type { DerivedOperation, IngestStage } from '../store/ingest.js';
import { REFUSED_REASON } from './refusals.js';

export type UpstreamState = 'reachable' | 'unreachable' | 'unknown';

/**
 * Whether the app answered, as the last derived operation says (for /api/health): a stage that follows what was
 * derived, on the proxy's thread.
 */
export function createUpstreamState(): { stage: IngestStage; state(): UpstreamState } {
  let last: UpstreamState = 'unknown';
  return {
    stage: {
      afterCommit(ops: DerivedOperation[]) {
        const op = ops[ops.length - 1];
        // A request scimtap refused (a dot-segment path) or throttled itself never reached the upstream: it says
        // nothing of it.
        if (
          !op ||
          op.errorCode === 'ClientAborted' ||
          op.errorCode === 'ClientThrottled' ||
          op.reason?.startsWith(REFUSED_REASON)
        )
          return;
        last =
          op.errorCode === 'UpstreamUnreachable' || op.errorCode === 'Timeout' ? 'unreachable' : 'reachable';
      },
    },
    state: () => last,
  };
}
