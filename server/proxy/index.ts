import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRedactor } from '../scim/redact.js';
import { clientAddress, createAdmission } from './admission.js';
import type { AddressSet } from './cidr.js';
import { type ExchangeSink, splitTarget } from './exchange.js';
import { type ForwardContext, forward } from './forward.js';
import { createRefusals, REFUSED_REASON } from './refusals.js';
import { createCredentialReader } from './tap.js';
import { dotSegment } from './target.js';
import { createUpstream } from './upstream.js';

// The proxy handler wires the stages of one exchange: client admission (admission.ts; refusals.ts for what
// scimtap answers itself), the forwarding (forward.ts) with its upstream call (upstream.ts), capture of both
// bodies (capture.ts) and the record handed to the sink (exchange.ts).

export { clientAddress } from './admission.js';
export type { ExchangeSink } from './exchange.js';
export { forwardHeaders } from './headers.js';
export { REFUSED_REASON, scimError } from './refusals.js';
export { joinPath } from './upstream.js';

export interface ProxyOptions {
  /** base URL of the real SCIM endpoint, e.g. https://tenant.example.com/scim/v2 */
  upstream: string;
  sink: ExchangeSink;
  timeoutMs?: number;
  /** time from the request's headers to the end of its body; then 408 and the upstream request is aborted */
  bodyTimeoutMs?: number;
  /** upstream requests one client address may have in flight (its share of the pool) */
  clientConcurrency?: number;
  /** how long a request over its client's share may wait for one of the client's slots; then 429 */
  clientQueueMs?: number;
  /** bytes of each body kept for classification; 0 keeps none (capture 'none') */
  captureLimitBytes?: number;
  /** extra CA bundle (PEM) trusted for the upstream, on top of the system's */
  upstreamCa?: string;
  /**
   * Attributes whose values are secrets (capture `redacted`); null: none. A request body longer than the capture
   * limit is scanned as it streams for their values, so that an app echoing one can be scrubbed.
   */
  redact?: string[] | null;
  /** SCIMTAP_TRUSTED_CLIENTS: when set, any other client address gets scimtap's own 403 */
  trustedClients?: AddressSet;
  /** SCIMTAP_TRUSTED_PROXIES: X-Forwarded-For is believed only from these */
  trustedProxies?: AddressSet;
  clock?: () => number;
}

export interface ScimProxy {
  /** `rawUrl`: the request target the app sees (without an app's prefix, see router.ts); default req.url */
  handle(req: IncomingMessage, res: ServerResponse, rawUrl?: string): void;
  /** requests forwarded and not yet finished */
  inFlight(): number;
  close(): void;
}

export function createProxy({
  upstream,
  sink,
  timeoutMs = 60_000,
  bodyTimeoutMs = 30_000,
  clientConcurrency = 64,
  clientQueueMs = 5_000,
  captureLimitBytes = 65_536,
  upstreamCa,
  redact = null,
  trustedClients,
  trustedProxies,
  clock = Date.now,
}: ProxyOptions): ScimProxy {
  const isRedacted = redact ? createRedactor(redact) : null;
  const target = createUpstream(upstream, upstreamCa);
  const readCredential = createCredentialReader();
  const { refuse, refuseClient } = createRefusals({ sink, clock, readCredential, captureLimitBytes });
  let inFlight = 0;
  const forwarding: ForwardContext = {
    target,
    admission: createAdmission({ clientConcurrency, clientQueueMs }),
    sink,
    clock,
    readCredential,
    isRedacted,
    captureLimitBytes,
    timeoutMs,
    bodyTimeoutMs,
    finished: () => {
      inFlight--;
    },
  };

  function handle(req: IncomingMessage, res: ServerResponse, rawUrl = req.url ?? '/'): void {
    const clientIp = clientAddress(req, trustedProxies);
    const { path, query } = splitTarget(rawUrl);
    if (trustedClients && !trustedClients.has(clientIp)) {
      refuseClient(req, res, { startedAt: clock(), path, query, clientIp });
      return;
    }
    const dot = dotSegment(path);
    if (dot !== null) {
      refuse(
        req,
        res,
        { startedAt: clock(), path, query, clientIp },
        `${REFUSED_REASON}: its path has a "${dot}" segment, which could leave the upstream's base path`,
      );
      return;
    }
    inFlight++;
    forward(forwarding, req, res, rawUrl, { startedAt: clock(), path, query, clientIp });
  }

  return {
    handle,
    inFlight: () => inFlight,
    close: () => target.close(),
  };
}
