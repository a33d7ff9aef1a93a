import { Hono } from 'hono';
import type { AdminStore } from '../../store/admin-store.js';
import type { DerivationLag } from '../../store/derivation.js';
import type { ReplicaView } from '../../store/pg/replicas.js';
import type { EmailDeliveryState } from '../../store/queries/notifications.js';
import type { RecorderStats } from '../../store/recorder.js';
import type { StorageStats } from '../../store/storage.js';

export interface HealthDeps {
  store: AdminStore;
  version: string;
  mode: 'proxy' | 'demo';
  /** SCIMTAP_APP_NAME, shown in the dashboard's header */
  appName?: string;
  recorderStats(): RecorderStats;
  /** the storage budget and the database file (absent in tests that build the API alone) */
  storageStats?(): StorageStats;
  /** exchanges dropped over all runs (persisted), this one included */
  droppedTotal?(): number;
  /** what the last forwarded exchanges said about the upstream */
  upstreamState(): 'reachable' | 'unreachable' | 'unknown';
  /** email delivery: a failing SMTP server makes scimtap degraded (its warnings go nowhere) */
  emailState?(): EmailDeliveryState | Promise<EmailDeliveryState>;
  /** how far derivation (cycles, identities, detection) is behind the operations log */
  derivationLag?(): DerivationLag | Promise<DerivationLag>;
  /** on a PostgreSQL store: this replica, the one that leads, and what each replica last said of itself */
  replicas?(): Promise<ReplicasHealth>;
}

export interface ReplicasHealth {
  /** this process's name (SCIMTAP_REPLICA) */
  self: string;
  /** the replica that holds the lead, as the replicas last said; null: none heard of */
  leader: string | null;
  replicas: ReplicaView[];
}

export function healthRoutes({
  store,
  version,
  mode,
  appName = 'SCIM app',
  recorderStats,
  storageStats,
  droppedTotal,
  upstreamState,
  emailState,
  derivationLag,
  replicas,
}: HealthDeps) {
  return new Hono().get('/', async (c) => {
    let dbState: 'ok' | 'failing' | 'error' | 'missing' | 'replaced' = 'ok';
    let storage: StorageStats | null = null;
    try {
      await store.ping();
      if (recorderStats().failing) dbState = 'failing';
    } catch {
      dbState = 'error';
    }
    try {
      storage = storageStats?.() ?? null;
    } catch {
      storage = null;
    }
    // A deleted or replaced file explains any error above, and is what the operator must act on.
    if (storage?.fileProblem) dbState = storage.fileProblem;
    const upstream = upstreamState();
    let email: EmailDeliveryState | null = null;
    try {
      email = (await emailState?.()) ?? null;
    } catch {
      email = null;
    }
    let derivation: DerivationLag | null = null;
    try {
      derivation = (await derivationLag?.()) ?? null;
    } catch {
      derivation = null;
    }
    let replication: ReplicasHealth | null = null;
    try {
      replication = (await replicas?.()) ?? null;
    } catch {
      replication = null;
    }
    const healthy = dbState === 'ok' && upstream !== 'unreachable' && email?.state !== 'failing';
    return c.json({
      status: healthy ? 'ok' : 'degraded',
      version,
      appName,
      db: dbState,
      upstream,
      email,
      mode,
      recorder: { ...recorderStats(), droppedTotal: droppedTotal?.() ?? recorderStats().dropped },
      storage,
      derivation,
      ...(replicas ? { replication } : {}),
    });
  });
}
