import type { Context } from 'hono';
import { exactRedirectMatch } from '../accounts/trusted-urls.ts';
import { InvalidParameterError, InvalidTokenError, LanyardError, UntrustedDomainError } from '../errors.ts';
import type { RouteModule } from '../http/app.ts';
import { cors } from '../http/cors.ts';
import { readForm } from '../http/request-body.ts';
import type { Services } from '../services.ts';
import type { IssuedTokens } from '../tokens/model.ts';
import { discoveryDocument } from './discovery.ts';

const unknownClient = () => new LanyardError({ code: 20003, status: 401, message: 'Unknown client_id.', oauthError: 'invalid_client' });

/**
 * The standard OAuth 2.0 / OpenID Connect surface over the same token core as the Flex surface:
 * public clients with PKCE S256, exact redirect URI matching, rotating refresh tokens.
 */
export const oidcRoutes: RouteModule = (app, services) => {
  const { accounts, login, tokens, users, keys, accessTokens, config } = services;
  const clients = cors((origin) => accounts.isTrustedOrigin(origin));
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/.well-known/jwks.json']) app.use(path, cors('*'));
  for (const path of ['/oauth2/token', '/oauth2/userinfo', '/oauth2/revoke']) app.use(path, clients);

  const discovery = discoveryDocument(config.publicUrl);
  app.get('/.well-known/openid-configuration', (c) => c.json(discovery, 200, { 'Cache-Control': 'public, max-age=300' }));
  app.get('/.well-known/oauth-authorization-server', (c) => c.json(discovery, 200, { 'Cache-Control': 'public, max-age=300' }));
  app.get('/.well-known/jwks.json', (c) => c.json(keys.jwks(), 200, { 'Cache-Control': 'public, max-age=300' }));

  app.get('/oauth2/authorize', async (c) => {
    c.set('browserFacing', true);
    const q = c.req.query();
    const client = q.client_id ? await accounts.findConnectionByClientId(q.client_id) : undefined;
    if (!client) throw new InvalidParameterError('client_id is missing or unknown.');
    const redirectVerified = q.redirect_uri !== undefined && exactRedirectMatch(q.redirect_uri, client.redirectUris);
    try {
      if (q.connection !== undefined && q.connection !== client.sid) throw new InvalidParameterError('connection does not belong to this client.');
      if (q.response_type !== 'code') throw new LanyardError({ code: 20001, status: 400, message: 'Only response_type=code is supported.', oauthError: 'unsupported_response_type' });
      const idpUrl = await login.begin({
        surface: 'oidc',
        connectionSid: client.sid,
        clientId: client.clientId,
        redirectUrl: q.redirect_uri ?? '',
        state: q.state ?? '',
        nonce: q.nonce,
        codeChallenge: q.code_challenge ?? '',
        codeChallengeMethod: q.code_challenge_method ?? 'plain', // RFC 7636 §4.3: absent means plain
        scope: q.scope ?? 'openid',
      });
      return c.redirect(idpUrl, 302);
    } catch (error) {
      // RFC 6749 §4.1.2.1: once the redirect URI is verified, errors go back to the client.
      if (!redirectVerified || !(error instanceof LanyardError) || error instanceof UntrustedDomainError || error.status >= 500) throw error;
      const back = new URL(q.redirect_uri!);
      back.searchParams.set('error', error.oauthError);
      back.searchParams.set('error_description', error.message);
      if (q.state) back.searchParams.set('state', q.state);
      back.searchParams.set('iss', config.publicUrl);
      return c.redirect(back.toString(), 302);
    }
  });

  app.post('/oauth2/token', async (c) => {
    c.set('oauthErrors', true);
    c.header('Cache-Control', 'no-store');
    c.header('Pragma', 'no-cache');
    const form = await readForm(c);
    const client = form.client_id ? await accounts.findConnectionByClientId(form.client_id) : undefined;
    if (!client) throw unknownClient();
    if (form.grant_type === 'authorization_code') {
      if (!form.code || !form.code_verifier) throw new InvalidParameterError('code and code_verifier are required.');
      const issued = await tokens.exchangeCode({ surface: 'oidc', code: form.code, codeVerifier: form.code_verifier, clientId: client.clientId, redirectUrl: form.redirect_uri ?? '' });
      return c.json(tokenResponse(issued));
    }
    if (form.grant_type === 'refresh_token') {
      if (!form.refresh_token) throw new InvalidParameterError('refresh_token is required.');
      return c.json(tokenResponse(await tokens.refresh({ refreshToken: form.refresh_token, clientId: client.clientId })));
    }
    throw new LanyardError({ code: 20001, status: 400, message: `grant_type "${form.grant_type ?? ''}" is not supported.`, oauthError: 'unsupported_grant_type' });
  });

  const userinfo = async (c: Context) => {
    const header = c.req.header('authorization') ?? '';
    try {
      if (!header.startsWith('Bearer ')) throw new InvalidTokenError('Send the access token as "Authorization: Bearer <token>".');
      const { claims } = await tokens.validateAccessToken(header.slice(7).trim());
      const user = await users.get(claims.sub);
      return c.json({ sub: user.sid, name: user.fullName, email: user.email, roles: user.roles, identity: user.identity, account_sid: user.accountSid, worker_sid: user.workerSid });
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      // RFC 6750 §3: the challenge tells the client what is wrong.
      c.header('WWW-Authenticate', `Bearer error="invalid_token", error_description="${error.message.replace(/"/g, "'")}"`);
      return c.json({ error: 'invalid_token', error_description: error.message }, 401);
    }
  };
  app.get('/oauth2/userinfo', userinfo);
  app.post('/oauth2/userinfo', userinfo);

  app.post('/oauth2/revoke', async (c) => {
    c.set('oauthErrors', true);
    const form = await readForm(c);
    const client = form.client_id ? await accounts.findConnectionByClientId(form.client_id) : undefined;
    if (!client) throw unknownClient();
    if (form.token) await revokeAny(services, form.token, client.clientId);
    // RFC 7009 §2.2: unknown or already revoked tokens are not an error.
    return c.body(null, 200);
  });

  app.get('/oauth2/logout', async (c) => {
    c.set('browserFacing', true);
    const q = c.req.query();
    const hint = q.id_token_hint ? await accessTokens.verifyIdTokenHint(q.id_token_hint) : undefined;
    const clientId = hint?.aud ?? q.client_id;
    const client = clientId ? await accounts.findConnectionByClientId(clientId) : undefined;
    if (q.post_logout_redirect_uri !== undefined && (!client || !exactRedirectMatch(q.post_logout_redirect_uri, client.redirectUris))) {
      throw new UntrustedDomainError('post_logout_redirect_uri must be one of the client\'s registered redirect URIs.');
    }
    if (hint) await tokens.revokeSession(hint.sid, 'signed_out');
    if (q.post_logout_redirect_uri) {
      const back = new URL(q.post_logout_redirect_uri);
      if (q.state) back.searchParams.set('state', q.state);
      return c.redirect(back.toString(), 302);
    }
    return c.html('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head><body><main><h1>You are signed out</h1><p>You can close this window.</p></main></body></html>');
  });
};

function tokenResponse(issued: IssuedTokens) {
  return {
    access_token: issued.accessToken,
    token_type: 'Bearer',
    expires_in: Math.max(0, Math.floor((issued.accessTokenExpiresAt - Date.now()) / 1000)),
    refresh_token: issued.refreshToken,
    ...(issued.idToken ? { id_token: issued.idToken } : {}),
    scope: issued.session.scope ?? 'openid',
  };
}

/** Revocation takes a refresh token or an access token; either ends the session. */
async function revokeAny({ tokens }: Services, token: string, clientId: string): Promise<void> {
  if (token.split('.').length !== 3) return tokens.revokeRefreshToken(token, clientId);
  try {
    const { claims } = await tokens.validateAccessToken(token);
    if (claims.client_id === clientId) await tokens.revokeSession(claims.sid, 'revoked_by_client');
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
  }
}
