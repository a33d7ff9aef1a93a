import { lookOf } from '../../lib/state.js';
import type { StatusState } from '../../types/api.js';

export function StateBanner({ state, reason }: { state: StatusState; reason: string }) {
  const look = lookOf(state);
  return (
    <section className={`banner banner-${state}`} aria-labelledby="state-label" data-state={state}>
      <span className="banner-icon" aria-hidden="true">
        {look.icon}
      </span>
      <div>
        <h1 className="banner-state" id="state-label">
          <span className="sr-only">Provisioning state: </span>
          {look.label}
        </h1>
        <p className="banner-reason">{reason}</p>
      </div>
    </section>
  );
}
