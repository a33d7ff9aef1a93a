import type { Db } from '../../server/store/db.js';
import { backfillTerms } from '../../server/store/terms.js';
import {
  createGroup,
  createRandom,
  createTenant,
  createUser,
  deleteUser,
  departments,
  groupLookup,
  groupMembers,
  type Op,
  patchUser,
  probe,
  type Random,
  readUser,
  renameGroup,
  type Tenant,
  userLookup,
} from './traffic.js';

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
  const random = createRandom(seed);
  const tenant = createTenant(random, users, groups);
  const firstTime = end - days * 24 * 60 * minute;
  const writer = createWriter(db, random, { rows, bodiesSince, batch, onProgress, time: firstTime });

  writer.cycleId = 1;
  initialCycle(writer, random, tenant);

  // Incremental cycles: the remaining rows spread evenly over the remaining time.
  const { rnd } = random;
  const cycleMs = cycleIntervalMin * minute;
  const cyclesLeft = Math.max(1, Math.floor((end - writer.time) / cycleMs));
  const perCycle = Math.max(1, (rows - writer.inserted) / cyclesLeft);
  let nextStart = Math.max(writer.time + 5 * minute, firstTime + cycleMs);
  while (writer.inserted < rows) {
    writer.cycleId++;
    writer.time = nextStart + Math.floor(rnd() * 30_000);
    nextStart += cycleMs;
    const target = writer.inserted + Math.round(perCycle * (0.6 + rnd() * 0.8));
    writer.emit(probe(random));
    while (writer.inserted < Math.min(target, rows)) change(writer, random, tenant);
  }
  writer.finish();
  // What the recorder's terms stage would have written, for `q`.
  backfillTerms(db);
  onProgress?.(writer.inserted);
  const sampleUser = tenant.userList.find((u) => u.targetId) ?? tenant.userList[0];
  return {
    rows: writer.inserted,
    cycles: writer.cycleId,
    bodies: writer.bodies,
    firstTime,
    lastTime: writer.time,
    sample: {
      userName: sampleUser.userName,
      targetId: sampleUser.targetId ?? '',
      groupName: tenant.groupList[0]?.displayName ?? '',
      cycleId: Math.max(1, Math.floor(writer.cycleId * 0.1)),
    },
  };
}

/** Every user and group is looked up and created, then groups get their members. */
function initialCycle({ emit }: Writer, random: Random, { userList, groupList }: Tenant): void {
  emit(probe(random));
  for (const u of userList) {
    emit(userLookup(u, false));
    emit(createUser(random, u));
  }
  for (const g of groupList) {
    emit(groupLookup(g));
    emit(createGroup(random, g));
    emit(groupMembers(random, userList, g, 'add'));
  }
}

/** One change in an incremental cycle: mostly user updates and group member changes. */
function change({ emit }: Writer, random: Random, { userList, groupList }: Tenant): void {
  const { rnd, pick } = random;
  const r = rnd();
  const u = pick(userList);
  if (r < 0.55) {
    if (!u.targetId) return;
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
    if (!u.targetId) return;
    emit(readUser(u));
  } else if (r < 0.68) {
    emit(userLookup(u, Boolean(u.targetId)));
    if (!u.targetId) emit(createUser(random, u));
    else emit(patchUser(u, 'update', 'update', [{ name: 'department', value: pick(departments) }]));
  } else if (r < 0.73) {
    if (!u.targetId) return;
    emit(userLookup(u, true));
    u.active = !u.active;
    emit(
      patchUser(u, u.active ? 'enable' : 'disable', u.active ? 'update' : 'disable', [
        { name: 'active', value: String(u.active) },
      ]),
    );
  } else if (r < 0.745) {
    if (!u.targetId) return;
    emit(userLookup(u, true));
    emit(deleteUser(u));
  } else if (r < 0.97) {
    const g = pick(groupList);
    emit(groupLookup(g));
    emit(groupMembers(random, userList, g, rnd() < 0.7 ? 'add' : 'remove'));
  } else {
    const g = pick(groupList);
    emit(groupLookup(g));
    emit(renameGroup(g));
  }
}

