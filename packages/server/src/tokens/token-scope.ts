import type { Account, SsoMode } from '../accounts/model.ts';
import { InvalidTokenError } from '../errors.ts';
import type { AccessTokenClaims, Session, Surface } from './model.ts';

/**
 * The endpoints that accept a token, grouped by what they may accept. Every endpoint that takes
 * a token names its group here and goes through `TokenService.verifyAccessTokenFor`, so a token
 * works only on the surface that issued it (RFC 9700 §2.3 "audience-restricted" tokens; RFC 9068
 * §4 "the resource server MUST validate the aud").
 *
 * - `desktop`: what a Flex-style desktop and its backends present: `Tokens/validate`,
 *   `Tokens/Info`, `/v1/Configuration`. Flex (enhanced) and legacy desktop tokens.
 * - `legacy-refresh`: `POST /v1/Accounts/{AC}/Tokens/refresh` re-signs the presented token, so it
 *   takes legacy tokens only (enhanced and OIDC sessions renew through their rotating refresh
 *   tokens, with reuse detection).
 * - `oidc`: the standard surface's resource endpoints: userinfo, introspection.
 * - `revocation`: `/oauth2/revoke` (RFC 7009) ends sessions of the OAuth clients of this server:
 *   standard OIDC and Flex (the SDK signs a Flex desktop out there), never legacy sessions;
 *   the caller also passes `clientId`.
 */
export type TokenEndpoint = 'desktop' | 'legacy-refresh' | 'oidc' | 'revocation';

const ACCEPTED_SURFACES: ReadonlyMap<TokenEndpoint, readonly Surface[]> = new Map<TokenEndpoint, readonly Surface[]>([
  ['desktop', ['flex', 'legacy']],
  ['legacy-refresh', ['legacy']],
  ['oidc', ['oidc']],
  ['revocation', ['oidc', 'flex']],
]);

const SURFACE_NAMES: ReadonlyMap<Surface, string> = new Map<Surface, string>([
  ['flex', 'enhanced SSO (Flex)'],
  ['legacy', 'legacy SSO'],
  ['oidc', 'the standard OpenID Connect surface'],
]);

const ENDPOINT_NAMES: ReadonlyMap<TokenEndpoint, string> = new Map<TokenEndpoint, string>([
  ['desktop', 'this desktop endpoint'],
  ['legacy-refresh', 'the legacy token refresh'],
  ['oidc', 'this OpenID Connect endpoint'],
  ['revocation', 'the revocation endpoint'],
]);

/** The SSO modes under which tokens of each surface stay usable (`lanyard mode set`). */
function surfaceAllowedBy(surface: Surface, mode: SsoMode): boolean {
  return surface === 'legacy' ? mode !== 'enhanced' : mode !== 'legacy';
}

/** What the caller knows the token must have been issued for. */
export interface TokenExpectation {
  /** The account named by the URL or the Basic credentials: `aud` and the session must match. */
  accountSid?: string;
  /** The authenticated OAuth client: the session must be this client's. */
  clientId?: string;
  /** The account the caller has just read (e.g. to check Basic credentials): spares reading it again. */
  account?: Account;
}

/**
 * Checks a verified token (or the session behind a refresh token or an ID token) against the
 * endpoint that received it. Throws InvalidTokenError (20151, 401) naming the mismatch.
 * Order matters for the messages: account first, then surface, then mode.
 */
export function assertIssuedFor(
  endpoint: TokenEndpoint,
  session: Pick<Session, 'surface' | 'accountSid' | 'clientId'>,
  account: Pick<Account, 'sid' | 'ssoMode'>,
  expect: TokenExpectation,
  claims?: Pick<AccessTokenClaims, 'aud' | 'account_sid' | 'client_id'> & { surface?: unknown },
): void {
  if (expect.accountSid !== undefined && (session.accountSid !== expect.accountSid || (claims && claims.aud !== expect.accountSid)))
    throw new InvalidTokenError('The token was issued for another account.');
  if (claims && (claims.aud !== session.accountSid || claims.account_sid !== session.accountSid || claims.client_id !== session.clientId))
    throw new InvalidTokenError('The token does not belong to its session.');
  const accepted = ACCEPTED_SURFACES.get(endpoint) ?? [];
  if (!accepted.includes(session.surface) || (claims?.surface !== undefined && claims.surface !== session.surface)) {
    throw new InvalidTokenError(
      `The token was issued by ${SURFACE_NAMES.get(session.surface) ?? 'another surface'} and is not accepted by ${ENDPOINT_NAMES.get(endpoint)}.`,
    );
  }
  if (expect.clientId !== undefined && session.clientId !== expect.clientId) throw new InvalidTokenError('The token was issued to another client.');
  if (!surfaceAllowedBy(session.surface, account.ssoMode)) {
    throw new InvalidTokenError(
      `The token was issued by ${SURFACE_NAMES.get(session.surface)}, which is switched off for this account (SSO mode "${account.ssoMode}").`,
    );
  }
}
