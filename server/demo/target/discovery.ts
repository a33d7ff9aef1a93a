import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from './attributes.js';

export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const MAX_RESULTS = 1000;

type Attribute = Record<string, unknown>;

function attr(name: string, type = 'string', options: Attribute = {}): Attribute {
  const base: Attribute = { name, type, multiValued: false, required: false };
  if (type === 'string') base.caseExact = false;
  return { ...base, mutability: 'readWrite', returned: 'default', uniqueness: 'none', ...options };
}

const complex = (name: string, subAttributes: Attribute[], options: Attribute = {}) =>
  attr(name, 'complex', { subAttributes, ...options });
const multi = (name: string, subAttributes: Attribute[]) =>
  complex(name, subAttributes, { multiValued: true });
const typed = (...extra: Attribute[]) => [attr('value'), attr('type'), attr('primary', 'boolean'), ...extra];

// Modelled on what Tanium SSO maps: userName, active, displayName, externalId required; groups with members.
const SCHEMAS = [
  {
    id: USER_SCHEMA,
    name: 'User',
    description: 'User Account',
    attributes: [
      attr('userName', 'string', { required: true, uniqueness: 'server' }),
      complex(
        'name',
        ['formatted', 'familyName', 'givenName', 'middleName'].map((n) => attr(n)),
      ),
      attr('displayName', 'string', { required: true }),
      attr('nickName'),
      attr('title'),
      attr('userType'),
      attr('preferredLanguage'),
      attr('locale'),
      attr('timezone'),
      attr('active', 'boolean', { required: true }),
      attr('password', 'string', { mutability: 'writeOnly', returned: 'never' }),
      multi('emails', typed()),
      multi('phoneNumbers', typed()),
      multi(
        'addresses',
        ['formatted', 'streetAddress', 'locality', 'region', 'postalCode', 'country', 'type']
          .map((n) => attr(n))
          .concat(attr('primary', 'boolean')),
      ),
    ],
  },
  {
    id: GROUP_SCHEMA,
    name: 'Group',
    description: 'Group',
    attributes: [
      attr('displayName', 'string', { required: true, uniqueness: 'server' }),
      multi('members', [
        attr('value', 'string', { mutability: 'immutable' }),
        attr('display', 'string', { mutability: 'readOnly' }),
        attr('type', 'string', { canonicalValues: ['User'] }),
      ]),
    ],
  },
  {
    id: ENTERPRISE_USER_SCHEMA,
    name: 'EnterpriseUser',
    description: 'Enterprise User',
    attributes: [
      attr('employeeNumber'),
      attr('costCenter'),
      attr('organization'),
      attr('division'),
      attr('department'),
      complex('manager', [attr('value'), attr('displayName', 'string', { mutability: 'readOnly' })]),
    ],
  },
];

export interface Discovery {
  serviceProviderConfig: string;
  schemas: string;
  schemaById: Map<string, string>;
  resourceTypes: string;
  resourceTypeById: Map<string, string>;
}

const listOf = (resources: unknown[]) =>
  JSON.stringify({
    schemas: [LIST_SCHEMA],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  });

/** The discovery documents, serialised once per target since they only depend on its base URL. */
export function buildDiscovery(base: string): Discovery {
  const schemas = SCHEMAS.map((s) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    ...s,
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${s.id}` },
  }));
  const resourceTypes = [
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: GROUP_SCHEMA,
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
    },
  ];
  const serviceProviderConfig = {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description:
          'The SCIM token from the Tanium Cloud Management Portal: "token-" followed by 58 letters and digits',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
  return {
    serviceProviderConfig: JSON.stringify(serviceProviderConfig),
    schemas: listOf(schemas),
    schemaById: new Map(schemas.map((s) => [s.id.toLowerCase(), JSON.stringify(s)])),
    resourceTypes: listOf(resourceTypes),
    resourceTypeById: new Map(resourceTypes.map((r) => [r.id.toLowerCase(), JSON.stringify(r)])),
  };
}
