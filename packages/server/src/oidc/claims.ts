import type { User } from '../users/user-service.ts';

/**
 * Claims about the user for the ID token and userinfo (OpenID Connect Core §5.1, §5.5.1.1).
 * Name, email and roles are always there (every desktop needs them; the access token carries them
 * anyway); the rest follows the IdP's own answer.
 *
 * - `email_verified`: users are provisioned by the organisation's identity provider, which owns
 *   the addresses it asserts; it is false only when that IdP says so (`email_verified: false`).
 *
 * `acr` / `amr` describe one sign-in, not the user: the ID token takes them from the session
 * (connections/authentication-context.ts), never from the user's stored attributes.
 */
export function userClaims(user: User): Record<string, unknown> {
  const first = (name: string) => (Object.hasOwn(user.attributes, name) ? user.attributes[name]?.[0] : undefined);
  return {
    name: user.fullName,
    preferred_username: user.identity,
    ...(user.imageUrl ? { picture: user.imageUrl } : {}),
    email: user.email,
    email_verified: first('email_verified') !== 'false',
    roles: user.roles,
  };
}
