import { describe, expect, it } from 'vitest';
import { backoffMs } from './outbox.js';
import { isRetryable } from './sender.js';

describe('isRetryable', () => {
  it.each([
    // the SMTP server is not there: try later
    [{ code: 'ECONNECTION' }, true],
    [{ code: 'ESOCKET' }, true],
    [{ code: 'ETIMEDOUT' }, true],
    // DNS may be a blip
    [{ code: 'EDNS' }, true],
    // 421 service not available, 450/451/452 mailbox busy, local error, storage: transient by definition
    [{ code: 'EENVELOPE', responseCode: 452 }, true],
    [{ code: 'EPROTOCOL', responseCode: 421 }, true],
    // 454 temporary authentication failure
    [{ code: 'EAUTH', responseCode: 454 }, true],
    // 550 no such user / relay denied: the address is wrong, retrying changes nothing
    [{ code: 'EENVELOPE', responseCode: 550 }, false],
    // 553 mailbox name not allowed
    [{ code: 'EENVELOPE', responseCode: 553 }, false],
    // 535 bad credentials: a configuration error
    [{ code: 'EAUTH', responseCode: 535 }, false],
    // no recipients at all: permanent
    [{ code: 'EENVELOPE' }, false],
    // a message nodemailer cannot build: permanent
    [{ code: 'EMESSAGE' }, false],
    // an unknown error without a reply code: retry rather than lose the email
    [{}, true],
  ])('%j → %s', (err, expected) => {
    expect(isRetryable(err)).toBe(expected);
  });
});

describe('backoffMs', () => {
  it.each([
    // first retry after the base
    [1, 30_000],
    // doubling
    [2, 60_000],
    [3, 120_000],
    // capped at 15 minutes
    [10, 900_000],
  ])('after %i attempts: %i ms', (attempts, ms) => {
    expect(backoffMs(attempts, 30_000, 900_000)).toBe(ms);
  });
});
