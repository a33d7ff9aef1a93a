export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** RFC 7644 §3.12 scimType values the target uses. */
export type ScimType =
  | 'uniqueness'
  | 'invalidValue'
  | 'invalidSyntax'
  | 'invalidFilter'
  | 'invalidPath'
  | 'noTarget'
  | 'mutability';

export interface ScimErrorBody {
  schemas: string[];
  scimType?: ScimType;
  detail: string;
  status: string;
}

/** A failure that maps to one SCIM error response. */
export class ScimError extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly scimType?: ScimType,
  ) {
    super(detail);
  }
}

// RFC 7644 §3.12 makes `status` a string; Entra embeds this body verbatim in its provisioning log.
export function errorBody(status: number, detail: string, scimType?: ScimType): ScimErrorBody {
  return scimType
    ? { schemas: [ERROR_SCHEMA], scimType, detail, status: String(status) }
    : { schemas: [ERROR_SCHEMA], detail, status: String(status) };
}

export const badRequest = (detail: string, scimType: ScimType) => new ScimError(400, detail, scimType);
