import { describe, expect, it } from 'vitest';
import { apiUrl } from './api-client.js';

describe('apiUrl', () => {
  it('leaves empty values out', () => {
    expect(apiUrl('/operations', { status: 'failure', q: '', cursor: undefined, limit: 50 }, null)).toBe(
      '/api/operations?status=failure&limit=50',
    );
    expect(apiUrl('/status', {}, null)).toBe('/api/status');
  });

  it('names the app first when there is one', () => {
    expect(apiUrl('/status', {}, 'tanium')).toBe('/api/status?app=tanium');
    expect(apiUrl('/cycles', { limit: 60 }, 'tanium')).toBe('/api/cycles?app=tanium&limit=60');
    expect(apiUrl('/export.csv', { status: 'failure', errorCode: 'Unauthorized' }, 'hr suite')).toBe(
      '/api/export.csv?app=hr+suite&status=failure&errorCode=Unauthorized',
    );
  });

  it("the app comes from the argument, not from the filters' params", () => {
    expect(apiUrl('/operations', { app: 'other', status: 'failure' }, 'tanium')).toBe(
      '/api/operations?app=tanium&status=failure',
    );
    expect(apiUrl('/operations', { app: 'other' }, null)).toBe('/api/operations');
  });

  it('keeps a query the path carries', () => {
    expect(apiUrl('/notifications/test?receiver=email', {}, 'tanium')).toBe(
      '/api/notifications/test?receiver=email&app=tanium',
    );
    expect(apiUrl('/notifications/test?receiver=email', {}, null)).toBe(
      '/api/notifications/test?receiver=email',
    );
  });

  it("defaults to the app the page's URL names: none without a browser", () => {
    expect(apiUrl('/status')).toBe('/api/status');
  });
});
