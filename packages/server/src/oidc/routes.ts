import type { Context } from 'hono';
import { exactRedirectMatch } from '../accounts/trusted-urls.ts';
import { InvalidParameterError, InvalidTokenError, LanyardError, UntrustedDomainError } from '../errors.ts';
import type { RouteModule } from '../http/app.ts';
import { cors } from '../http/cors.ts';
import { readForm } from '../http/request-body.ts';
import type { Services } from '../services.ts';
import type { IssuedTokens } from '../tokens/model.ts';
import { publicClient } from './client-auth.ts';
import { SCOPES_SUPPORTED, discoveryDocument } from './discovery.ts';

const oauthError = (oauth: string, message: string) => new LanyardError({ code: 20001, status: 400, message, oauthError: oauth });

/** RFC 6749 §3.1: request parameters must not be repeated (which copy would we honour?). */
const SINGLE_VALUED = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'connection',
  'prompt',
  'response_mode',
];

/**
 * The standard OAuth 2.0 / OpenID Connect surface over the same token core as the Flex surface:
 * public clients with PKCE S256, exact redirect URI matching, rotating refresh tokens.
 */
export const oidcRoutes: RouteModule = (app, services) => {
  const { accounts, login, tokens, users, keys, accessTokens, config, rateLimits } = services;
  // Discovery and keys are public; the rest answers pages on a registered client's origin.
  const clients = cors((origin) => accounts.isTrustedOrigin(origin));
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/.well-known/jwks.json'])
    app.use(path, cors('*'));
  for (const path of ['/oauth2/token', '/oauth2/userinfo', '/oauth2/revoke']) app.use(path, clients);

  const discovery = discoveryDocument(config.publicUrl);
  app.get('/.well-known/openid-configuration', (c) => c.json(discovery, 200, { 'Cache-Control': 'public, max-age=300' }));
  app.get('/.well-known/oauth-authorization-server', (c) => c.json(discovery, 200, { 'Cache-Control': 'public, max-age=300' }));
  app.get('/.well-known/jwks.json', (c) => c.json(keys.jwks(), 200, { 'Cache-Control': 'public, max-age=300' }));

  app.get('/oauth2/authorize', rateLimits.route('login'), async (c) => {
    c.set('browserFacing', true);
    const q = c.req.query();
    // RFC 6749 §4.1.2.1: until client and redirect URI are verified, errors are shown, never redirected.
    const repeated = SINGLE_VALUED.find((name) => (c.req.queries(name)?.length ?? 0) > 1);
    if (repeated) throw new InvalidParameterError(`${repeated} must not be repeated.`);
    const client = q.client_id ? await accounts.findConnectionByClientId(q.client_id) : undefined;
    if (!client) throw new InvalidParameterError('client_id is missing or unknown.');
    if (!q.redirect_uri) throw new InvalidParameterError('redirect_uri is required.');
    if (!exactRedirectMatch(q.redirect_uri, client.redirectUris)) {
      throw new UntrustedDomainError(
        `redirect_uri "${q.redirect_uri.slice(0, 300)}" is not registered for this client (exact match required, RFC 9700 §4.1.1).`,
      );
    }
    try {
      if (q.request !== undefined) throw oauthError('request_not_supported', 'Request objects are not supported.');
      if (q.request_uri !== undefined) throw oauthError('request_uri_not_supported', 'request_uri is not supported.');
      if (q.response_type !== 'code') throw oauthError('unsupported_response_type', 'Only response_type=code is supported.');
      if (q.response_mode !== undefined && q.response_mode !== 'query') throw oauthError('invalid_request', 'Only response_mode=query is supported.');
      if (q.connection !== undefined && q.connection !== client.sid)
        throw oauthError('invalid_request', 'connection does not belong to this client.');
      // Lanyard keeps no browser session of its own: every sign-in is the IdP's, with its page.
      if (q.prompt?.split(' ').includes('none'))
        throw oauthError('login_required', 'prompt=none cannot be satisfied: sign-in always goes to the identity provider.');
      const scope = grantedScope(q.scope);
      const idpUrl = await login.begin({
        surface: 'oidc',
        connectionSid: client.sid,
        clientId: client.clientId,
        redirectUrl: q.redirect_uri,
        state: q.state ?? '',
        nonce: q.nonce,
        codeChallenge: q.code_challenge ?? '',
        codeChallengeMethod: q.code_challenge_method ?? 'plain', // RFC 7636 §4.3: absent means plain, which we refuse
        scope,
      });
      return c.redirect(idpUrl, 302);
    } catch (error) {
      // The redirect URI is verified: from here on the client hears of the failure (RFC 6749 §4.1.2.1).
      if (!(error instanceof LanyardError) || error.status >= 500) throw error;
      const back = new URL(q.redirect_uri);
      back.searchParams.set('error', error.oauthError);
      back.searchParams.set('error_description', error.message);
      if (q.state) back.searchParams.set('state', q.state);
      back.searchParams.set('iss', config.publicUrl); // RFC 9207
      return c.redirect(back.toString(), 302);
    }
  });

  app.post('/oauth2/token', rateLimits.route('token'), async (c) => {
    c.set('oauthErrors', true);
    c.header('Cache-Control', 'no-store');
    c.header('Pragma', 'no-cache');
    const form = await readForm(c);
    const client = await publicClient(c, accounts, form);
    if (form.grant_type === 'authorization_code') {
      if (!form.code || !form.code_verifier) throw new InvalidParameterError('code and code_verifier are required.');
      // redirect_uri must repeat the authorization request's, character for character (RFC 6749 §4.1.3).
      const issued = await tokens.exchangeCode({
        surface: 'oidc',
        code: form.code,
        codeVerifier: form.code_verifier,
        clientId: client.clientId,
        redirectUrl: form.redirect_uri ?? '',
      });
      return c.json(tokenResponse(issued));
    }
    if (form.grant_type === 'refresh_token') {
      if (!form.refresh_token) throw new InvalidParameterError('refresh_token is required.');
      return c.json(tokenResponse(await tokens.refresh({ refreshToken: form.refresh_token, surface: 'oidc', clientId: client.clientId })));
    }
    throw oauthError('unsupported_grant_type', `grant_type "${form.grant_type ?? ''}" is not supported.`);
  });

  const userinfo = async (c: Context) => {
    c.header('Cache-Control', 'no-store');
    const header = c.req.header('authorization');
    if (!header?.startsWith('Bearer ')) {
      // RFC 6750 §3.1: a request without credentials gets a challenge but no error code.
      c.header('WWW-Authenticate', 'Bearer realm="lanyard"');
      return c.json({ error: 'invalid_request', error_description: 'Send the access token as "Authorization: Bearer <token>".' }, 401);
    }
    try {
      const { claims } = await tokens.verifyAccessTokenFor('oidc', header.slice(7).trim());
      const user = await users.get(claims.sub);
      return c.json({
        sub: user.sid,
        name: user.fullName,
        email: user.email,
        roles: user.roles,
        identity: user.identity,
        account_sid: user.accountSid,
        worker_sid: user.workerSid,
      });
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      c.header('WWW-Authenticate', `Bearer realm="lanyard", error="invalid_token", error_description="${error.message.replace(/["\\]/g, "'")}"`);
      return c.json({ error: 'invalid_token', error_description: error.message }, 401);
    }
  };
  app.get('/oauth2/userinfo', rateLimits.route('token'), userinfo);
  app.post('/oauth2/userinfo', rateLimits.route('token'), userinfo);

  app.post('/oauth2/revoke', rateLimits.route('token'), async (c) => {
    c.set('oauthErrors', true);
    const form = await readForm(c);
    const client = await publicClient(c, accounts, form);
    if (form.token) await revokeAny(services, form.token, client.clientId);
    // RFC 7009 §2.2: unknown, foreign or already revoked tokens are not an error.
    return c.body(null, 200);
  });

  // RP-Initiated Logout 1.0 §2: the OP must accept GET and POST.
  const logout = async (c: Context) => {
    c.set('browserFacing', true);
    const q = c.req.method === 'POST' ? await readForm(c) : c.req.query();
    const hint = q.id_token_hint ? await accessTokens.verifyIdTokenHint(q.id_token_hint) : undefined;
    if (hint && q.client_id !== undefined && q.client_id !== hint.aud)
      throw new InvalidParameterError('client_id is not the audience of id_token_hint.');
    const clientId = hint?.aud ?? q.client_id;
    const client = clientId ? await accounts.findConnectionByClientId(clientId) : undefined;
    // Access tokens verify against the same keys, but their audience is an account, not a client.
    if (hint && !client) throw new InvalidTokenError('id_token_hint is not an ID token issued to a client of this server.');
    if (q.post_logout_redirect_uri !== undefined && (!client || !exactRedirectMatch(q.post_logout_redirect_uri, client.redirectUris))) {
      throw new UntrustedDomainError("post_logout_redirect_uri must be one of the client's registered redirect URIs.");
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

/** The requested scopes we support, in request order; `openid` when none was asked for. */
function grantedScope(requested: string | undefined): string {
  const supported: readonly string[] = SCOPES_SUPPORTED;
  const granted = [...new Set((requested ?? 'openid').split(' ').filter((s) => supported.includes(s)))];
  if (granted.length === 0) throw oauthError('invalid_scope', `None of the requested scopes is supported; use ${SCOPES_SUPPORTED.join(', ')}.`);
  return granted.join(' ');
}

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
    // RFC 7009 §2.1: only the client's own tokens, of this surface, are revoked; others are ignored.
    const { claims } = await tokens.verifyAccessTokenFor('oidc', token, { clientId });
    await tokens.revokeSession(claims.sid, 'revoked_by_client');
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
  }
}
