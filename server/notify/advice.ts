import type { Incident } from '../alerts/types.js';
import type { RuleCode } from '../detect/types.js';

export interface Link {
  label: string;
  /** path and query under the dashboard's base URL */
  path: string;
}

export interface Advice {
  /** what is failing, in a few words */
  title: string;
  /** how Entra behaves when this happens */
  entra: string;
  cause: string[];
  action: string[];
  links: Link[];
}

const q = (params: Record<string, string | number | null | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) s.set(k, String(v));
  return s.toString();
};

function cycleLinks(incident: Incident): Link[] {
  const id = incident.evidence.details.cycleId;
  if (typeof id !== 'number') return [{ label: 'Cycles', path: '/cycles' }];
  return [
    { label: `Cycle #${id}`, path: `/cycles/${id}` },
    { label: `Failures in cycle #${id}`, path: `/operations?${q({ cycle: id, status: 'failure' })}` },
  ];
}

function fingerprintLine(incident: Incident): string[] {
  const d = incident.evidence.details;
  const rejected = Array.isArray(d.tokenFingerprints) ? d.tokenFingerprints : [];
  const good = typeof d.lastGoodTokenFingerprint === 'string' ? d.lastGoodTokenFingerprint : null;
  if (rejected.length === 0) return [];
  if (d.tokenChanged === true && good) {
    return [
      `The rejected token (fingerprint ${rejected.join(', ')}) is not the one the app last accepted (fingerprint ${good}): the Secret Token in Entra was changed, and the new value is wrong or incomplete.`,
    ];
  }
  if (good && rejected.includes(good)) {
    return [
      `The rejected token (fingerprint ${good}) is the same one the app accepted before: it has most likely expired or been revoked in the app.`,
    ];
  }
  return [
    `Rejected token fingerprint: ${rejected.join(', ')} (the first 12 hex digits of its SHA-256; the token itself is never stored).`,
  ];
}

export interface AdviceContext {
  /** the upstream's base path, e.g. `/scim/v2` (SCIMTAP_UPSTREAM's path); unknown: no path diagnosis */
  upstreamPath?: string;
}

/**
 * What the failing requests' paths say about the Tenant URL. scimtap forwards `<upstream path><path Entra sent>`,
 * so a Tenant URL that repeats the upstream's `/scim/v2` doubles it, and one that points at neither has no SCIM
 * segment at all. Only a diagnosis every sample agrees with is given.
 */
export function tenantPathHint(samplePaths: string[], upstreamPath: string | undefined): string | null {
  if (upstreamPath === undefined || samplePaths.length === 0) return null;
  const forwarded = samplePaths.map((p) =>
    `${upstreamPath}${p.startsWith('/') ? '' : '/'}${p}`.toLowerCase(),
  );
  const doubled = /\/(scim(?:\/v2)?)\/\1(?:\/|$)/;
  if (forwarded.every((p) => doubled.test(p))) {
    const segment = doubled.exec(forwarded[0])![1];
    return `The forwarded path repeats /${segment} (${forwarded[0].slice(0, 120)}): the Tenant URL in Entra ends with /${segment}, and SCIMTAP_UPSTREAM already includes it. scimtap appends the path Entra sends to SCIMTAP_UPSTREAM, so remove /${segment} from one of the two.`;
  }
  if (forwarded.every((p) => !p.includes('scim'))) {
    return `The forwarded path has no /scim segment (${forwarded[0].slice(0, 120)}): if the app serves SCIM under /scim/v2, it is missing from SCIMTAP_UPSTREAM (or from the Tenant URL in Entra).`;
  }
  return null;
}

type AdviceEntry = (incident: Incident, ctx: AdviceContext) => Advice;

