import type { Context } from 'hono';
import { exactRedirectMatch } from '../accounts/trusted-urls.ts';
import { InvalidParameterError, InvalidTokenError, LanyardError, UnregisteredRedirectUriError } from '../errors.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { UserService } from '../users/user-service.ts';
import type { SigningKeys } from '../tokens/signing-keys.ts';
import type { RouteModule } from '../http/app-types.ts';
import type { RateLimits } from '../http/rate-limit.ts';
import type { TokenService } from '../tokens/token-service.ts';
import { cors } from '../http/cors.ts';
import { readForm } from '../http/request-body.ts';
import type { IssuedTokens } from '../tokens/model.ts';
import { authorizationEndpoint, type AuthorizeDependencies } from './authorize.ts';
import { presentedBearerToken } from './bearer-token.ts';
import { hasScope, userClaims } from './claims.ts';
import { InvalidClientError, authenticateClient } from './client-authentication.ts';
import { introspect, type IntrospectionDependencies } from './introspection.ts';
import { oauthDescription } from './oauth-text.ts';
import { discoveryDocument } from './discovery.ts';

const oauthError = (oauth: string, message: string) => new LanyardError({ code: 20001, status: 400, message, oauthError: oauth });

/**
 * The standard OAuth 2.0 / OpenID Connect surface over the same token core as the Flex surface:
 * public and confidential clients, PKCE S256, exact redirect URI matching, rotating refresh tokens.
 */
export interface OidcRouteDependencies extends AuthorizeDependencies, IntrospectionDependencies {
  accounts: AccountService;
  users: UserService;
  keys: SigningKeys;
  tokens: TokenService;
  rateLimits: RateLimits;
}

