import { describe, expect, it } from 'vitest';
import { countActive, filterKey, filtersFromSearch } from './filters.js';

describe('filtersFromSearch', () => {
  it.each([
    // the email link case: both filters kept
    [
      { status: 'failure', errorCode: 'Unauthorized' },
      { status: 'failure', errorCode: 'Unauthorized' },
    ],
    // unknown enum values are dropped instead of making the API answer 400
    [{ status: 'broken', operation: 'create' }, { operation: 'create' }],
    [{ httpStatus: '4xx' }, {}],
    [{ httpStatus: '409' }, { httpStatus: '409' }],
    [{ cycle: '0' }, {}],
    [{ cycle: '12' }, { cycle: '12' }],
    [{ from: 'yesterday', to: '2024-05-01T10:00:00.000Z' }, { to: '2024-05-01T10:00:00.000Z' }],
    // blank values and params the API does not know are ignored
    [{ q: '  ', page: '3', cursor: 'abc' }, {}],
    // free text is kept as typed, including markup (React renders it as text)
    [{ q: '<img src=x>' }, { q: '<img src=x>' }],
  ])('%j → %j', (search, expected) => {
    expect(filtersFromSearch(search)).toEqual(expected);
  });

  it('caps the text query at the API limit', () => {
    expect(filtersFromSearch({ q: 'x'.repeat(500) }).q).toHaveLength(200);
  });
});

describe('filterKey / countActive', () => {
  it('is the same for the same filters whatever the key order', () => {
    expect(filterKey({ status: 'failure', q: 'a' })).toBe(filterKey({ q: 'a', status: 'failure' }));
    expect(filterKey({ status: 'failure' })).not.toBe(filterKey({ status: 'success' }));
  });
  it('counts set filters', () => {
    expect(countActive({})).toBe(0);
    expect(countActive({ status: 'failure', q: 'ada' })).toBe(2);
  });
});
