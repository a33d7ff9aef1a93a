import type { Db } from '../../server/store/db.js';
import { backfillTerms } from '../../server/store/terms.js';

/**
 * Fills the operations table with realistic Entra → SCIM app traffic, fast: one prepared statement, large
 * transactions, no HTTP and no classification. Shape (defaults): a 5,000-user, 200-group tenant, an initial
 * cycle that looks up and creates everything, then a cycle every 40 min with a Test Connection probe and a
 * lookup + change per changed object (mostly updates, some creates/disables/deletes, group member changes),
 * about 2% failures. Deterministic for a given seed.
 */
export interface FillOptions {
  rows: number;
  users?: number;
  groups?: number;
  /** time of the last operation (ms); the first cycle starts about `days` before it */
  end?: number;
  days?: number;
  cycleIntervalMin?: number;
  /** insert request/response bodies for operations at or after this time (ms); default none */
  bodiesSince?: number;
  seed?: number;
  /** rows per transaction */
  batch?: number;
  onProgress?(inserted: number): void;
}

export interface FillResult {
  rows: number;
  cycles: number;
  bodies: number;
  firstTime: number;
  lastTime: number;
  /** a few real values, for building queries in benchmarks */
  sample: { userName: string; targetId: string; groupName: string; cycleId: number };
}

const minute = 60_000;

