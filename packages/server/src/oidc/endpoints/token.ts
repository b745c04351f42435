import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { RouteModule } from '../../http/app-types.ts';
import type { RateLimits } from '../../http/rate-limit.ts';
import { readForm } from '../../http/request-body.ts';
import type { IssuedTokens } from '../../tokens/model.ts';
import type { TokenService } from '../../tokens/token-service.ts';
import { setResponseHeader } from '../../http/response-headers.ts';
import {
  clientAuthenticator,
  oauthError,
  optionalParameter,
  parseOAuthParameters,
  requiredParameter,
  type ClientAuthenticationDependencies,
} from './oauth-request.ts';

/** RFC 6749 §4.1.3 with RFC 7636 §4.5: every client uses PKCE, confidential ones too. */
const AuthorizationCodeGrant = z.object({
  grant_type: z.literal('authorization_code'),
  code: requiredParameter('code is required.'),
  code_verifier: requiredParameter('code_verifier is required: every client uses PKCE (RFC 7636), confidential ones too.'),
  // redirect_uri must repeat the authorization request's, character for character (RFC 6749 §4.1.3).
  redirect_uri: requiredParameter("redirect_uri is required: send the authorization request's redirect_uri again (RFC 6749 section 4.1.3)."),
});

/** RFC 6749 §6: a narrower `scope` is checked by the token core (see `TokenService.refresh`). */
const RefreshTokenGrant = z.object({
  grant_type: z.literal('refresh_token'),
  refresh_token: requiredParameter('refresh_token is required.'),
  scope: optionalParameter,
});

const UNSUPPORTED_GRANT_TYPE = 'grant_type must be authorization_code or refresh_token.';
/** The token request, by `grant_type`; any other grant type is `unsupported_grant_type` (RFC 6749 §5.2). */
const TokenRequest = z.discriminatedUnion('grant_type', [AuthorizationCodeGrant, RefreshTokenGrant], { error: UNSUPPORTED_GRANT_TYPE });
const TOKEN_REQUEST_ERRORS = new Map([['grant_type', (message: string) => oauthError('unsupported_grant_type', message)]]);

export interface TokenEndpointDependencies extends ClientAuthenticationDependencies {
  tokens: TokenService;
  rateLimits: RateLimits;
  /** CORS for the pages of registered clients (browser clients call this endpoint with fetch). */
  clientCors: MiddlewareHandler;
}

/**
 * The token endpoint (RFC 6749 §3.2), `token` rate-limit group: authorization_code (with
 * PKCE) and refresh_token (rotating) grants, after client authentication. Answers RFC 6749
 * §5.1 JSON, never cached; errors are RFC 6749 §5.2 JSON.
 */
export const tokenEndpoint =
  (services: TokenEndpointDependencies): RouteModule =>
  (app) => {
    const { tokens, rateLimits, clientCors } = services;
    const authenticate = clientAuthenticator(services);
    app.use('/oauth2/token', clientCors);
    app.post('/oauth2/token', rateLimits.route('token'), async (c) => {
      c.set('oauthErrors', true);
      setResponseHeader(c, 'Cache-Control', 'no-store');
      setResponseHeader(c, 'Pragma', 'no-cache');
      const form = await readForm(c);
      const client = await authenticate(c, form);
      const request = parseOAuthParameters(TokenRequest, form, TOKEN_REQUEST_ERRORS);
      if (request.grant_type === 'authorization_code') {
        const issued = await tokens.exchangeCode({
          surface: 'oidc',
          code: request.code,
          codeVerifier: request.code_verifier,
          clientId: client.clientId,
          redirectUrl: request.redirect_uri,
        });
        return c.json(tokenResponse(issued));
      }
      // A narrower `scope` is checked by the token core, only once the token is known live and
      // this client's: a spent or revoked token is invalid_grant (and reuse revokes the family).
      const issued = await tokens.refresh({ refreshToken: request.refresh_token, surface: 'oidc', clientId: client.clientId, scope: request.scope });
      return c.json(tokenResponse(issued));
    });
  };

/** RFC 6749 §5.1; `scope` is this grant's (a refresh may narrow it; no ID token without openid). */
function tokenResponse(issued: IssuedTokens) {
  const scope = issued.scope ?? 'openid';
  return {
    access_token: issued.accessToken,
    token_type: 'Bearer',
    expires_in: Math.max(0, Math.floor((issued.accessTokenExpiresAt - Date.now()) / 1000)),
    refresh_token: issued.refreshToken,
    ...(issued.idToken ? { id_token: issued.idToken } : {}),
    scope,
  };
}
