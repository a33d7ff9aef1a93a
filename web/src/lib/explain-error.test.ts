import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../../server/vocabulary.js';
import { explainError } from './explain-error.js';

describe('explainError', () => {
  it.each([
    // the code wins over the status: Entra's vocabulary is what the admin searches for
    ['Unauthorized', 401, null, /credentials/],
    // a 401 without a code (older rows) is still explained as a credentials problem
    [null, 401, null, /credentials/],
    [null, 403, null, /permission|refused/],
    ['EntryConflict', 409, 'uniqueness', /same unique name/],
    [null, 409, null, /same unique name/],
    [null, 429, null, /throttled/],
    [null, 503, null, /HTTP 5xx/],
    ['Timeout', 504, null, /did not answer/],
    ['UpstreamUnreachable', 502, null, /could not reach/],
    ['ScimCompliance', 404, null, /empty ListResponse/],
    // a scimType adds its own words to the summary
    ['InvalidSyntax', 400, 'mutability', /cannot be changed/],
  ])('%s / %s / %s', (code, status, scimType, expected) => {
    expect(explainError(code, status, scimType)?.summary).toMatch(expected);
  });

  it('tells Tanium users about the token- prefix on 401', () => {
    expect(explainError('Unauthorized', 401, null)?.action).toContain('"token-" prefix');
  });

  it('returns null for a success', () => {
    expect(explainError(null, 200, null)).toBeNull();
    expect(explainError(null, null, null)).toBeNull();
  });

  it('explains every error code of the vocabulary', () => {
    for (const code of errorCodes) {
      const e = explainError(code, null, null);
      expect(e?.summary.length, code).toBeGreaterThan(10);
      expect(e?.action.length, code).toBeGreaterThan(10);
    }
  });

  it('falls back to the code itself for an unknown one', () => {
    expect(explainError('SomethingNew', 200, null)?.summary).toContain('SomethingNew');
  });
});
