import * as client from 'openid-client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { postForm, setupAccount } from '../support/flows.ts';

const REDIRECT_URI = 'http://127.0.0.1:8765/callback';

/**
 * The standard OIDC surface driven by openid-client (a certified relying party) as a real
 * client: discovery, authorization code + PKCE, ID token validation, userinfo, refresh,
 * revocation.
 */
describe.each(BACKENDS)('standard OpenID Connect surface on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let clientId: string;
  let connectionSid: string;
  let config: client.Configuration;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard(backend, { refreshGraceSeconds: 5 });
    const setup = await setupAccount(lanyard, idp);
    await lanyard.services.accounts.setRedirectUris(setup.connection.sid, [REDIRECT_URI]);
    clientId = setup.connection.clientId;
    connectionSid = setup.connection.sid;
    config = await client.discovery(new URL(lanyard.url), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });
  afterEach(() => vi.useRealTimers());

  /** The browser's part: our authorize → the IdP → our ACS → back to the redirect URI. */
  async function browse(authorizationUrl: URL, userId = 'ada@example.com'): Promise<URL> {
    const start = await fetch(authorizationUrl, { redirect: 'manual' });
    if (start.status !== 302) throw new Error(`authorize answered ${start.status}: ${await start.text()}`);
    const form = await loginHeadless(idp, start.headers.get('location')!, userId);
    const acs = await postForm(form.action, form.fields);
    return new URL(acs.headers.get('location')!);
  }

  async function signIn(extra: Record<string, string> = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
      connection: connectionSid,
      ...extra,
    });
    const callback = await browse(url);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state });
    return { tokens, callback, verifier };
  }

  it('publishes discovery and JWKS that openid-client accepts', async () => {
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(lanyard.url);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    const jwks = await (await fetch(metadata.jwks_uri!)).json();
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0].d).toBeUndefined();
  });

  it('signs in with code + PKCE; openid-client validates the ID token, then fetches userinfo', async () => {
    const { tokens, callback } = await signIn();
    expect(callback.searchParams.get('iss')).toBe(lanyard.url);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: lanyard.url, aud: clientId, name: 'Ada Lovelace', email: 'ada@example.com' });
    expect(claims.sub).toMatch(/^FU[0-9a-f]{32}$/);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ sub: claims.sub, name: 'Ada Lovelace', roles: ['admin', 'supervisor', 'agent'] });
  });

  it('rotates refresh tokens and revokes the family on reuse after the grace window', async () => {
    const { tokens } = await signIn();
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()?.sub).toBe(tokens.claims()?.sub);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 6_000 });
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    vi.useRealTimers();
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.fetchUserInfo(config, refreshed.access_token, client.skipSubjectCheck)).rejects.toThrow();
  });

  it('revokes a session through the revocation endpoint', async () => {
    const { tokens } = await signIn();
    await client.tokenRevocation(config, tokens.refresh_token!);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const userinfo = await fetch(`${lanyard.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(401);
    expect(userinfo.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('ends the session at RP-initiated logout and returns to a registered URI only', async () => {
    const { tokens } = await signIn();
    const logout = new URL(`${lanyard.url}/oauth2/logout`);
    logout.searchParams.set('id_token_hint', tokens.id_token!);
    logout.searchParams.set('post_logout_redirect_uri', 'https://evil.example/');
    expect((await fetch(logout, { redirect: 'manual' })).status).toBe(400);
    logout.searchParams.set('post_logout_redirect_uri', REDIRECT_URI);
    logout.searchParams.set('state', 'bye');
    const response = await fetch(logout, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${REDIRECT_URI}?state=bye`);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('matches redirect URIs exactly, loopback ports aside, and never redirects to an unregistered one', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    const attempt = (redirect_uri: string) =>
      fetch(client.buildAuthorizationUrl(config, { redirect_uri, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 's' }), { redirect: 'manual' });
    for (const uri of [`${REDIRECT_URI}/`, `${REDIRECT_URI}x`, 'http://127.0.0.1:8765/other', 'https://evil.example/callback', `${REDIRECT_URI}#frag`]) {
      const response = await attempt(uri);
      expect(response.status, uri).toBe(400);
      expect(response.headers.get('location'), uri).toBeNull();
    }
    // RFC 8252 §7.3: a native app's loopback listener may use any port.
    expect((await attempt('http://127.0.0.1:9999/callback')).status).toBe(302);
  });

  it('requires PKCE S256 and sends errors back to a verified redirect URI', async () => {
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 'st' });
    const noPkce = await fetch(url, { redirect: 'manual' });
    expect(noPkce.status).toBe(302);
    const back = new URL(noPkce.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(REDIRECT_URI);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toMatch(/only S256/);
    expect(back.searchParams.get('state')).toBe('st');
    const plain = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
    expect(new URL((await fetch(plain, { redirect: 'manual' })).headers.get('location')!).searchParams.get('error_description')).toMatch(/only S256/);
  });

  it('refuses a wrong code_verifier and a replayed code (which revokes its tokens)', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's1' });
    const callback = await browse(url);
    await expect(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: 's1' })).rejects.toMatchObject({ error: 'invalid_grant' });

    const { tokens, callback: used, verifier: usedVerifier } = await signIn();
    const replay = await fetch(`${lanyard.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: used.searchParams.get('code')!, code_verifier: usedVerifier, redirect_uri: REDIRECT_URI, client_id: clientId }),
    });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    await expect(client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck)).rejects.toThrow();
  });

  it('answers unknown clients and grant types with RFC 6749 errors', async () => {
    const post = (body: Record<string, string>) =>
      fetch(`${lanyard.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
    const unknown = await post({ grant_type: 'authorization_code', client_id: 'nope', code: 'x', code_verifier: 'y' });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ error: 'invalid_client' });
    const password = await post({ grant_type: 'password', client_id: clientId });
    expect(password.status).toBe(400);
    expect(await password.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });
});
