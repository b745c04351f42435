import type { User } from '../users/user-service.ts';

/**
 * Claims about the user for the ID token and userinfo (OpenID Connect Core §5.1, §5.5.1.1).
 * Name, email and roles are always there (every desktop needs them; the access token carries them
 * anyway); the rest follows the IdP's own answer.
 *
 * - `email_verified`: users are provisioned by the organisation's identity provider, which owns
 *   the addresses it asserts; it is false only when that IdP says so (`email_verified: false`).
 * - `acr` / `amr`: passed on when the IdP stated them at the user's latest sign-in (an OpenID
 *   Connect IdP's ID token claims of the same names).
 */
export function userClaims(user: User): Record<string, unknown> {
  const first = (name: string) => (Object.hasOwn(user.attributes, name) ? user.attributes[name]?.[0] : undefined);
  const amr = Object.hasOwn(user.attributes, 'amr') ? user.attributes.amr : undefined;
  const acr = first('acr');
  return {
    name: user.fullName,
    preferred_username: user.identity,
    ...(user.imageUrl ? { picture: user.imageUrl } : {}),
    email: user.email,
    email_verified: first('email_verified') !== 'false',
    roles: user.roles,
    ...(acr ? { acr } : {}),
    ...(amr?.length ? { amr } : {}),
  };
}
