import { describe, expect, it } from 'vitest';
import type { ClientKind } from '../scim/types.js';
import { anonymous, type ClientFacts, recognise } from './clients.js';

const ENTRA = 'aaaaaaaaaaaa';
const STRANGER = 'bbbbbbbbbbbb';

function facts(partial: Partial<ClientFacts>): ClientFacts {
  return {
    httpStatus: 200,
    resourceType: 'User',
    operation: 'lookup',
    tokenFingerprint: ENTRA,
    refused: false,
    ...partial,
  };
}

describe('recognise: whose request is this', () => {
  const known = { accepted: new Set([ENTRA]) };
  const fresh = { accepted: new Set<string>() };
  const probe = { operation: 'testConnection' as const };
  it.each<[string, { accepted: Set<string> }, Partial<ClientFacts>, ClientKind, string | null]>([
    // Entra's token, accepted before, now rejected (expired, rotated in the app): still the client
    ['known token rejected', known, { httpStatus: 401 }, 'provisioning', null],
    // a 2xx on a SCIM resource makes a new token the client's (Entra's Secret Token was replaced and works)
    ['new token accepted', known, { tokenFingerprint: STRANGER }, 'provisioning', STRANGER],
    ['first token accepted', fresh, {}, 'provisioning', ENTRA],
    // a wrong token between cycles, once Entra's works: a stranger
    ['wrong token lookup', known, { tokenFingerprint: STRANGER, httpStatus: 401 }, 'unrecognised', null],
    [
      'wrong token list',
      known,
      { tokenFingerprint: STRANGER, httpStatus: 401, operation: 'list' },
      'unrecognised',
      null,
    ],
    // ... but on Entra's GUID probe it is Entra with a changed Secret Token
    [
      'wrong token probe',
      known,
      { tokenFingerprint: STRANGER, httpStatus: 401, ...probe },
      'provisioning',
      null,
    ],
    // first setup: no token ever worked, a token on a SCIM path is Entra's until shown otherwise
    ['never-worked token', fresh, { httpStatus: 401 }, 'provisioning', null],
    ['never-worked token, Groups', fresh, { httpStatus: 403, resourceType: 'Group' }, 'provisioning', null],
    // scanners with no token never count, first setup or not
    [
      'scanner /.env',
      fresh,
      { tokenFingerprint: null, httpStatus: 401, resourceType: 'Other', operation: 'other' },
      'unrecognised',
      null,
    ],
    [
      'scanner /',
      known,
      { tokenFingerprint: null, httpStatus: 401, resourceType: 'Other', operation: 'other' },
      'unrecognised',
      null,
    ],
    [
      'anonymous lookup, first setup',
      fresh,
      { tokenFingerprint: null, httpStatus: 401 },
      'unrecognised',
      null,
    ],
    // a token on a non-SCIM path at first setup: not Entra-shaped
    [
      'token on /wp-login.php',
      fresh,
      { httpStatus: 401, resourceType: 'Other', operation: 'other' },
      'unrecognised',
      null,
    ],
    // a 2xx on a non-SCIM path (an app that serves / openly) accepts nothing
    [
      '2xx on /',
      fresh,
      { tokenFingerprint: STRANGER, resourceType: 'Other', operation: 'other' },
      'unrecognised',
      null,
    ],
    // an app that needs no token: "no token" becomes the client's credential once it works
    ['anonymous accepted', fresh, { tokenFingerprint: null }, 'provisioning', anonymous],
    [
      'anonymous known',
      { accepted: new Set([anonymous]) },
      { tokenFingerprint: null, httpStatus: 404, resourceType: 'Other' },
      'provisioning',
      null,
    ],
    // refused by SCIMTAP_TRUSTED_CLIENTS: never the client, whatever the token
    ['refused', known, { refused: true, httpStatus: 403 }, 'unrecognised', null],
  ])('%s', (_name, state, partial, kind, accepts) => {
    expect(recognise(state, facts(partial))).toEqual({ kind, accepts });
  });
});
