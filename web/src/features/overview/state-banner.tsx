import type { StatusState } from '../../types/api.js';

// Colour is never the only signal: each state has its own icon and words.
export const stateLook: Record<StatusState, { icon: string; label: string }> = {
  healthy: { icon: '✓', label: 'Healthy' },
  degraded: { icon: '!', label: 'Degraded' },
  atRisk: { icon: '⚠', label: 'At risk of quarantine' },
  quarantineSuspected: { icon: '‼', label: 'Quarantine suspected' },
  stalled: { icon: '‖', label: 'Stalled' },
  idle: { icon: '○', label: 'Idle' },
};

export function StateBanner({ state, reason }: { state: StatusState; reason: string }) {
  const look = stateLook[state] ?? { icon: '?', label: state };
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
