/** Knobs that make the target misbehave the way real SCIM apps do. Applied in this order. */
export interface TargetFaults {
  /** Every request answers 401, as when the app's token has expired or been revoked. */
  tokenExpired: boolean;
  /** Delay in ms added before every answer (after the token check). */
  latencyMs: number;
  /** Share (0..1) of requests answered 429 with `Retry-After`. */
  throttleRate: number;
  /** Share (0..1) of requests answered 500. */
  errorRate: number;
  /** Filter queries with no match answer 404 instead of an empty ListResponse (Entra quarantines for this). */
  nonCompliantFilter: boolean;
  /** userNames whose POST always answers 409 uniqueness, matched case-insensitively. */
  conflictUserNames: string[];
  /**
   * Share (0..1) of users whose writes the app refuses, as when it starts enforcing a rule some source values
   * break: a create answers 409 uniqueness, an update (PUT, PATCH) 400 invalidValue; deletes go through. The
   * users are picked by a hash of the userName salted with `refuseSalt`, so raising the share keeps refusing
   * every user it refused before: their changes stay escrowed, as Entra retries them cycle after cycle.
   */
  refuseUserShare: number;
  /** Salt of the hash that picks the refused users; a seed gives the same users every run. */
  refuseSalt: number;
  /** Source of randomness for the rates; Math.random when unset. */
  random?: () => number;
}

export const NO_FAULTS: TargetFaults = {
  tokenExpired: false,
  latencyMs: 0,
  throttleRate: 0,
  errorRate: 0,
  nonCompliantFilter: false,
  conflictUserNames: [],
  refuseUserShare: 0,
  refuseSalt: 0,
};

/** Throws on a rate outside 0..1 or a latency that is not a finite number of ms. */
export function checkFaults(f: TargetFaults): void {
  for (const name of ['errorRate', 'throttleRate', 'refuseUserShare'] as const) {
    if (!(f[name] >= 0 && f[name] <= 1))
      throw new RangeError(`${name} must be between 0 and 1, got ${f[name]}`);
  }
  if (!(f.latencyMs >= 0 && Number.isFinite(f.latencyMs))) {
    throw new RangeError(`latencyMs must be a finite number >= 0, got ${f.latencyMs}`);
  }
  if (!Array.isArray(f.conflictUserNames)) throw new TypeError('conflictUserNames must be an array');
}

/**
 * Whether the app refuses writes for this user at the current `refuseUserShare`: FNV-1a of the salted,
 * lower-cased userName, read as a fraction of 2^32. Pure.
 */
export function refusesUser(
  f: Pick<TargetFaults, 'refuseUserShare' | 'refuseSalt'>,
  userName: string,
): boolean {
  if (f.refuseUserShare <= 0) return false;
  let hash = 0x811c9dc5;
  for (const c of `${f.refuseSalt}:${userName.toLowerCase()}`) {
    hash ^= c.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash / 4294967296 < f.refuseUserShare;
}