export const oidcRoutes =
  (services: OidcRouteDependencies): RouteModule =>
  (app) => {
    const { accounts, clients: registry, tokens, users, keys, accessTokens, config, storage, rateLimits } = services;
    // Discovery and keys are public; the rest answers pages on a registered client's origin.
    const clients = cors(async (origin) => (await accounts.isTrustedOrigin(origin)) || (await registry.isClientOrigin(origin)));
    const clientAuth = (c: Context, form: Record<string, string>) =>
      authenticateClient(c, form, { clients: registry, storage, issuer: config.publicUrl, endpoint: `${config.publicUrl}${c.req.path}` });
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/.well-known/jwks.json'])
      app.use(path, cors('*'));
    for (const path of ['/oauth2/token', '/oauth2/userinfo', '/oauth2/revoke']) app.use(path, clients);

    const discovery = discoveryDocument(config.publicUrl);
    app.get('/.well-known/openid-configuration', (c) => c.json(discovery, 200, { 'Cache-Control': 'public, max-age=300' }));
    app.get('/.well-known/oauth-authorization-server', (c) => c.json(discovery, 200, { 'Cache-Control': 'public, max-age=300' }));
    app.get('/.well-known/jwks.json', (c) => c.json(keys.jwks(), 200, { 'Cache-Control': 'public, max-age=300' }));

    app.get('/oauth2/authorize', rateLimits.route('login'), (c) => authorizationEndpoint(c, services));
    app.post('/oauth2/authorize', rateLimits.route('login'), (c) => authorizationEndpoint(c, services));

    app.post('/oauth2/token', rateLimits.route('token'), async (c) => {
      c.set('oauthErrors', true);
      c.header('Cache-Control', 'no-store');
      c.header('Pragma', 'no-cache');
      const form = await readForm(c);
      const client = await clientAuth(c, form);
      if (form.grant_type === 'authorization_code') {
        if (!form.code) throw new InvalidParameterError('code is required.');
        if (!form.code_verifier)
          throw new InvalidParameterError('code_verifier is required: every client uses PKCE (RFC 7636), confidential ones too.');
        if (!form.redirect_uri)
          throw new InvalidParameterError("redirect_uri is required: send the authorization request's redirect_uri again (RFC 6749 section 4.1.3).");
        // redirect_uri must repeat the authorization request's, character for character (RFC 6749 §4.1.3).
        const issued = await tokens.exchangeCode({
          surface: 'oidc',
          code: form.code,
          codeVerifier: form.code_verifier,
          clientId: client.clientId,
          redirectUrl: form.redirect_uri,
        });
        return c.json(tokenResponse(issued));
      }
      if (form.grant_type === 'refresh_token') {
        if (!form.refresh_token) throw new InvalidParameterError('refresh_token is required.');
        // A narrower `scope` is checked by the token core, only once the token is known live and
        // this client's: a spent or revoked token is invalid_grant (and reuse revokes the family).
        return c.json(
          tokenResponse(await tokens.refresh({ refreshToken: form.refresh_token, surface: 'oidc', clientId: client.clientId, scope: form.scope })),
        );
      }
      throw oauthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token.');
    });

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
    app.get('/oauth2/userinfo', rateLimits.route('token'), userinfo);
    app.post('/oauth2/userinfo', rateLimits.route('token'), userinfo);

    app.post('/oauth2/revoke', rateLimits.route('token'), async (c) => {
      c.set('oauthErrors', true);
      const form = await readForm(c);
      const client = await clientAuth(c, form);
      if (!form.token) throw new InvalidParameterError('token is required (RFC 7009 section 2.1).');
      await revokeAny(services, form.token, client.clientId);
      // RFC 7009 §2.2: unknown, foreign or already revoked tokens are not an error. JSON, so that
      // clients that insist on a JSON content type (oidc-client-ts) accept the answer.
      return c.json({}, 200, { 'Cache-Control': 'no-store' });
    });

    // RFC 7662: resource servers ask whether a token is active. Confidential clients only.
    app.post('/oauth2/introspect', rateLimits.route('token'), async (c) => {
      c.set('oauthErrors', true);
      c.header('Cache-Control', 'no-store');
      const form = await readForm(c);
      const client = await clientAuth(c, form);
      if (client.tokenEndpointAuthMethod === 'none')
        throw new InvalidClientError('Introspection needs an authenticated client: register a confidential client (RFC 7662 section 2.1).');
      if (!form.token) throw new InvalidParameterError('token is required (RFC 7662 section 2.1).');
      return c.json(await introspect(services, client, form.token, form.token_type_hint));
    });

    // RP-Initiated Logout 1.0 §2: the OP must accept GET and POST.
    const logout = async (c: Context) => {
      c.set('browserFacing', true);
      const q = c.req.method === 'POST' ? await readForm(c) : c.req.query();
      const hint = q.id_token_hint ? await accessTokens.verifyIdTokenHint(q.id_token_hint) : undefined;
      if (hint && q.client_id !== undefined && q.client_id !== hint.aud)
        throw new InvalidParameterError('client_id is not the audience of id_token_hint.');
      const clientId = hint?.aud ?? q.client_id;
      const client = clientId ? await registry.find(clientId) : undefined;
      // Access tokens verify against the same keys, but their audience is an account, not a client.
      if (hint && !client) throw new InvalidTokenError('id_token_hint is not an ID token issued to a client of this server.');
      if (q.post_logout_redirect_uri !== undefined && (!client || !exactRedirectMatch(q.post_logout_redirect_uri, client.redirectUris))) {
        throw new UnregisteredRedirectUriError('post_logout_redirect_uri', client?.clientId);
      }
      if (hint) await tokens.endSessionForIdToken(hint);
      if (q.post_logout_redirect_uri) {
        const back = new URL(q.post_logout_redirect_uri);
        if (q.state) back.searchParams.set('state', q.state);
        return c.redirect(back.toString(), 302);
      }
      return c.html(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head><body><main><h1>You are signed out</h1><p>You can close this window.</p></main></body></html>',
      );
    };
    app.get('/oauth2/logout', logout);
    app.post('/oauth2/logout', logout);
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

/** Revocation takes a refresh token or an access token; either ends the session. */
async function revokeAny({ tokens }: Pick<OidcRouteDependencies, 'tokens'>, token: string, clientId: string): Promise<void> {
  if (token.split('.').length !== 3) return tokens.revokeRefreshToken(token, clientId);
  try {
    // RFC 7009 §2.1: only the client's own tokens, of this surface, are revoked; others are ignored.
    const { claims } = await tokens.verifyAccessTokenFor('revocation', token, { clientId });
    await tokens.revokeSession(claims.sid, 'revoked_by_client');
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
  }
}
