import * as client from 'openid-client';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { postForm, setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

const REDIRECT_URI = 'https://rp.example.com/cb';

/**
 * The OpenID Foundation's Basic OP and Config OP certification plans, one test per module, each
 * named by its module id and asserting the outcome docs/oidc-conformance.md states. The relying
 * party is openid-client with a registered confidential client (client_secret_basic, as the
 * plans' static client), plus a client_secret_post one. Lanyard requires PKCE of every client,
 * so every request here carries it (the plans' deviation, documented).
 */
describe.each(BACKENDS)('OpenID Connect conformance modules on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let basic: client.Configuration;
  let post: client.Configuration;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard(backend);
    const { connection } = await setupAccount(lanyard, idp);
    const register = async (method: 'client_secret_basic' | 'client_secret_post') => {
      const { client: c, secret } = await lanyard.services.clients.register({
        connectionSid: connection.sid,
        tokenEndpointAuthMethod: method,
        redirectUris: [REDIRECT_URI],
      });
      const auth = method === 'client_secret_basic' ? client.ClientSecretBasic(secret!) : client.ClientSecretPost(secret!);
      return client.discovery(new URL(lanyard.url), c.clientId, secret!, auth, { execute: [client.allowInsecureRequests] });
    };
    basic = await register('client_secret_basic');
    post = await register('client_secret_post');
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  /** Authorization request → IdP sign-in → back at the redirect URI (or an error there). */
  async function authorize(params: Record<string, string>, config = basic, method: 'GET' | 'POST' = 'GET') {
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state: 'st',
      ...params,
    });
    const start =
      method === 'GET'
        ? await fetch(url, { redirect: 'manual' })
        : await fetch(`${url.origin}${url.pathname}`, {
            method: 'POST',
            redirect: 'manual',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: url.searchParams,
          });
    const location = start.headers.get('location');
    if (start.status !== 302 || !location) return { status: start.status, page: await start.text(), verifier, nonce };
    if (location.startsWith(REDIRECT_URI)) return { callback: new URL(location), verifier, nonce };
    const form = await loginHeadless(idp, location, 'ada@example.com');
    return { callback: new URL((await postForm(form.action, form.fields)).headers.get('location')!), verifier, nonce };
  }
  async function signIn(params: Record<string, string> = {}, config = basic, method: 'GET' | 'POST' = 'GET') {
    const { callback, verifier, nonce } = await authorize(params, config, method);
    const expectedNonce = params.nonce === undefined ? nonce : params.nonce || undefined;
    return client.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier, expectedState: 'st', expectedNonce });
  }
  const errorAt = async (params: Record<string, string>) => {
    const { callback } = await authorize(params);
    expect(callback!.origin + callback!.pathname).toBe(REDIRECT_URI);
    return callback!.searchParams.get('error');
  };
  const userinfo = (init: RequestInit) => fetch(basic.serverMetadata().userinfo_endpoint!, init);

  describe('Basic OP', () => {
    it('oidcc-server: code flow; the ID token verifies (signature, iss, aud, exp, iat, nonce)', async () => {
      const tokens = await signIn();
      expect(tokens.claims()).toMatchObject({ iss: lanyard.url, aud: basic.clientMetadata().client_id, sub: expect.stringMatching(/^FU/) });
      expect(tokens.claims()!.auth_time).toEqual(expect.any(Number));
    });
    it('oidcc-response-type-missing: error to the redirect URI', async () => {
      expect(await errorAt({ response_type: '' })).toBe('unsupported_response_type');
    });
    it('oidcc-userinfo-get', async () => {
      const { access_token } = await signIn();
      const response = await userinfo({ headers: { authorization: `Bearer ${access_token}` } });
      // Scope openid releases sub only (OpenID Connect Core §5.4).
      const body = (await response.json()) as Record<string, unknown>;
      expect({ sub: body.sub, email: body.email }).toEqual({ sub: expect.any(String), email: undefined });
    });
    it('oidcc-userinfo-post-header', async () => {
      const { access_token } = await signIn();
      const response = await userinfo({ method: 'POST', headers: { authorization: `Bearer ${access_token}` } });
      expect(response.status).toBe(200);
    });
    it('oidcc-userinfo-post-body (RFC 6750 §2.2)', async () => {
      const { access_token } = await signIn();
      const response = await userinfo({
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token }),
      });
      expect(await response.json()).toMatchObject({ sub: expect.stringMatching(/^FU/) });
    });
    it('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async () => {
      const tokens = await signIn({ nonce: '' });
      expect(tokens.claims()!.nonce).toBeUndefined();
    });
    it('oidcc-scope-profile: name, preferred_username', async () => {
      const tokens = await signIn({ scope: 'openid profile' });
      expect(await client.fetchUserInfo(basic, tokens.access_token, tokens.claims()!.sub)).toMatchObject({
        name: 'Ada Lovelace',
        preferred_username: expect.any(String),
      });
    });
    it('oidcc-scope-email: email, email_verified', async () => {
      const tokens = await signIn({ scope: 'openid email' });
      expect(await client.fetchUserInfo(basic, tokens.access_token, tokens.claims()!.sub)).toMatchObject({
        email: 'ada@example.com',
        email_verified: true,
      });
    });
    it('oidcc-scope-address: unsupported scope dropped, the request succeeds', async () => {
      expect((await signIn({ scope: 'openid address' })).scope).toBe('openid');
    });
    it('oidcc-scope-phone: unsupported scope dropped, the request succeeds', async () => {
      expect((await signIn({ scope: 'openid phone' })).scope).toBe('openid');
    });
    it('oidcc-scope-all: the supported ones are granted', async () => {
      expect((await signIn({ scope: 'openid profile email address phone' })).scope).toBe('openid profile email');
    });
    it('oidcc-ensure-other-scope-order-succeeds', async () => {
      expect((await signIn({ scope: 'email openid' })).scope).toBe('email openid');
    });
    it('oidcc-display-page and oidcc-display-popup: display accepted (the IdP draws the page)', async () => {
      expect((await signIn({ display: 'page' })).access_token).toBeTruthy();
      expect((await signIn({ display: 'popup' })).access_token).toBeTruthy();
    });
    it('oidcc-prompt-login: the sign-in goes to the identity provider', async () => {
      expect((await signIn({ prompt: 'login' })).access_token).toBeTruthy();
    });
    it('oidcc-prompt-none-not-logged-in: login_required', async () => {
      expect(await errorAt({ prompt: 'none' })).toBe('login_required');
    });
    it('oidcc-prompt-none-logged-in: login_required by design (Lanyard keeps no browser session)', async () => {
      await signIn();
      expect(await errorAt({ prompt: 'none' })).toBe('login_required');
    });
    it('oidcc-max-age-1 and oidcc-max-age-10000: accepted, auth_time in the ID token', async () => {
      for (const max_age of ['1', '10000']) expect((await signIn({ max_age })).claims()!.auth_time).toEqual(expect.any(Number));
    });
    it('oidcc-ensure-request-with-unknown-parameter-succeeds', async () => {
      expect((await signIn({ extra: 'foobar' })).access_token).toBeTruthy();
    });
    it('oidcc-id-token-hint: our ID token is accepted as a hint; prompt=none still login_required; a forged hint invalid_request', async () => {
      const { id_token } = await signIn();
      expect(await errorAt({ prompt: 'none', id_token_hint: id_token! })).toBe('login_required');
      expect((await signIn({ id_token_hint: id_token! })).access_token).toBeTruthy();
      expect(await errorAt({ id_token_hint: `${id_token!.slice(0, -4)}AAAA` })).toBe('invalid_request');
    });
    it('oidcc-login-hint, oidcc-ui-locales, oidcc-claims-locales, oidcc-ensure-request-with-acr-values-succeeds', async () => {
      const hints: Array<Record<string, string>> = [
        { login_hint: 'ada@example.com' },
        { ui_locales: 'se' },
        { claims_locales: 'se' },
        { acr_values: '1 2' },
      ];
      for (const extra of hints) expect((await signIn(extra)).access_token).toBeTruthy();
    });
    it('oidcc-codereuse: a second redemption fails and revokes what the first issued', async () => {
      const { callback, verifier, nonce } = await authorize({});
      const tokens = await client.authorizationCodeGrant(basic, callback!, { pkceCodeVerifier: verifier, expectedState: 'st', expectedNonce: nonce });
      await expect(client.authorizationCodeGrant(basic, callback!, { pkceCodeVerifier: verifier, expectedState: 'st' })).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      expect((await userinfo({ headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(401);
    });
    it('oidcc-ensure-registered-redirect-uri: an unregistered URI gets a page, never a redirect', async () => {
      const result = await authorize({ redirect_uri: 'https://rp.example.com/other' });
      expect(result.status).toBe(400);
      expect(result.page).toMatch(/not one of the redirect URIs registered for this client/);
    });
    it('oidcc-server-client-secret-post', async () => {
      expect((await signIn({}, post)).claims()!.aud).toBe(post.clientMetadata().client_id);
    });
    it('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported: rejected as unsupported', async () => {
      expect(await errorAt({ request: 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.' })).toBe('request_not_supported');
    });
    it('oidcc-ensure-request-object-with-redirect-uri: request objects rejected as unsupported', async () => {
      expect(await errorAt({ request: 'eyJhbGciOiJub25lIn0.eyJyZWRpcmVjdF91cmkiOiJodHRwczovL2V2aWwuZXhhbXBsZSJ9.' })).toBe('request_not_supported');
    });
    it('oidcc-claims-essential: the claims parameter is ignored (claims_parameter_supported false); claims follow the scope only', async () => {
      const tokens = await signIn({ claims: JSON.stringify({ userinfo: { name: { essential: true } } }) });
      const info = await client.fetchUserInfo(basic, tokens.access_token, tokens.claims()!.sub);
      expect({ sub: info.sub, name: info.name }).toEqual({ sub: tokens.claims()!.sub, name: undefined });
    });
    it('oidcc-refresh-token: a refresh returns new tokens and an ID token for the same subject', async () => {
      const tokens = await signIn();
      const refreshed = await client.refreshTokenGrant(basic, tokens.refresh_token!);
      expect(refreshed.claims()!.sub).toBe(tokens.claims()!.sub);
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    });
    it('oidcc-ensure-request-with-valid-pkce-succeeds; without PKCE: invalid_request saying PKCE is required', async () => {
      expect((await signIn()).access_token).toBeTruthy();
      expect(await errorAt({ code_challenge: '', code_challenge_method: '' })).toBe('invalid_request');
    });
    it('oidcc-ensure-post-request-succeeds: POST to the authorization endpoint', async () => {
      expect((await signIn({}, basic, 'POST')).access_token).toBeTruthy();
    });
  });

  describe('Config OP', () => {
    it('oidcc-discovery-endpoint-verification: the required metadata, issuer matching the URL', async () => {
      const document = (await (await fetch(`${lanyard.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      expect(document.issuer).toBe(lanyard.url);
      for (const field of [
        'authorization_endpoint',
        'token_endpoint',
        'userinfo_endpoint',
        'jwks_uri',
        'response_types_supported',
        'subject_types_supported',
        'id_token_signing_alg_values_supported',
      ])
        expect(document[field], field).toBeDefined();
      expect(document.id_token_signing_alg_values_supported).toContain('RS256');
      expect(document.scopes_supported).toContain('openid');
    });
    it('oidcc-idtoken-rs256: ID tokens are RS256 by default and verify against the JWKS', async () => {
      const tokens = await signIn();
      expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');
    });
    it('oidcc-server-rotate-keys: after a rotation new ID tokens carry the new kid and the JWKS has it', async () => {
      const before = decodeProtectedHeader((await signIn()).id_token!).kid;
      await lanyard.services.keys.rotate();
      const tokens = await signIn();
      const kid = decodeProtectedHeader(tokens.id_token!).kid;
      expect(kid).not.toBe(before);
      const jwks = (await (await fetch(`${lanyard.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([before, kid]));
    });
  });
});
