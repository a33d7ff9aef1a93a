import { type CycleRisk, riskLook } from '../lib/risk.js';

/** A cycle's risk as a word and an icon (colour is never the only signal). */
export function RiskBadge({ risk }: { risk: CycleRisk }) {
  const l = riskLook[risk];
  return (
    <span className={`badge badge-risk-${risk}`} title={l.title} data-risk={risk}>
      <span aria-hidden="true">{l.icon}</span> {l.label}
    </span>
  );
}

/** The legend of the row edges, under a list of cycles. */
export function RiskLegend() {
  return (
    <p className="muted small risk-legend">
      Row edge: <span className="legend-swatch risk-quarantine" aria-hidden="true" /> red, Entra would count
      the cycle toward quarantine (probe failed, credentials refused, non-SCIM answer, or failures over the
      escrow threshold); <span className="legend-swatch risk-failures" aria-hidden="true" /> amber, some calls
      failed; none, clean.
    </p>
  );
}
