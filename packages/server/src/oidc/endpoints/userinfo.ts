import type { Context, MiddlewareHandler } from 'hono';
import { InvalidTokenError, oauthDescription } from '../../errors.ts';
import type { RouteModule } from '../../http/app-types.ts';
import type { RateLimits } from '../../http/rate-limit.ts';
import type { TokenService } from '../../tokens/token-service.ts';
import type { UserService } from '../../users/user-service.ts';
import { presentedBearerToken } from '../bearer-token.ts';
import { hasScope, userClaims } from '../../users/claims.ts';

export interface UserinfoEndpointDependencies {
  tokens: TokenService;
  users: UserService;
  rateLimits: RateLimits;
  /** CORS for the pages of registered clients. */
  clientCors: MiddlewareHandler;
}

/**
 * OpenID Connect Core §5.3, GET and POST, `token` rate-limit group. Its only input is the
 * bearer token (RFC 6750 §2, read by `presentedBearerToken`); errors are RFC 6750 §3
 * `WWW-Authenticate` challenges with a JSON body.
 */
export const userinfoEndpoint =
  ({ tokens, users, rateLimits, clientCors }: UserinfoEndpointDependencies): RouteModule =>
  (app) => {
    const userinfo = async (c: Context) => {
      c.header('Cache-Control', 'no-store');
      const presented = await presentedBearerToken(c);
      if (!('token' in presented)) {
        c.header('WWW-Authenticate', presented.error ? `Bearer realm="lanyard", error="${presented.error}"` : 'Bearer realm="lanyard"');
        return c.json({ error: presented.error ?? 'invalid_request', error_description: oauthDescription(presented.description) }, presented.status);
      }
      try {
        const { claims, session } = await tokens.verifyAccessTokenFor('oidc', presented.token);
        const user = await users.get(claims.sub);
        // OIDC Core §5.4: what this token's grant released (a refresh may have narrowed it).
        const scope = claims.scope ?? session.scope;
        return c.json({
          sub: user.sid,
          ...userClaims(user, scope),
          ...(hasScope(scope, 'profile') ? { identity: user.identity, account_sid: user.accountSid, worker_sid: user.workerSid } : {}),
        });
      } catch (error) {
        if (!(error instanceof InvalidTokenError)) throw error;
        const description = oauthDescription(error.message);
        c.header('WWW-Authenticate', `Bearer realm="lanyard", error="invalid_token", error_description="${description}"`);
        return c.json({ error: 'invalid_token', error_description: description }, 401);
      }
    };
    app.use('/oauth2/userinfo', clientCors);
    app.get('/oauth2/userinfo', rateLimits.route('token'), userinfo);
    app.post('/oauth2/userinfo', rateLimits.route('token'), userinfo);
  };
