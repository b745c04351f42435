import type { LanyardError } from '../errors.ts';
import type { VerifiedSignIn } from './connection-protocol.ts';
import { OidcResponseError } from './oidc-connection.ts';
import { setOidcCommand } from './oidc-scopes.ts';
import type { OidcIdpSettings } from '../accounts/model.ts';

/** An IdP authentication older than this was reused from the provider's own session. */
const REUSED_AFTER_MS = 5 * 60_000;

/**
 * What the provider's own error codes (RFC 6749 §4.1.2.1 at the callback, §5.2 at the token
 * endpoint) usually mean for a connection, and where to fix them.
 */
const UPSTREAM_ERRORS: Record<string, string> = {
  access_denied:
    'The provider refused the sign-in (access_denied): the user cancelled, or is not allowed to use this application there. Assign the user (or a group) to the application at the provider.',
  invalid_client:
    "The provider did not accept Lanyard's client credentials (invalid_client): check the client ID and client secret set on this connection against the application at the provider.",
  unauthorized_client:
    'The provider does not allow this client the authorization code flow (unauthorized_client): enable it for the application at the provider.',
  invalid_grant:
    'The provider refused the authorization code (invalid_grant): the redirect URI registered at the provider must be exactly the one on the connection page, and PKCE (S256) must be allowed.',
  invalid_scope: "The provider refused a requested scope (invalid_scope): keep only scopes it offers in the connection's scopes.",
  login_required: 'The provider wants the user to sign in again (login_required): start the test again and sign in at the provider.',
  consent_required: 'The provider needs consent for this application (consent_required): grant it at the provider, or sign in and consent.',
  interaction_required: 'The provider needs the user to act (interaction_required): start the test again and finish what the provider asks.',
};

/** invalid_client when Lanyard sent no secret: "wrong secret" is not the cause, "no secret" is. */
export function publicClientRefused(settings: Partial<Pick<OidcIdpSettings, 'issuer' | 'clientId'>> = {}, accountSid?: string): string {
  return (
    "The provider did not accept Lanyard's client credentials (invalid_client), and no client secret is stored for this connection (it is a public client): " +
    `if the application at the provider has a client secret, give it with ${setOidcCommand(settings, accountSid)} --client-secret-file <file> ` +
    '(or "client_secret" in PUT /admin/v1/accounts/{sid}/oidc); otherwise make the application a public client (PKCE, no authentication) at the provider.'
  );
}

/**
 * What an OpenID Connect answer shows about how the provider is set up, in words for the
 * console's test sign-in report: on success, the age of the provider's authentication; on a
 * refusal the provider sent, what its error code usually means and where to fix it.
 * `clientSecretStored` false (a public client) names a missing secret as the cause of invalid_client.
 */
export function oidcDiagnosis(
  outcome: VerifiedSignIn | LanyardError,
  now = Date.now(),
  clientSecretStored = true,
  connection: { accountSid?: string; settings?: Partial<Pick<OidcIdpSettings, 'issuer' | 'clientId'>> } = {},
): string[] {
  if (outcome instanceof Error) {
    const code = outcome instanceof OidcResponseError ? outcome.upstreamError : null;
    if (code === 'invalid_client' && !clientSecretStored) return [publicClientRefused(connection.settings, connection.accountSid)];
    const meaning = code ? UPSTREAM_ERRORS[code] : undefined;
    return meaning ? [meaning] : [];
  }
  if (outcome.authTime === undefined) {
    return ['The ID token has no auth_time: prompt=login and max_age cannot be honoured for this provider.'];
  }
  if (now - outcome.authTime > REUSED_AFTER_MS) {
    return [
      `The provider reused an authentication from ${new Date(outcome.authTime).toISOString()} (its own session); a client asking for prompt=login or max_age needs the provider to honour them.`,
    ];
  }
  return [];
}
