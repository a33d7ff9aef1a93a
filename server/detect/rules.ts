import type { RulesConfig } from '../config.js';
import type { Rule } from './rule-helpers.js';
import {
  backoffSuspected,
  escrowProportion,
  escrowTotal,
  stalled,
  stuckObject,
  throttling,
  tooManyDeletes,
} from './rules-cycle.js';
import {
  credentials,
  recorderFailing,
  scimCompliance,
  slowUpstream,
  unrecognisedClients,
  upstreamUnavailable,
} from './rules-stream.js';
import type { DetectionInput, Finding, RuleCode } from './types.js';

export {
  decisiveCycle,
  formatDuration,
  isAttempt,
  isFailingCycle,
  percent,
  type Rule,
} from './rule-helpers.js';
export { percentile } from './rules-stream.js';
export {
  backoffSuspected,
  credentials,
  escrowProportion,
  escrowTotal,
  recorderFailing,
  scimCompliance,
  slowUpstream,
  stalled,
  stuckObject,
  throttling,
  tooManyDeletes,
  unrecognisedClients,
  upstreamUnavailable,
};

export const rules: Record<RuleCode, Rule> = {
  credentials,
  scimCompliance,
  upstreamUnavailable,
  escrowProportion,
  escrowTotal,
  tooManyDeletes,
  throttling,
  slowUpstream,
  stuckObject,
  stalled,
  backoffSuspected,
  recorderFailing,
  unrecognisedClients,
};

/** Every rule over one snapshot. */
export function evaluateRules(input: DetectionInput, config: RulesConfig, now: number): Finding[] {
  return Object.values(rules).flatMap((rule) => rule(input, config, now));
}
