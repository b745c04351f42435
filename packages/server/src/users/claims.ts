import type { User } from './user-service.ts';

/** The scopes that release user claims (OpenID Connect Core §5.4), and what each releases. */
export const SCOPE_CLAIMS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ['profile', ['name', 'preferred_username', 'picture']],
  ['email', ['email', 'email_verified']],
  // Lanyard's own scope (discovery's scopes_supported): the user's Flex roles.
  ['roles', ['roles']],
]);

/** Does the space-separated `scope` include `name`? */
export function hasScope(scope: string | null | undefined, name: string): boolean {
  return (scope ?? '').split(' ').includes(name);
}

/**
 * Claims about the user for the ID token and userinfo (OpenID Connect Core §5.1, §5.5.1.1),
 * only those the granted `scope` releases (§5.4, `SCOPE_CLAIMS`): `profile` gives `name`,
 * `preferred_username` (the Flex identity) and `picture` (when the IdP sent one); `email` gives
 * `email` and `email_verified`; `roles` gives `roles`. `sub` is the caller's, always there.
 *
 * - `email_verified`: users are provisioned by the organisation's identity provider, which owns
 *   the addresses it asserts; it is false only when that IdP says so (`email_verified: false`).
 *
 * `acr` / `amr` describe one sign-in, not the user: the ID token takes them from the session
 * (connections/authentication-context.ts), never from the user's stored attributes.
 *
 * @param scope the grant's scope (space-separated); null or empty releases nothing
 */
export function userClaims(user: User, scope: string | null): Record<string, unknown> {
  const first = (name: string) => (Object.hasOwn(user.attributes, name) ? user.attributes[name]?.[0] : undefined);
  return {
    ...(hasScope(scope, 'profile')
      ? { name: user.fullName, preferred_username: user.identity, ...(user.imageUrl ? { picture: user.imageUrl } : {}) }
      : {}),
    ...(hasScope(scope, 'email') ? { email: user.email, email_verified: first('email_verified') !== 'false' } : {}),
    ...(hasScope(scope, 'roles') ? { roles: user.roles } : {}),
  };
}
