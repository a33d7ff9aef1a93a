import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { type AddressSet, normaliseAddress } from './cidr.js';
import { addressKey, createFairShare } from './fairness.js';

export interface AdmissionOptions {
  /** upstream requests one client address may have in flight (its share of the pool) */
  clientConcurrency: number;
  /** how long a request over its client's share may wait for one of the client's slots; then 429 */
  clientQueueMs: number;
}

/** A request's place in its client's share: running, waiting, or refused. */
export interface Turn {
  /**
   * Starts the request now if the client has a free slot, else waits up to clientQueueMs for one; over the
   * share, `throttled` gets the detail and headers of the 429 to answer.
   */
  begin(throttled: (detail: string, headers: OutgoingHttpHeaders) => void): void;
  /** Gives the slot back, or leaves the queue. Safe to call more than once. */
  release(): void;
}

export interface Admission {
  /** `start` runs when the request may go upstream: at `begin`, or when one of its client's slots frees. */
  admit(clientIp: string | null, start: () => void): Turn;
}

export function createAdmission({ clientConcurrency, clientQueueMs }: AdmissionOptions): Admission {
  // A request holds an upstream socket from its headers to the end of the answer, so a client that sends its
  // body slowly holds one for as long as it likes: without shares, 300 such clients starved everyone else.
  // As many waiters as running requests: a burst of twice the share is smoothed, more is refused at once.
  const fair = createFairShare({ perClient: clientConcurrency, queuePerClient: clientConcurrency });
  const share = `its ${clientConcurrency} concurrent upstream requests`;
  // Over its share, a client is told to come back (RFC 6585 §4) rather than take sockets from the others.
  const retryAfter = { 'retry-after': String(Math.max(1, Math.ceil(clientQueueMs / 1_000))) };

  function admit(clientIp: string | null, start: () => void): Turn {
    let waitTimer: NodeJS.Timeout | undefined;
    const slot = fair.admit(addressKey(clientIp ?? ''), () => {
      clearTimeout(waitTimer);
      start();
    });
    return {
      begin(throttled) {
        if (slot.admission === 'now') start();
        else if (slot.admission === 'refused') {
          throttled(`this client already has ${share} and as many waiting`, retryAfter);
        } else {
          waitTimer = setTimeout(
            () =>
              throttled(
                `this client has ${share} in use, and none freed within ${clientQueueMs} ms`,
                retryAfter,
              ),
            clientQueueMs,
          );
        }
      },
      release() {
        clearTimeout(waitTimer);
        slot.release();
      },
    };
  }

  return { admit };
}

/**
 * The client's address. X-Forwarded-For is anyone's to write, so it is believed only when the socket's peer is
 * a trusted proxy, and then read from the right: each trusted hop appended the address it saw, and the first
 * address not itself a trusted proxy is the client (a client's own forged entries sit to the left of it).
 */
export function clientAddress(
  req: Pick<IncomingMessage, 'headers' | 'socket'>,
  trustedProxies?: AddressSet,
): string | null {
  const peer = normaliseAddress(req.socket.remoteAddress) ?? req.socket.remoteAddress ?? null;
  if (!trustedProxies?.has(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normaliseAddress(hops[i]);
    if (hop === null) return peer; // garbage in the chain: trust only what the socket says
    if (!trustedProxies.has(hop)) return hop;
  }
  return normaliseAddress(hops[0]) ?? peer;
}
