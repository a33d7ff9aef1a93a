import { encodeCursor } from '../../server/store/queries/cursor.js';

// The admin API requests the API benchmarks time (bench/api.ts on a scimtap process, bench/stores.ts on both
// stores): each filter of /api/operations, a deep cursor, the searches, and the dashboard's other pages.

const day = 86_400_000;

/** What the filled database holds that the requests name: its newest id and time, a cycle, an identity. */
export interface Facts {
  maxId: number;
  lastTime: number;
  midCycle?: number;
  someIdentity?: number;
  sample: { userName: string; targetId: string; groupName: string; cycleId: number };
}

export type Route = [name: string, path: string];

export function operationsRoutes(f: Facts): Route[] {
  const iso = (ms: number) => new Date(ms).toISOString();
  const deep = encodeCursor(f.maxId - 900_000 > 0 ? f.maxId - 900_000 : Math.floor(f.maxId / 10));
  return [
    ['operations (no filter)', '/api/operations'],
    ['operations limit=1000', '/api/operations?limit=1000'],
    ['operations deep cursor (~900k rows in)', `/api/operations?cursor=${deep}`],
    ['operations deep cursor + status=failure', `/api/operations?status=failure&cursor=${deep}`],
    ['operations cycle', `/api/operations?cycle=${f.midCycle ?? f.sample.cycleId}`],
    ['operations identity=userName', `/api/operations?identity=${encodeURIComponent(f.sample.userName)}`],
    ['operations identity=targetId', `/api/operations?identity=${f.sample.targetId}`],
    ...(f.someIdentity
      ? [['operations identity=identity id', `/api/operations?identity=${f.someIdentity}`] as Route]
      : []),
    ['operations resourceType=Group', '/api/operations?resourceType=Group'],
    ['operations resourceType=Schema (none)', '/api/operations?resourceType=Schema'],
    ['operations operation=delete', '/api/operations?operation=delete'],
    ['operations operation=testConnection', '/api/operations?operation=testConnection'],
    ['operations action=disable', '/api/operations?action=disable'],
    ['operations status=failure', '/api/operations?status=failure'],
    ['operations httpStatus=409', '/api/operations?httpStatus=409'],
    ['operations httpStatus=401 (none)', '/api/operations?httpStatus=401'],
    ['operations errorCode=TooManyRequests', '/api/operations?errorCode=TooManyRequests'],
    ['operations from=last 24 h', `/api/operations?from=${iso(f.lastTime - day)}`],
    [
      'operations from/to one day 90 days ago',
      `/api/operations?from=${iso(f.lastTime - 91 * day)}&to=${iso(f.lastTime - 90 * day)}`,
    ],
    ['operations to=170 days ago', `/api/operations?to=${iso(f.lastTime - 170 * day)}`],
    [
      'operations from/to 150..90 days ago',
      `/api/operations?from=${iso(f.lastTime - 150 * day)}&to=${iso(f.lastTime - 90 * day)}`,
    ],
    [
      'operations status=failure + last 7 days',
      `/api/operations?status=failure&from=${iso(f.lastTime - 7 * day)}`,
    ],
    [
      'operations operation=delete + last 24 h',
      `/api/operations?operation=delete&from=${iso(f.lastTime - day)}`,
    ],
    [
      'operations resourceType=User + 150..90 days ago',
      `/api/operations?resourceType=User&from=${iso(f.lastTime - 150 * day)}&to=${iso(f.lastTime - 90 * day)}`,
    ],
    ['operations q=<one user>', `/api/operations?q=${encodeURIComponent(f.sample.userName.slice(0, 12))}`],
    ['operations q=a (keystroke 1)', '/api/operations?q=a'],
    ['operations q=contoso (every user)', '/api/operations?q=contoso'],
    ['operations q=<group name>', `/api/operations?q=${encodeURIComponent(f.sample.groupName)}`],
    ['operations q=<target id prefix>', `/api/operations?q=${f.sample.targetId.slice(0, 8)}`],
    ['operations q=already in use (reason)', '/api/operations?q=already%20in%20use'],
    ['operations q=nothing matches', '/api/operations?q=zz-no-such-thing'],
    ['operations/:id', `/api/operations/${f.maxId - 10}`],
  ];
}

export function optionalRoutes(f: Facts): Route[] {
  return [
    ['status', '/api/status'],
    ['cycles', '/api/cycles'],
    ['cycles/:id', `/api/cycles/${f.midCycle ?? 1}`],
    ['cycles/:id/outcomes (initial cycle)', '/api/cycles/1/outcomes'],
    ['identities', '/api/identities'],
    ['identities?q=<prefix>', `/api/identities?q=${encodeURIComponent(f.sample.userName.slice(0, 8))}`],
    ['identities?q=contoso', '/api/identities?q=contoso'],
    ['identities/:id', `/api/identities/${f.someIdentity ?? 1}`],
    ['timeseries (last 24 h)', `/api/timeseries/operations?from=${f.lastTime - day}&to=${f.lastTime}`],
  ];
}
