import { ID_TOKEN_ALGS } from '../tokens/signing-keys.ts';
import { TOKEN_ENDPOINT_AUTH_METHODS } from '../clients/model.ts';
import { ASSERTION_ALGS } from './client-authentication.ts';

/** Scopes the standard surface grants; anything else requested is dropped (RFC 6749 §3.3). */
export const SCOPES_SUPPORTED = ['openid', 'profile', 'email', 'roles', 'offline_access'] as const;

/** OpenID Connect Discovery 1.0 / RFC 8414 metadata for the standard surface. */
export function discoveryDocument(issuer: string) {
  const authMethods = [...TOKEN_ENDPOINT_AUTH_METHODS];
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth2/authorize`,
    token_endpoint: `${issuer}/oauth2/token`,
    userinfo_endpoint: `${issuer}/oauth2/userinfo`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/oauth2/revoke`,
    introspection_endpoint: `${issuer}/oauth2/introspect`,
    end_session_endpoint: `${issuer}/oauth2/logout`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    // Public clients (SPAs, native apps) authenticate with `none` and PKCE; server-side web apps
    // with a secret or a signed assertion. Each client uses the one method it registered.
    token_endpoint_auth_methods_supported: authMethods,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    revocation_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    // RFC 7662 §2.1: introspection needs an authenticated client, so `none` is not offered.
    introspection_endpoint_auth_methods_supported: authMethods.filter((m) => m !== 'none'),
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    id_token_signing_alg_values_supported: [...ID_TOKEN_ALGS],
    subject_types_supported: ['public'],
    scopes_supported: [...SCOPES_SUPPORTED],
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'sid',
      'at_hash',
      'acr',
      'amr',
      'name',
      'preferred_username',
      'picture',
      'email',
      'email_verified',
      'roles',
    ],
    prompt_values_supported: ['none', 'login'],
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
  };
}
