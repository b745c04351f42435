import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { InvalidTokenError } from '../../errors.ts';
import type { RouteModule } from '../../http/app-types.ts';
import type { RateLimits } from '../../http/rate-limit.ts';
import { readForm } from '../../http/request-body.ts';
import type { TokenService } from '../../tokens/token-service.ts';
import {
  clientAuthenticator,
  optionalParameter,
  parseOAuthParameters,
  requiredParameter,
  type ClientAuthenticationDependencies,
} from './oauth-request.ts';

/** RFC 7009 §2.1; `token_type_hint` is accepted and not needed (the token's form tells). */
const RevocationRequest = z.object({
  token: requiredParameter('token is required (RFC 7009 section 2.1).'),
  token_type_hint: optionalParameter,
});

export interface RevokeEndpointDependencies extends ClientAuthenticationDependencies {
  tokens: TokenService;
  rateLimits: RateLimits;
  /** CORS for the pages of registered clients. */
  clientCors: MiddlewareHandler;
}

/**
 * RFC 7009 token revocation, `token` rate-limit group: a refresh token or an access token of
 * the authenticated client; either ends its session. Answers `{}` (200) whatever the token.
 */
export const revokeEndpoint =
  (services: RevokeEndpointDependencies): RouteModule =>
  (app) => {
    const { tokens, rateLimits, clientCors } = services;
    const authenticate = clientAuthenticator(services);
    app.use('/oauth2/revoke', clientCors);
    app.post('/oauth2/revoke', rateLimits.route('token'), async (c) => {
      c.set('oauthErrors', true);
      const form = await readForm(c);
      const client = await authenticate(c, form);
      const { token } = parseOAuthParameters(RevocationRequest, form);
      await revokeAny(tokens, token, client.clientId);
      // RFC 7009 §2.2: unknown, foreign or already revoked tokens are not an error. JSON, so that
      // clients that insist on a JSON content type (oidc-client-ts) accept the answer.
      return c.json({}, 200, { 'Cache-Control': 'no-store' });
    });
  };

/** Revocation takes a refresh token or an access token; either ends the session. */
async function revokeAny(tokens: TokenService, token: string, clientId: string): Promise<void> {
  if (token.split('.').length !== 3) return tokens.revokeRefreshToken(token, clientId);
  try {
    // RFC 7009 §2.1: only the client's own tokens, of this surface, are revoked; others are ignored.
    const { claims } = await tokens.verifyAccessTokenFor('revocation', token, { clientId });
    await tokens.revokeSession(claims.sid, 'revoked_by_client');
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
  }
}