/** Likely cause and what to do, per rule (ARCHITECTURE §6; Entra's behaviour from reference/entra-scim.md). */
const advice: Record<RuleCode, AdviceEntry> = {
  credentials: (incident) => {
    const d = incident.evidence.details;
    const status = d.httpStatus === 403 ? 403 : 401;
    return {
      title: `the app rejects Entra's credentials (HTTP ${status})`,
      entra:
        'Entra quarantines the job when the credentials are rejected at the start of a cycle (EncounteredQuarantineException), then retries after 6 h, 12 h, 24 h and daily, and disables it after 4 weeks.',
      cause: [
        status === 401
          ? 'The Secret Token Entra sends is not accepted: it expired, was revoked or regenerated in the app, or was pasted incompletely.'
          : 'The token is recognised but not allowed to provision (HTTP 403): it lacks the SCIM / provisioning permission.',
        ...fingerprintLine(incident),
      ],
      action: [
        'Generate a new token in the app, paste it in Entra (Enterprise applications → the app → Provisioning → Admin Credentials → Secret Token) and click Test Connection.',
        'If this is Tanium SSO, check the Secret Token includes its token- prefix: the token is `token-` followed by 58 letters and digits, and Test Connection fails without the prefix.',
        'After the fix, choose "Restart provisioning" in Entra if the job is already quarantined, rather than waiting for its backoff.',
      ],
      links: [
        {
          label: `Rejected requests (${status})`,
          path: `/operations?${q({ status: 'failure', errorCode: status === 403 ? 'InsufficientRights' : 'Unauthorized' })}`,
        },
      ],
    };
  },
  scimCompliance: (incident, ctx) => ({
    title: 'the app answers filter queries in a way SCIM does not allow',
    entra:
      'Entra treats a 404 or a non-ListResponse to a filter query (including its Test Connection probe) as a SCIM compliance failure and quarantines the job (EncounteredQuarantineException).',
    cause: [
      'A filter query such as GET /Users?filter=userName eq "…" must answer 200 with a ListResponse, empty when nothing matches. The app answered 404, a non-SCIM document or an unparseable body.',
      tenantPathHint(
        incident.evidence.samples.map((s) => s.path),
        ctx.upstreamPath,
      ) ??
        'A Tenant URL (or SCIMTAP_UPSTREAM) that points at a web page, a login redirect or the wrong path gives the same symptom.',
    ],
    action: [
      "Check the Tenant URL in Entra (and SCIMTAP_UPSTREAM) is the app's SCIM base URL.",
      'If the URL is right, the app itself is not compliant: raise it with its vendor, quoting the sample requests in this email.',
    ],
    links: [{ label: 'Non-compliant answers', path: `/operations?${q({ errorCode: 'ScimCompliance' })}` }],
  }),
  upstreamUnavailable: () => ({
    title: 'the app cannot be reached or answers 502/503/504 or times out',
    entra:
      'Entra retries failed calls in about 40 minutes; when a cycle cannot reach the app at all, it quarantines the job (EncounteredQuarantineException).',
    cause: [
      'The app is down or in maintenance, or a network, DNS, TLS or firewall problem sits between scimtap and the app.',
    ],
    action: [
      "Check the app's status page, then from the scimtap host: curl -i <SCIMTAP_UPSTREAM>/ServiceProviderConfig.",
      'If scimtap itself cannot resolve or reach the app, check its network path and SCIMTAP_UPSTREAM_CA for a private CA.',
    ],
    links: [
      { label: 'Unreachable', path: `/operations?${q({ errorCode: 'UpstreamUnreachable' })}` },
      { label: 'Timeouts', path: `/operations?${q({ errorCode: 'Timeout' })}` },
    ],
  }),
  escrowProportion: (incident) => ({
    title: "a large share of a cycle's calls fail",
    entra:
      "Entra quarantines the job when more than 40% of a cycle's operations fail (EncounteredEscrowProportionThreshold; Entra applies it from 5,000 failures, scimtap warns much earlier).",
    cause: [
      'Usually one systematic error: a required attribute missing or badly mapped, a value the app refuses, or an app-side bug or outage.',
    ],
    action: [
      "Open the cycle's failures, group them by error code and reason, and fix the mapping in Entra or the app.",
    ],
    links: cycleLinks(incident),
  }),
  escrowTotal: () => ({
    title: 'failures are piling up across cycles',
    entra:
      'Entra retries escrowed objects every cycle and quarantines the job past 40,000 failures (EncounteredBaseEscrowThreshold) or 60,000 of all kinds (EncounteredTotalEscrowThreshold).',
    cause: ['No cycle has run clean for a while; the same objects keep failing and new ones join them.'],
    action: [
      'Fix the most frequent errors first: each object that succeeds leaves escrow. The affected identities listed in this email are from the latest failing cycle.',
    ],
    links: [
      { label: 'All failures', path: `/operations?${q({ status: 'failure' })}` },
      { label: 'Failing identities', path: `/identities?${q({ status: 'failure' })}` },
    ],
  }),
  tooManyDeletes: (incident) => {
    const d = incident.evidence.details;
    return {
      title: 'one cycle deletes or disables an unusual number of objects',
      entra:
        "Entra's accidental-deletion prevention quarantines the job (TooManyDeletes) when one cycle would delete or disable more than its threshold (500 by default).",
      cause: [
        'A scoping filter or assignment changed (a group unassigned, a filter edited), or a mass change in the source directory.',
      ],
      action: [
        'If it is not intended: pause provisioning in Entra now, then check the scoping filters and assignments.',
        'If it is intended: approve it in Entra (Provisioning → Settings → Prevent accidental deletion) and raise rules.tooManyDeletes in scimtap if this happens regularly.',
      ],
      links: [
        ...cycleLinks(incident).slice(0, 1),
        {
          label: 'Disables',
          path: `/operations?${q({ operation: 'disable', cycle: (d.cycleId as number) ?? null })}`,
        },
        {
          label: 'Deletes',
          path: `/operations?${q({ operation: 'delete', cycle: (d.cycleId as number) ?? null })}`,
        },
      ],
    };
  },
  throttling: (incident) => ({
    title: 'the app throttles Entra (HTTP 429)',
    entra:
      'Entra retries throttled calls in later cycles and its handling of Retry-After is unclear; storms of 429 have been reported to end in quarantine.',
    cause: [
      "The app's rate limit is below Entra's pace (gallery apps are expected to take at least 25 requests per second).",
    ],
    action: ['Ask the vendor to raise the rate limit for the provisioning client, or to exempt it.'],
    links: [
      ...cycleLinks(incident).slice(0, 1),
      { label: 'Throttled requests', path: `/operations?${q({ httpStatus: 429 })}` },
    ],
  }),
  slowUpstream: () => ({
    title: 'the app answers slowly',
    entra:
      'Entra gives up on slow calls (Timeout; endpoints should answer well within 60 s) and retries them in a later cycle.',
    cause: ['The app is overloaded or degraded; large group member updates are a common slow path.'],
    action: ["Check the app's health and latency; if member PATCHes are slow, raise it with the vendor."],
    links: [{ label: 'Timeouts', path: `/operations?${q({ errorCode: 'Timeout' })}` }],
  }),
  stuckObject: (incident) => ({
    title: 'the same objects fail in every cycle',
    entra:
      'Entra escrows objects that fail and retries them every cycle; they never converge and count towards its escrow thresholds.',
    cause: [
      '409 EntryConflict: the object already exists in the app under the same userName / displayName but is not linked to this Entra object (a different externalId, a manual creation, a previous tenant).',
      '400 InvalidSyntax or another 4xx: a value the app refuses for this object only.',
    ],
    action: [
      "Open each identity's timeline; for a 409, delete or re-link the existing object in the app (or fix the matching attribute); for a 400, fix the value in the source.",
      'An object you cannot fix yet can be silenced on its own (a silence with this rule and the identity), leaving the others watched.',
    ],
    links: [
      { label: 'Failing identities', path: `/identities?${q({ status: 'failure' })}` },
      ...incident.evidence.identities
        .slice(0, 3)
        .map((i) => ({ label: i.name, path: `/operations?${q({ identity: i.name })}` })),
    ],
  }),
  stalled: () => ({
    title: 'no provisioning cycle when one was expected',
    entra:
      'Entra runs an incremental cycle about every 40 minutes. Missing cycles mean the job was paused or stopped, is quarantined, or no longer goes through scimtap.',
    cause: [
      'Provisioning was stopped in Entra, the job is in quarantine, the Tenant URL now points elsewhere, or scimtap is unreachable from Entra.',
    ],
    action: [
      "Check the job in Entra (Provisioning → Overview): its status, the last cycle's time and whether it is quarantined.",
    ],
    links: [{ label: 'Cycles', path: '/cycles' }],
  }),
  backoffSuspected: (incident) => ({
    title: 'Entra seems to have quarantined the job',
    entra:
      'A quarantined job is retried after about 6 h, 12 h, 24 h, then daily, and is disabled after 4 weeks in quarantine. It leaves quarantine when a cycle succeeds or on "Restart provisioning".',
    cause: [
      'After a failing cycle, the next one did not come at the usual 40-minute interval: this is what quarantine looks like from the app side.',
    ],
    action: [
      'Fix the failure that started it (see the failing cycle and any other open incident), then choose "Restart provisioning" in Entra instead of waiting for the backoff.',
    ],
    links: cycleLinks(incident),
  }),
  recorderFailing: () => ({
    title: 'scimtap cannot record the traffic',
    entra: 'Entra is not affected: requests are still forwarded. But what is not recorded is not watched.',
    cause: [
      'The database cannot be written: disk full, permissions, a read-only or locked file.',
      'Or the file at SCIMTAP_DB was deleted or replaced while scimtap had it open.',
    ],
    action: [
      'Check free space and permissions for SCIMTAP_DB, and the scimtap log for the database error.',
      'If the file was deleted or replaced, restart scimtap: it keeps writing to the file it opened, which is gone at exit.',
    ],
    links: [{ label: 'Health', path: '/api/health' }],
  }),
  unrecognisedClients: (incident) => {
    const d = incident.evidence.details;
    const list = (v: unknown) => (Array.isArray(v) ? v.slice(0, 5).join(', ') : '');
    return {
      title: "requests from clients that are not Entra's provisioning job",
      entra:
        "Entra is not affected: these requests are not Entra's, and scimtap keeps them out of cycles, per-user outcomes and the credentials rule. Entra does not quarantine for them.",
      cause: [
        'The proxy listener is reachable from the internet: scanners probe any HTTPS endpoint (/, /.env, /wp-login.php), and someone may be trying tokens against the SCIM API.',
        ...(list(d.addresses) ? [`Most requests came from ${list(d.addresses)}.`] : []),
        ...(list(d.paths) ? [`Paths asked for: ${list(d.paths)}.`] : []),
        "A request counts as unrecognised when its token never worked (once Entra's has), when it has no token and no token is known, or when SCIMTAP_TRUSTED_CLIENTS refused its address.",
      ],
      action: [
        "Nothing is needed for provisioning. To keep strangers away from the app, set SCIMTAP_TRUSTED_CLIENTS to Entra's provisioning ranges (the AzureActiveDirectory service tag), or filter at the load balancer.",
        'If these addresses are your own load balancer, set SCIMTAP_TRUSTED_PROXIES so that X-Forwarded-For names the real client.',
        'If Entra itself appears here (its token, refused by SCIMTAP_TRUSTED_CLIENTS), the list is missing a range: update it from the current service tag.',
      ],
      links: [{ label: 'Unrecognised clients', path: '/incidents#unrecognised' }],
    };
  },
};

export function adviceFor(incident: Incident, ctx: AdviceContext = {}): Advice {
  return advice[incident.rule](incident, ctx);
}