const failures: [number, string, string | null, string][] = [
  [409, 'EntryConflict', 'uniqueness', 'userName is already in use'],
  [404, 'NotFound', null, 'Resource not found'],
  [429, 'TooManyRequests', null, 'Too many requests, retry later'],
  [500, 'InternalServerError', null, 'An unexpected error occurred'],
  [400, 'InvalidSyntax', 'invalidValue', 'Attribute emails[type eq "work"].value is not a valid email'],
  [504, 'Timeout', null, 'scimtap: upstream did not answer within 60000 ms'],
];

/** What the app answered: about 2% of requests fail; a few creates answer 200 instead of 201. */
function answer({ rnd, pick }: Random, op: Op) {
  if (op.operation !== 'testConnection' && rnd() < 0.02) {
    const [status, errorCode, scimType, reason] = pick(failures);
    return { status, outcome: 'failure', errorCode, scimType, reason };
  }
  if (op.operation === 'create' && rnd() < 0.01) {
    return {
      status: 200,
      outcome: 'warning',
      errorCode: null,
      scimType: null,
      reason: 'POST answered 200 instead of 201',
    };
  }
  return { status: op.status, outcome: 'success', errorCode: null, scimType: null, reason: null };
}

function responseBody(op: Op, { status, outcome, reason }: ReturnType<typeof answer>): string | null {
  if (status === 204) return null;
  return outcome === 'failure'
    ? `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"${status}","detail":"${reason}"}`
    : `{"id":"${op.targetId ?? ''}","meta":{"resourceType":"${op.resourceType}"}}`;
}

const fingerprint = 'a41f0c9d2e77';
const clientIp = '20.36.144.7';
const userAgent = 'Microsoft.Identity.Provisioning';

function prepareInserts(sqlite: Db['$client']) {
  const insert = sqlite.prepare(`
    insert into operations (time, duration_ms, cycle_id, identity_id, http_method, path, query, http_status,
      resource_type, operation, provisioning_action, status, identity_type, identity, external_id, target_id,
      error_code, scim_type, reason, modified_properties, members, request_bytes, response_bytes,
      token_fingerprint, client_ip, user_agent)
    values (?, ?, ?, null, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertBody = sqlite.prepare(`
    insert into bodies (operation_id, time, request_body, request_truncated, response_body, response_truncated)
    values (?, ?, ?, 0, ?, 0)`);
  return { insert, insertBody };
}

type Writer = ReturnType<typeof createWriter>;

/**
 * Inserts operations (and their bodies) with one prepared statement in transactions of `batch` rows. `time`
 * and `cycleId` are the clock and cycle of the next row; `emit` advances the clock past the row it wrote.
 */
function createWriter(
  db: Db,
  random: Random,
  options: Pick<FillOptions, 'onProgress'> & {
    rows: number;
    bodiesSince: number;
    batch: number;
    time: number;
  },
) {
  const { rows, bodiesSince, batch, onProgress } = options;
  const { rnd } = random;
  const sqlite = db.$client;
  const { insert, insertBody } = prepareInserts(sqlite);
  let pending = 0;
  sqlite.exec('begin');

  const writer = {
    time: options.time,
    cycleId: 0,
    inserted: 0,
    bodies: 0,
    emit(op: Op): void {
      if (writer.inserted >= rows) return;
      const { time } = writer;
      const durationMs = Math.round(15 + rnd() * rnd() * 600);
      const answered = answer(random, op);
      const { status, outcome, errorCode, scimType, reason } = answered;
      const requestBytes = op.requestBody ? op.requestBody.length : 0;
      const response = responseBody(op, answered);
      const { lastInsertRowid } = insert.run(
        time,
        durationMs,
        writer.cycleId,
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
        JSON.stringify(op.modified ?? []),
        JSON.stringify(op.members ?? []),
        requestBytes,
        response?.length ?? 0,
        fingerprint,
        clientIp,
        userAgent,
      );
      if (time >= bodiesSince) {
        insertBody.run(Number(lastInsertRowid), time, op.requestBody ?? null, response);
        writer.bodies++;
      }
      writer.inserted++;
      pending++;
      writer.time += durationMs + Math.floor(rnd() * 400);
      if (pending >= batch) {
        sqlite.exec('commit');
        onProgress?.(writer.inserted);
        sqlite.exec('begin');
        pending = 0;
      }
    },
    finish(): void {
      sqlite.exec('commit');
    },
  };

  return writer;
}
