import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { postForm, setupAccount } from '../support/flows.ts';

const REDIRECT_URI = 'http://127.0.0.1:8765/callback';
const REDIRECT_ORIGIN = 'http://127.0.0.1:8765';
const WEB_REDIRECT_URI = 'https://desk.example.com/cb';

/** A relying party driven by openid-client (a certified RP) against one Lanyard client. */
interface RelyingParty {
  config: client.Configuration;
  clientId: string;
  connectionSid: string;
  /** The browser's part: our authorize → the IdP → our ACS → back to the redirect URI. */
  browse(authorizationUrl: URL, userId?: string): Promise<URL>;
  signIn(options?: {
    redirectUri?: string;
    scope?: string;
  }): Promise<{ tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers; callback: URL; verifier: string }>;
}

async function relyingParty(lanyard: TestLanyard, idp: DevIdp, redirectUris = [REDIRECT_URI, WEB_REDIRECT_URI]): Promise<RelyingParty> {
  const { connection } = await setupAccount(lanyard, idp);
  await lanyard.services.accounts.setRedirectUris(connection.sid, redirectUris);
  const config = await client.discovery(new URL(lanyard.url), connection.clientId, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const browse = async (authorizationUrl: URL, userId = 'ada@example.com') => {
    const start = await fetch(authorizationUrl, { redirect: 'manual' });
    if (start.status !== 302) throw new Error(`authorize answered ${start.status}: ${await start.text()}`);
    const form = await loginHeadless(idp, start.headers.get('location')!, userId);
    const acs = await postForm(form.action, form.fields);
    return new URL(acs.headers.get('location')!);
  };
  return {
    config,
    clientId: connection.clientId,
    connectionSid: connection.sid,
    browse,
    async signIn({ redirectUri = REDIRECT_URI, scope = 'openid profile email' } = {}) {
      const verifier = client.randomPKCECodeVerifier();
      const nonce = client.randomNonce();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        nonce,
        state,
        connection: connection.sid,
      });
      const callback = await browse(url);
      // openid-client checks state, iss (RFC 9207), then the ID token: signature via JWKS, iss, aud, nonce, at_hash.
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedNonce: nonce,
        expectedState: state,
      });
      return { tokens, callback, verifier };
    },
  };
}

const postToken = (lanyard: TestLanyard, body: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${lanyard.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body),
  });

/**
 * The standard OIDC surface driven by openid-client as a real client: discovery, authorization
 * code + PKCE, ID token validation, userinfo, refresh, revocation, RP-initiated logout, CORS.
 */