export function fillOperations(db: Db, options: FillOptions): FillResult {
  const {
    rows,
    users = 5_000,
    groups = 200,
    end = Date.now(),
    days = 182,
    cycleIntervalMin = 40,
    bodiesSince = Number.POSITIVE_INFINITY,
    seed = 42,
    batch = 50_000,
    onProgress,
  } = options;
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const guid = () => {
    const h = () =>
      Math.floor(rnd() * 0x100000000)
        .toString(16)
        .padStart(8, '0');
    const a = h() + h() + h() + h();
    return `${a.slice(0, 8)}-${a.slice(8, 12)}-4${a.slice(13, 16)}-a${a.slice(17, 20)}-${a.slice(20, 32)}`;
  };

  const givenNames = [
    'Adele',
    'Alex',
    'Diego',
    'Grady',
    'Henrietta',
    'Isaiah',
    'Johanna',
    'Joni',
    'Lee',
    'Lidia',
    'Lynne',
    'Megan',
    'Miriam',
    'Nestor',
    'Patti',
    'Pradeep',
  ];
  const familyNames = [
    'Vance',
    'Wilber',
    'Siciliani',
    'Archie',
    'Mueller',
    'Langer',
    'Lorenz',
    'Sherman',
    'Gu',
    'Holloway',
    'Robinson',
    'Bowen',
    'Graham',
    'Wilke',
    'Fernandez',
    'Gupta',
  ];
  const departments = [
    'Sales',
    'Finance',
    'Engineering',
    'Legal',
    'Operations',
    'Marketing',
    'IT',
    'Research',
  ];
  type User = {
    userName: string;
    displayName: string;
    externalId: string;
    targetId: string | null;
    active: boolean;
  };
  type Group = { displayName: string; externalId: string; targetId: string | null };
  const userList: User[] = Array.from({ length: users }, (_, i) => {
    const g = givenNames[i % givenNames.length];
    const f = familyNames[Math.floor(i / givenNames.length) % familyNames.length];
    return {
      userName: `${g.toLowerCase()}.${f.toLowerCase()}${i}@contoso.com`,
      displayName: `${g} ${f}`,
      externalId: guid(),
      targetId: null,
      active: true,
    };
  });
  const groupList: Group[] = Array.from({ length: groups }, (_, i) => ({
    displayName: `${pick(departments)} team ${i}`,
    externalId: guid(),
    targetId: null,
  }));

  const sqlite = db.$client;
  const insert = sqlite.prepare(`
    insert into operations (time, duration_ms, cycle_id, identity_id, http_method, path, query, http_status,
      resource_type, operation, provisioning_action, status, identity_type, identity, external_id, target_id,
      error_code, scim_type, reason, modified_properties, members, request_bytes, response_bytes,
      token_fingerprint, client_ip, user_agent)
    values (?, ?, ?, null, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertBody = sqlite.prepare(`
    insert into bodies (operation_id, time, request_body, request_truncated, response_body, response_truncated)
    values (?, ?, ?, 0, ?, 0)`);

  const base = '/scim/v2';
  const fingerprint = 'a41f0c9d2e77';
  const clientIp = '20.36.144.7';
  const userAgent = 'Microsoft.Identity.Provisioning';
  let time = end - days * 24 * 60 * minute;
  const firstTime = time;
  let cycleId = 0;
  let inserted = 0;
  let bodies = 0;
  let pending = 0;
  sqlite.exec('begin');

  type Op = {
    method: string;
    path: string;
    query?: string;
    status: number | null;
    resourceType: 'User' | 'Group';
    operation: string;
    action: string;
    identity: string;
    externalId: string | null;
    targetId: string | null;
    modified?: { name: string; value: string; redacted?: boolean }[];
    members?: { op: string; ids: string[] }[];
    requestBody?: string;
  };
  const failures: [number, string, string | null, string][] = [
    [409, 'EntryConflict', 'uniqueness', 'userName is already in use'],
    [404, 'NotFound', null, 'Resource not found'],
    [429, 'TooManyRequests', null, 'Too many requests, retry later'],
    [500, 'InternalServerError', null, 'An unexpected error occurred'],
    [400, 'InvalidSyntax', 'invalidValue', 'Attribute emails[type eq "work"].value is not a valid email'],
    [504, 'Timeout', null, 'scimtap: upstream did not answer within 60000 ms'],
  ];

  function emit(op: Op): void {
    if (inserted >= rows) return;
    const durationMs = Math.round(15 + rnd() * rnd() * 600);
    let status = op.status;
    let outcome = 'success';
    let errorCode: string | null = null;
    let scimType: string | null = null;
    let reason: string | null = null;
    if (op.operation !== 'testConnection' && rnd() < 0.02) {
      const f = pick(failures);
      status = f[0];
      errorCode = f[1];
      scimType = f[2];
      reason = f[3];
      outcome = 'failure';
    } else if (op.operation === 'create' && rnd() < 0.01) {
      status = 200;
      outcome = 'warning';
      reason = 'POST answered 200 instead of 201';
    }
    const modified = JSON.stringify(op.modified ?? []);
    const members = JSON.stringify(op.members ?? []);
    const requestBytes = op.requestBody ? op.requestBody.length : 0;
    const responseBody =
      status === 204
        ? null
        : outcome === 'failure'
          ? `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"${status}","detail":"${reason}"}`
          : `{"id":"${op.targetId ?? ''}","meta":{"resourceType":"${op.resourceType}"}}`;
    const { lastInsertRowid } = insert.run(
      time,
      durationMs,
      cycleId,
      op.method,
      op.path,
      op.query ?? '',
      status,
      op.resourceType,
      op.operation,
      op.action,
      outcome,
      op.resourceType,
      op.identity,
      op.externalId,
      op.targetId,
      errorCode,
      scimType,
      reason,
      modified,
      members,
      requestBytes,
      responseBody?.length ?? 0,
      fingerprint,
      clientIp,
      userAgent,
    );
    if (time >= bodiesSince) {
      insertBody.run(Number(lastInsertRowid), time, op.requestBody ?? null, responseBody);
      bodies++;
    }
    inserted++;
    pending++;
    time += durationMs + Math.floor(rnd() * 400);
    if (pending >= batch) {
      sqlite.exec('commit');
      onProgress?.(inserted);
      sqlite.exec('begin');
      pending = 0;
    }
  }

  const userLookup = (u: User, found: boolean): Op => ({
    method: 'GET',
    path: `${base}/Users`,
    query: `filter=userName+eq+%22${encodeURIComponent(u.userName)}%22`,
    status: 200,
    resourceType: 'User',
    operation: 'lookup',
    action: 'other',
    identity: u.userName,
    externalId: null,
    targetId: found ? u.targetId : null,
  });
  const groupLookup = (g: Group): Op => ({
    method: 'GET',
    path: `${base}/Groups`,
    query: `filter=displayName+eq+%22${encodeURIComponent(g.displayName)}%22&excludedAttributes=members`,
    status: 200,
    resourceType: 'Group',
    operation: 'lookup',
    action: 'other',
    identity: g.displayName,
    externalId: null,
    targetId: g.targetId,
  });
  const createUser = (u: User): Op => {
    u.targetId = guid();
    u.active = true;
    const modified = [
      { name: 'userName', value: u.userName },
      { name: 'active', value: 'true' },
      { name: 'displayName', value: u.displayName },
      { name: 'emails[type eq "work"].value', value: u.userName },
      { name: 'externalId', value: u.externalId },
    ];
    if (rnd() < 0.05) modified.push({ name: 'password', value: '[redacted]', redacted: true } as never);
    return {
      method: 'POST',
      path: `${base}/Users`,
      status: 201,
      resourceType: 'User',
      operation: 'create',
      action: 'create',
      identity: u.userName,
      externalId: u.externalId,
      targetId: u.targetId,
      modified,
      requestBody: JSON.stringify({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: u.userName,
        active: true,
        displayName: u.displayName,
        externalId: u.externalId,
      }),
    };
  };
  const patchUser = (u: User, operation: string, action: string, modified: Op['modified']): Op => ({
    method: 'PATCH',
    path: `${base}/Users/${u.targetId}`,
    status: 200,
    resourceType: 'User',
    operation,
    action,
    identity: u.userName,
    externalId: u.externalId,
    targetId: u.targetId,
    modified,
    requestBody: JSON.stringify({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: (modified ?? []).map((m) => ({ op: 'Replace', path: m.name, value: m.value })),
    }),
  });
  const groupMembers = (g: Group, op: 'add' | 'remove'): Op => {
    const ids = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(userList).targetId ?? guid());
    return {
      method: 'PATCH',
      path: `${base}/Groups/${g.targetId}`,
      status: 204,
      resourceType: 'Group',
      operation: op === 'add' ? 'addMembers' : 'removeMembers',
      action: 'update',
      identity: g.displayName,
      externalId: g.externalId,
      targetId: g.targetId,
      members: [{ op, ids }],
      requestBody: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [
          { op: op === 'add' ? 'Add' : 'Remove', path: 'members', value: ids.map((value) => ({ value })) },
        ],
      }),
    };
  };
  const probe = (): Op => ({
    method: 'GET',
    path: `${base}/Users`,
    query: `filter=userName+eq+%22${guid()}%22`,
    status: 200,
    resourceType: 'User',
    operation: 'testConnection',
    action: 'other',
    identity: null as never,
    externalId: null,
    targetId: null,
  });

  // Initial cycle: every user and group is looked up and created, then groups get their members.
  cycleId = 1;
  emit(probe());
  for (const u of userList) {
    emit(userLookup(u, false));
    emit(createUser(u));
  }
  for (const g of groupList) {
    emit(groupLookup(g));
    g.targetId = guid();
    emit({
      method: 'POST',
      path: `${base}/Groups`,
      status: 201,
      resourceType: 'Group',
      operation: 'create',
      action: 'create',
      identity: g.displayName,
      externalId: g.externalId,
      targetId: g.targetId,
      modified: [
        { name: 'displayName', value: g.displayName },
        { name: 'externalId', value: g.externalId },
      ],
    });
    emit(groupMembers(g, 'add'));
  }

  // Incremental cycles: the remaining rows spread evenly over the remaining time.
  const cycleMs = cycleIntervalMin * minute;
  const cyclesLeft = Math.max(1, Math.floor((end - time) / cycleMs));
  const perCycle = Math.max(1, (rows - inserted) / cyclesLeft);
  let nextStart = Math.max(time + 5 * minute, firstTime + cycleMs);
  while (inserted < rows) {
    cycleId++;
    time = nextStart + Math.floor(rnd() * 30_000);
    nextStart += cycleMs;
    const target = inserted + Math.round(perCycle * (0.6 + rnd() * 0.8));
    emit(probe());
    while (inserted < Math.min(target, rows)) {
      const r = rnd();
      const u = pick(userList);
      if (r < 0.55) {
        if (!u.targetId) continue;
        emit(userLookup(u, true));
        emit(
          patchUser(u, 'update', 'update', [
            {
              name: pick(['displayName', 'title', 'department', 'name.familyName']),
              value: `${pick(departments)} ${Math.floor(rnd() * 100)}`,
            },
          ]),
        );
      } else if (r < 0.63) {
        if (!u.targetId) continue;
        emit({
          method: 'GET',
          path: `${base}/Users/${u.targetId}`,
          status: 200,
          resourceType: 'User',
          operation: 'read',
          action: 'other',
          identity: u.userName,
          externalId: u.externalId,
          targetId: u.targetId,
        });
      } else if (r < 0.68) {
        emit(userLookup(u, Boolean(u.targetId)));
        if (!u.targetId) emit(createUser(u));
        else emit(patchUser(u, 'update', 'update', [{ name: 'department', value: pick(departments) }]));
      } else if (r < 0.73) {
        if (!u.targetId) continue;
        emit(userLookup(u, true));
        u.active = !u.active;
        emit(
          patchUser(u, u.active ? 'enable' : 'disable', u.active ? 'update' : 'disable', [
            { name: 'active', value: String(u.active) },
          ]),
        );
      } else if (r < 0.745) {
        if (!u.targetId) continue;
        emit(userLookup(u, true));
        emit({
          method: 'DELETE',
          path: `${base}/Users/${u.targetId}`,
          status: 204,
          resourceType: 'User',
          operation: 'delete',
          action: 'delete',
          identity: u.userName,
          externalId: u.externalId,
          targetId: u.targetId,
        });
        u.targetId = null;
      } else if (r < 0.97) {
        const g = pick(groupList);
        emit(groupLookup(g));
        emit(groupMembers(g, rnd() < 0.7 ? 'add' : 'remove'));
      } else {
        const g = pick(groupList);
        emit(groupLookup(g));
        emit({
          method: 'PATCH',
          path: `${base}/Groups/${g.targetId}`,
          status: 204,
          resourceType: 'Group',
          operation: 'update',
          action: 'update',
          identity: g.displayName,
          externalId: g.externalId,
          targetId: g.targetId,
          modified: [{ name: 'displayName', value: g.displayName }],
        });
      }
    }
  }
  sqlite.exec('commit');
  // What the recorder's terms stage would have written, for `q`.
  backfillTerms(db);
  onProgress?.(inserted);
  const sampleUser = userList.find((u) => u.targetId) ?? userList[0];
  return {
    rows: inserted,
    cycles: cycleId,
    bodies,
    firstTime,
    lastTime: time,
    sample: {
      userName: sampleUser.userName,
      targetId: sampleUser.targetId ?? '',
      groupName: groupList[0]?.displayName ?? '',
      cycleId: Math.max(1, Math.floor(cycleId * 0.1)),
    },
  };
}

/** Small, fast, seedable PRNG (public domain). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
