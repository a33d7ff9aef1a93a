import { isIPv6 } from 'node:net';
import { memoize } from './memo.js';

// Fair shares of the upstream pool (issue 10 §2): one client address may have at most `perClient` upstream
// requests in flight; up to `queuePerClient` more wait for one of its own slots to free; the rest are refused.
// Pure accounting, no timers and no I/O: the proxy decides how long a request may wait and what to answer.

export type Admission = 'now' | 'queued' | 'refused';

export interface Slot {
  readonly admission: Admission;
  /** Give the slot back (running) or leave the queue (waiting). Safe to call more than once, and when refused. */
  release(): void;
}

export interface FairShareOptions {
  /** upstream requests one client may have in flight */
  perClient: number;
  /** requests of one client that may wait for its slots beyond those */
  queuePerClient: number;
}

export interface FairShare {
  /**
   * Ask for a slot for `client`. `'now'`: go ahead. `'queued'`: `onTurn` is called when one of the client's
   * slots frees (the slot is then running). `'refused'`: the client already has its share and a full queue.
   */
  admit(client: string, onTurn: () => void): Slot;
  /** running and waiting requests of a client */
  usage(client: string): { running: number; waiting: number };
  /** clients with a request running or waiting (entries are dropped when both reach zero) */
  clients(): number;
}

interface Entry {
  running: number;
  waiting: Waiter[];
}

interface Waiter {
  onTurn: () => void;
  state: 'waiting' | 'running' | 'released';
}

export function createFairShare({ perClient, queuePerClient }: FairShareOptions): FairShare {
  const byClient = new Map<string, Entry>();

  const refused: Slot = { admission: 'refused', release: () => {} };

  function releaseRunning(client: string, entry: Entry): void {
    entry.running--;
    // FIFO: the oldest waiter of this client takes the slot it just gave back
    const next = entry.waiting.shift();
    if (next) {
      entry.running++;
      next.state = 'running';
      next.onTurn();
    } else if (entry.running === 0) {
      byClient.delete(client);
    }
  }

  function admit(client: string, onTurn: () => void): Slot {
    let entry = byClient.get(client);
    if (!entry) {
      entry = { running: 0, waiting: [] };
      byClient.set(client, entry);
    }
    const e = entry;
    if (e.running < perClient) {
      e.running++;
      let released = false;
      return {
        admission: 'now',
        release() {
          if (released) return;
          released = true;
          releaseRunning(client, e);
        },
      };
    }
    if (e.waiting.length >= queuePerClient) return refused;
    const waiter: Waiter = { onTurn, state: 'waiting' };
    e.waiting.push(waiter);
    return {
      admission: 'queued',
      release() {
        if (waiter.state === 'released') return;
        const was = waiter.state;
        waiter.state = 'released';
        if (was === 'running') return releaseRunning(client, e);
        e.waiting.splice(e.waiting.indexOf(waiter), 1);
        if (e.running === 0 && e.waiting.length === 0) byClient.delete(client);
      },
    };
  }

  return {
    admit,
    usage(client) {
      const e = byClient.get(client);
      return { running: e?.running ?? 0, waiting: e?.waiting.length ?? 0 };
    },
    clients: () => byClient.size,
  };
}

/**
 * Whose share a request counts against, from the client's address (the socket's peer, or X-Forwarded-For's
 * client when the peer is a trusted proxy: see `clientAddress`). An IPv6 address is taken as its /64: one
 * host usually holds a whole /64, so counting single v6 addresses would let it open 2^64 shares. Behind a load
 * balancer that is not listed in SCIMTAP_TRUSTED_PROXIES, every request shares the balancer's quota. Asked once
 * per request, of the few addresses a SCIM client connects from (a regex and, for IPv6, a split): remembered.
 */
export const addressKey: (address: string) => string = memoize(keyOf);

function keyOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, without leading zeros (zone index dropped). */
function expandIPv6(address: string): string[] {
  const plain = address.split('%')[0].toLowerCase();
  const [head, tail] = plain.includes('::') ? plain.split('::') : [plain, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // an embedded IPv4 tail (::1.2.3.4) counts as two groups; it only matters for the /64 when it is in them
  const groups = (list: string[]) => list.flatMap((g) => (g.includes('.') ? ['v4', 'v4'] : [g]));
  const l = groups(left);
  const r = groups(right);
  const middle = tail === undefined ? [] : Array(8 - l.length - r.length).fill('0');
  return [...l, ...middle, ...r].map((g) => (g === 'v4' ? g : g.replace(/^0+(?=.)/, '')));
}