describe.each(BACKENDS)('standard OpenID Connect surface on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let rp: RelyingParty;
  let other: RelyingParty;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard(backend, { refreshGraceSeconds: 5 });
    rp = await relyingParty(lanyard, idp);
    other = await relyingParty(lanyard, idp, ['https://other.example.com/cb']);
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  const authorizeUrl = (params: Record<string, string>) => {
    const url = new URL(rp.config.serverMetadata().authorization_endpoint!);
    for (const [name, value] of Object.entries({ response_type: 'code', client_id: rp.clientId, scope: 'openid', ...params }))
      url.searchParams.append(name, value);
    return url;
  };
  const challenge = () => client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier());

  it('publishes discovery (both well-known names) and JWKS that openid-client accepts', async () => {
    const metadata = rp.config.serverMetadata();
    expect(metadata).toMatchObject({
      issuer: lanyard.url,
      authorization_endpoint: `${lanyard.url}/oauth2/authorize`,
      token_endpoint: `${lanyard.url}/oauth2/token`,
      end_session_endpoint: `${lanyard.url}/oauth2/logout`,
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      id_token_signing_alg_values_supported: ['RS256', 'ES256'],
      introspection_endpoint: `${lanyard.url}/oauth2/introspect`,
      authorization_response_iss_parameter_supported: true,
      // prompt=login is honoured (ForceAuthn / prompt=login upstream); prompt=none answers login_required.
      prompt_values_supported: ['none', 'login'],
    });
    expect(metadata.claims_supported).toEqual(expect.arrayContaining(['auth_time', 'acr', 'amr']));
    const rfc8414 = await fetch(`${lanyard.url}/.well-known/oauth-authorization-server`);
    expect(await rfc8414.json()).toEqual(await (await fetch(`${lanyard.url}/.well-known/openid-configuration`)).json());
    const jwksResponse = await fetch(metadata.jwks_uri!);
    expect(jwksResponse.headers.get('cache-control')).toMatch(/max-age/);
    const jwks = (await jwksResponse.json()) as { keys: Array<Record<string, unknown>> };
    // Both keys: ES256 (access tokens, ID tokens on request) and RS256 (ID tokens by default).
    expect(jwks.keys).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' }),
        expect.objectContaining({ kty: 'RSA', alg: 'RS256', use: 'sig' }),
      ]),
    );
    for (const key of jwks.keys) expect(key.d).toBeUndefined();
  });

  it('signs in with code + PKCE; openid-client validates the ID token, then fetches userinfo', async () => {
    const { tokens, callback } = await rp.signIn();
    expect(callback.origin + callback.pathname).toBe(REDIRECT_URI);
    expect(callback.searchParams.get('iss')).toBe(lanyard.url);
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'openid profile email' });
    expect(tokens.expires_in).toBeGreaterThan(0);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: lanyard.url, aud: rp.clientId, name: 'Ada Lovelace', email: 'ada@example.com' });
    expect(claims.sub).toMatch(/^FU[0-9a-f]{32}$/);
    // The dev IdP signs Ada in without a password: its AuthnContextClassRef says "unspecified",
    // which is passed on as acr, with no amr (no RFC 8176 method to name).
    expect(claims.acr).toBe('urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified');
    expect(claims).not.toHaveProperty('amr');
    const info = await client.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ sub: claims.sub, name: 'Ada Lovelace', email: 'ada@example.com' });
    // Roles come with the roles scope only (OpenID Connect Core §5.4), not asked for here.
    expect(info.roles).toBeUndefined();
  });

  it('accepts a loopback redirect on another port (RFC 8252 §7.3) and drops unsupported scopes', async () => {
    const loopback = 'http://127.0.0.1:9999/callback';
    const { tokens, callback } = await rp.signIn({ redirectUri: loopback, scope: 'openid email unknown_scope' });
    expect(callback.origin + callback.pathname).toBe(loopback);
    expect(tokens.scope).toBe('openid email');
    expect(tokens.claims()?.aud).toBe(rp.clientId);
  });

  it('rotates refresh tokens; a retry within the grace window gets the same successor', async () => {
    const { tokens } = await rp.signIn();
    const first = await client.refreshTokenGrant(rp.config, tokens.refresh_token!);
    expect(first.refresh_token).not.toBe(tokens.refresh_token);
    expect(first.claims()?.sub).toBe(tokens.claims()?.sub);
    // A refreshed ID token still tells how the user authenticated at the IdP.
    expect(first.claims()).toMatchObject({ acr: tokens.claims()!.acr, auth_time: tokens.claims()!.auth_time });
    const retry = await client.refreshTokenGrant(rp.config, tokens.refresh_token!);
    expect(retry.refresh_token).toBe(first.refresh_token);
    const next = await client.refreshTokenGrant(rp.config, first.refresh_token!);
    expect(await client.fetchUserInfo(rp.config, next.access_token, tokens.claims()!.sub)).toMatchObject({ email: 'ada@example.com' });
  });

  it('binds codes and refresh tokens to the client they were issued to', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(rp.config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 's',
    });
    const code = (await rp.browse(url)).searchParams.get('code')!;
    const stolen = await postToken(lanyard, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
      client_id: other.clientId,
    });
    expect(stolen.status).toBe(400);
    expect(await stolen.json()).toMatchObject({ error: 'invalid_grant' });

    const { tokens } = await rp.signIn();
    await expect(client.refreshTokenGrant(other.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Revocation by a foreign client is silently ignored (RFC 7009 §2.1).
    await client.tokenRevocation(other.config, tokens.refresh_token!);
    expect((await client.refreshTokenGrant(rp.config, tokens.refresh_token!)).access_token).toBeTruthy();
  });

  it('revokes a session through the revocation endpoint (refresh token or access token)', async () => {
    const { tokens } = await rp.signIn();
    await client.tokenRevocation(rp.config, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
    await expect(client.refreshTokenGrant(rp.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const userinfo = await fetch(`${lanyard.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(401);
    expect(userinfo.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);

    const second = await rp.signIn();
    await client.tokenRevocation(rp.config, second.tokens.access_token);
    await expect(client.refreshTokenGrant(rp.config, second.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Unknown tokens are not an error (RFC 7009 §2.2).
    await expect(client.tokenRevocation(rp.config, 'lrt_unknown')).resolves.toBeUndefined();
  });

  it('ends the session at RP-initiated logout and returns to a registered URI only', async () => {
    const { tokens } = await rp.signIn();
    const evil = client.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/' });
    const refused = await fetch(evil, { redirect: 'manual' });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('location')).toBeNull();
    // An access token is signed with the same keys but is no ID token: it ends nothing.
    const accessTokenHint = client.buildEndSessionUrl(rp.config, { id_token_hint: tokens.access_token });
    expect((await fetch(accessTokenHint, { redirect: 'manual' })).status).toBe(401); // its typ is at+jwt: not an ID token
    accessTokenHint.searchParams.delete('client_id');
    expect((await fetch(accessTokenHint, { redirect: 'manual' })).status).toBe(401);
    expect((await client.refreshTokenGrant(rp.config, tokens.refresh_token!)).refresh_token).toBeTruthy();

    const response = await fetch(
      client.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: REDIRECT_URI, state: 'bye' }),
      { redirect: 'manual' },
    );
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${REDIRECT_URI}?state=bye`);
    await expect(client.refreshTokenGrant(rp.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    const posted = await rp.signIn();
    const form = await postForm(`${lanyard.url}/oauth2/logout`, { id_token_hint: posted.tokens.id_token! });
    expect(form.status).toBe(200);
    expect(await form.text()).toMatch(/signed out/);
    await expect(client.fetchUserInfo(rp.config, posted.tokens.access_token, client.skipSubjectCheck)).rejects.toThrow();
  });

  it('matches redirect URIs exactly, loopback ports aside, and shows an HTML error instead of redirecting', async () => {
    const code_challenge = await challenge();
    const unregistered = [
      `${REDIRECT_URI}/`, // trailing slash
      `${REDIRECT_URI}x`, // the registered URI as a prefix
      'http://127.0.0.1:8765/call', // a prefix of the registered URI
      'http://localhost:8765/callback', // another loopback host than the one registered
      'https://desk.example.com:8443/cb', // another port, not loopback
      'https://desk.example.com/cb/', // trailing slash on https
      'https://desk.example.com/cb?x=1', // added query
      'https://DESK.example.com/cb', // not character for character
      'https://evil.example/callback',
      `${REDIRECT_URI}#frag`,
    ];
    for (const uri of unregistered) {
      const response = await fetch(authorizeUrl({ redirect_uri: uri, code_challenge, code_challenge_method: 'S256', state: 's' }), {
        redirect: 'manual',
        headers: { accept: 'text/html' },
      });
      expect(response.status, uri).toBe(400);
      expect(response.headers.get('location'), uri).toBeNull();
      expect(response.headers.get('content-type'), uri).toMatch(/text\/html/);
      const page = await response.text();
      expect(page, uri).toMatch(/exact match required/);
      // The page names the true fix (the client's redirect URIs), not the Flex surface's Trusted URLs.
      expect(page, uri).toMatch(/register this exact redirect URI on the client: lanyard clients update/);
      // …naming this client (the connection's built-in one), whose list that command edits.
      expect(page, uri).toContain(
        `Client ${rp.clientId}: an administrator adds the URI to its redirect URIs with lanyard clients update ${rp.clientId}`,
      );
      expect(page, uri).not.toMatch(/add this page&#39;s address to the account&#39;s Trusted URLs/);
      expect(page, uri).toContain('70003');
      // Nothing of the request is echoed back onto our page.
      expect(page, uri).not.toContain('evil.example');
      expect(page, uri).not.toContain('8765/call');
    }
    // Unknown client, or a repeated parameter: no redirect either, even to a registered URI.
    const base = { redirect_uri: REDIRECT_URI, code_challenge, code_challenge_method: 'S256', state: 's' };
    const unknownClient = await fetch(authorizeUrl({ ...base, client_id: 'nope' }), { redirect: 'manual' });
    expect(unknownClient.status).toBe(400);
    expect(unknownClient.headers.get('location')).toBeNull();
    const twice = authorizeUrl(base);
    twice.searchParams.append('redirect_uri', 'https://evil.example/');
    const repeated = await fetch(twice, { redirect: 'manual' });
    expect(repeated.status).toBe(400);
    expect(repeated.headers.get('location')).toBeNull();
    expect((await fetch(authorizeUrl({ ...base, redirect_uri: WEB_REDIRECT_URI }), { redirect: 'manual' })).status).toBe(302);
  });

  it('requires PKCE S256 and sends other request errors back to the verified redirect URI', async () => {
    const back = async (params: Record<string, string>) => {
      const response = await fetch(authorizeUrl({ redirect_uri: REDIRECT_URI, state: 'st', ...params }), { redirect: 'manual' });
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get('location')!);
      expect(location.origin + location.pathname).toBe(REDIRECT_URI);
      expect(location.searchParams.get('state')).toBe('st');
      expect(location.searchParams.get('iss')).toBe(lanyard.url);
      return { error: location.searchParams.get('error'), description: location.searchParams.get('error_description') };
    };
    // No PKCE at all is told that PKCE is required, in the standard parameter names.
    expect(await back({})).toMatchObject({ error: 'invalid_request', description: expect.stringMatching(/^PKCE is required: send code_challenge/) });
    expect(await back({ code_challenge: await challenge() })).toMatchObject({
      error: 'invalid_request',
      description: expect.stringMatching(/only S256/),
    });
    expect(await back({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' })).toMatchObject({
      description: expect.stringMatching(/only S256/),
    });
    expect(await back({ code_challenge_method: 'S256' })).toMatchObject({
      error: 'invalid_request',
      description: expect.stringMatching(/PKCE is required: send code_challenge with code_challenge_method S256/),
    });
    const malformed = await back({ code_challenge: 'short"<script>', code_challenge_method: 'S256' });
    expect(malformed.description).toMatch(/^code_challenge must be the base64url SHA-256/);
    expect(malformed.description).not.toMatch(/script/);
    const pkce = { code_challenge: await challenge(), code_challenge_method: 'S256' };
    expect(await back({ ...pkce, response_type: 'token' })).toMatchObject({ error: 'unsupported_response_type' });
    expect(await back({ ...pkce, prompt: 'none' })).toMatchObject({ error: 'login_required' });
    expect(await back({ ...pkce, connection: other.connectionSid })).toMatchObject({ error: 'invalid_request' });
    expect(await back({ ...pkce, scope: 'admin' })).toMatchObject({ error: 'invalid_scope' });
  });

  it('refuses a wrong code_verifier and a replayed code (which revokes its tokens)', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(rp.config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 's1',
    });
    const callback = await rp.browse(url);
    await expect(
      client.authorizationCodeGrant(rp.config, callback, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: 's1' }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });

    const { tokens, callback: used, verifier: usedVerifier } = await rp.signIn();
    const replay = await postToken(lanyard, {
      grant_type: 'authorization_code',
      code: used.searchParams.get('code')!,
      code_verifier: usedVerifier,
      redirect_uri: REDIRECT_URI,
      client_id: rp.clientId,
    });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('cache-control')).toBe('no-store');
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    const userinfo = await fetch(`${lanyard.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(401);
    await expect(client.refreshTokenGrant(rp.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('answers unknown clients, secrets and grant types with RFC 6749 errors', async () => {
    const unknown = await postToken(lanyard, { grant_type: 'authorization_code', client_id: 'nope', code: 'x', code_verifier: 'y' });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ error: 'invalid_client' });
    const withSecret = await postToken(
      lanyard,
      { grant_type: 'refresh_token', client_id: rp.clientId, refresh_token: 'x' },
      { authorization: `Basic ${btoa(`${rp.clientId}:secret`)}` },
    );
    expect(withSecret.status).toBe(401);
    expect(withSecret.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(await withSecret.json()).toMatchObject({ error: 'invalid_client' });
    const password = await postToken(lanyard, { grant_type: 'password', client_id: rp.clientId });
    expect(password.status).toBe(400);
    expect(await password.json()).toMatchObject({ error: 'unsupported_grant_type' });
    const json = await fetch(`${lanyard.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await json.json()).toMatchObject({ error: 'invalid_request' });
    const bare = await fetch(`${lanyard.url}/oauth2/userinfo`);
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toBe('Bearer realm="lanyard"');
  });

  it('lets SPAs on a registered origin call token, userinfo and revoke; discovery and JWKS are public', async () => {
    const preflight = (path: string, origin: string) =>
      fetch(`${lanyard.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
    for (const path of ['/oauth2/token', '/oauth2/userinfo', '/oauth2/revoke']) {
      const ok = await preflight(path, REDIRECT_ORIGIN);
      expect(ok.status, path).toBe(204);
      expect(ok.headers.get('access-control-allow-origin'), path).toBe(REDIRECT_ORIGIN);
      expect(ok.headers.get('access-control-allow-headers'), path).toMatch(/Authorization/);
      const refused = await preflight(path, 'https://evil.example');
      expect(refused.status, path).toBe(403);
      expect(refused.headers.get('access-control-allow-origin'), path).toBeNull();
    }
    // Error responses carry the header too, so the SPA can read `error`.
    const failed = await postToken(
      lanyard,
      { grant_type: 'refresh_token', client_id: rp.clientId, refresh_token: 'lrt_x' },
      { origin: 'https://desk.example.com' },
    );
    expect(failed.status).toBe(400);
    expect(failed.headers.get('access-control-allow-origin')).toBe('https://desk.example.com');
    const foreign = await postToken(
      lanyard,
      { grant_type: 'refresh_token', client_id: rp.clientId, refresh_token: 'lrt_x' },
      { origin: 'https://evil.example' },
    );
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    for (const path of ['/.well-known/openid-configuration', '/.well-known/jwks.json']) {
      const response = await fetch(`${lanyard.url}${path}`, { headers: { origin: 'https://anyone.example' } });
      expect(response.headers.get('access-control-allow-origin'), path).toBe('*');
    }
  });

  describe('with no refresh grace window', () => {
    let strict: TestLanyard;
    let strictRp: RelyingParty;
    beforeAll(async () => {
      strict = await startTestLanyard(backend, { refreshGraceSeconds: 0 });
      strictRp = await relyingParty(strict, idp);
    });
    afterAll(async () => {
      await strict?.stop();
    });

    it('revokes the whole family when a spent refresh token is reused', async () => {
      const { tokens } = await strictRp.signIn();
      const refreshed = await client.refreshTokenGrant(strictRp.config, tokens.refresh_token!);
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
      await expect(client.refreshTokenGrant(strictRp.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      // The honest holder of the successor is signed out too (RFC 9700 §4.14.2).
      await expect(client.refreshTokenGrant(strictRp.config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(client.fetchUserInfo(strictRp.config, refreshed.access_token, client.skipSubjectCheck)).rejects.toThrow();
    });
  });
});
