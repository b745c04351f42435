import { LanyardError, MissingAttributeError, NoRecognisedRoleError } from '../errors.ts';
import { attributeValues, mapProfile, type RawAttributes } from './profile-mapping.ts';

/** Entra ID's SAML attribute when a user's groups do not fit in the token. */
const SAML_GROUPS_LINK = 'http://schemas.microsoft.com/claims/groups.link';

/**
 * Entra ID "group overage": a user in more groups than fit in a token (150 in SAML, 200 in a
 * JWT) gets a link to Microsoft Graph instead of the groups: the SAML attribute `groups.link`, or
 * the OIDC `_claim_names.groups` distributed claim (OIDC Core §5.6.2).
 */
export function hasGroupOverage(attributes: RawAttributes): boolean {
  return attributeValues(attributes, SAML_GROUPS_LINK).length > 0 || attributeValues(attributes, '_claim_names.groups').length > 0;
}

/** The roles are missing because Entra ID sent a group-overage link instead of the groups (45050). */
export class GroupOverageError extends LanyardError {
  constructor() {
    super({
      code: 45050,
      status: 401,
      message:
        'Entra ID left the groups out: the user is in more groups than fit in a token (over 150 in SAML, 200 in OIDC), so Entra ID sent a link to Microsoft Graph ' +
        '(groups.link / _claim_names) instead, and Lanyard found no roles. Fix it at Entra ID: assign app roles to the users and send the "roles" claim ' +
        '(map http://schemas.microsoft.com/ws/2008/06/identity/claims/role or "roles"), or limit the groups claim to "Groups assigned to the application" (Token configuration → groups claim).',
      oauthError: 'access_denied',
    });
  }
}

/** Names the overage as the cause when the roles are missing because of it; other errors pass unchanged. */
export function explainRoleFailure(error: unknown, attributes: RawAttributes): unknown {
  const rolesMissing = (error instanceof MissingAttributeError && error.attribute === 'roles') || error instanceof NoRecognisedRoleError;
  return rolesMissing && hasGroupOverage(attributes) ? new GroupOverageError() : error;
}

/** `mapProfile`, with a group overage named as the cause of missing roles. */
export function mapProfileExplained(...args: Parameters<typeof mapProfile>): ReturnType<typeof mapProfile> {
  try {
    return mapProfile(...args);
  } catch (error) {
    throw explainRoleFailure(error, args[1]);
  }
}
