import { describe, expectTypeOf, it } from 'vitest';
import type { IncidentView } from '../../../server/alerts/views.js';
import type { AppSummary as ServerAppSummary } from '../../../server/api/routes/apps.js';
import type { OverallState } from '../../../server/cycles/health.js';
import type { CycleView } from '../../../server/cycles/view.js';
import type { OperationView } from '../../../server/store/queries/operations.js';
import type { CycleOutcome as ServerCycleOutcome } from '../../../server/store/queries/outcomes.js';
import type { UnrecognisedReport as ServerUnrecognised } from '../../../server/store/queries/unrecognised.js';
import type {
  AppSummary,
  Cycle,
  CycleOutcome,
  Incident,
  Operation,
  Status,
  UnrecognisedReport,
} from './api.js';

// The dashboard's wire types are read from the server's route chain, not written beside it: each is the very
// view the server's route returns (checked by `tsc`, which `npm run lint` runs; these tests only name the pairs).
describe('the dashboard reads the admin API types from the server', () => {
  it("the status answer carries the server's states and incident views", () => {
    expectTypeOf<Status['state']>().toEqualTypeOf<OverallState>();
    expectTypeOf<Status['incidents'][number]>().toEqualTypeOf<Incident>();
    expectTypeOf<Status['basis']>().toEqualTypeOf<'incidents'>();
  });

  it("lists are pages of the server's views", () => {
    expectTypeOf<Cycle>().toEqualTypeOf<CycleView>();
    expectTypeOf<Operation>().toEqualTypeOf<OperationView>();
    // all but the evidence's free-form details, which arrive as JSON values rather than `unknown`
    expectTypeOf<Omit<Incident, 'evidence'>>().toEqualTypeOf<Omit<IncidentView, 'evidence'>>();
    expectTypeOf<CycleOutcome>().toEqualTypeOf<ServerCycleOutcome>();
    expectTypeOf<UnrecognisedReport>().toEqualTypeOf<ServerUnrecognised>();
  });

  it("the fleet's rows are the server's app summaries, in the overview's states", () => {
    expectTypeOf<AppSummary>().toEqualTypeOf<ServerAppSummary>();
    expectTypeOf<AppSummary['state']>().toEqualTypeOf<OverallState>();
  });
});
