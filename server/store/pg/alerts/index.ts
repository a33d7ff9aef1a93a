// The alert engine's store on PostgreSQL: the leader's evaluation (fenced by its epoch), and what any replica's
// API writes (acknowledgements, tests).

export { loadOpenIncidents } from '../queries/incidents.js';
export { type Acknowledgement, pgAcknowledge, pgQueueTest } from './acknowledge.js';
export { createPgEvaluation, type PgEvaluation, type PgEvaluationOptions } from './evaluation.js';
export { epochKey, FencedError, takeAlertEpoch } from './write-back.js';
