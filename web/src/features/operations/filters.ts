import {
  errorCodes,
  operationKinds,
  operationStatuses,
  provisioningActions,
  resourceTypes,
} from '../../../../server/vocabulary.js';

/** The filters of GET /api/operations and /api/export.csv, as they sit in the page URL. */
export interface OperationFilters {
  status?: string;
  operation?: string;
  resourceType?: string;
  action?: string;
  httpStatus?: string;
  errorCode?: string;
  from?: string;
  to?: string;
  q?: string;
  cycle?: string;
  identity?: string;
}

const enums: Partial<Record<keyof OperationFilters, readonly string[]>> = {
  status: operationStatuses,
  operation: operationKinds,
  resourceType: resourceTypes,
  action: provisioningActions,
  errorCode: errorCodes,
};

export const filterKeys: (keyof OperationFilters)[] = [
  'status',
  'operation',
  'resourceType',
  'action',
  'httpStatus',
  'errorCode',
  'from',
  'to',
  'q',
  'cycle',
  'identity',
];

/**
 * Reads the filters from URL search params, dropping values the API would reject, so a hand-edited or stale
 * link still opens a working view instead of an error.
 */
export function filtersFromSearch(search: Record<string, string>): OperationFilters {
  const out: OperationFilters = {};
  for (const key of filterKeys) {
    const raw = search[key]?.trim();
    if (!raw) continue;
    const allowed = enums[key];
    if (allowed && !allowed.includes(raw)) continue;
    if (key === 'httpStatus' && !/^[1-5]\d\d$/.test(raw)) continue;
    if (key === 'cycle' && !/^[1-9]\d*$/.test(raw)) continue;
    if ((key === 'from' || key === 'to') && Number.isNaN(Date.parse(raw))) continue;
    out[key] = raw.slice(0, key === 'q' ? 200 : 512);
  }
  return out;
}

/** Stable key of a filter set (for query keys and resetting the pager). */
export function filterKey(f: OperationFilters): string {
  return filterKeys.map((k) => `${k}=${f[k] ?? ''}`).join('&');
}

export function countActive(f: OperationFilters): number {
  return filterKeys.filter((k) => f[k]).length;
}
