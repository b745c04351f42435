import { ExpressAuth, getSession } from '@auth/express';
import express from 'express';
import { auth as openIdConnect } from 'express-openid-connect';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { postForm, setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { RpBrowser } from '../support/rp-browser.ts';

/** An Express app on an ephemeral loopback port; middleware is added once its origin is known. */
async function expressApp(): Promise<{ app: express.Express; origin: string; server: Server }> {
  const app = express();
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { app, server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
const close = (server: Server | undefined) => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));

/**
 * Server-side web apps and other relying parties from npm, each a real client with its own
 * client authentication, against a real Lanyard and the development SAML IdP.
 */
describe.each(BACKENDS)('off-the-shelf relying parties on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let connectionSid: string;
  const servers: Server[] = [];

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard(backend);
    connectionSid = (await setupAccount(lanyard, idp)).connection.sid;
  });
  afterAll(async () => {
    await Promise.all(servers.map(close));
    await lanyard?.stop();
    await idp?.close();
  });

  it('express-openid-connect (client_secret_basic, RS256 ID token by default) signs a user in and reads the profile', async () => {
    const { app, server, origin } = await expressApp();
    servers.push(server);
    const { client: registered, secret } = await lanyard.services.clients.register({
      connectionSid,
      name: 'Supervisor portal',
      tokenEndpointAuthMethod: 'client_secret_basic',
      redirectUris: [`${origin}/callback`],
    });
    app.use(
      openIdConnect({
        issuerBaseURL: lanyard.url,
        baseURL: origin,
        clientID: registered.clientId,
        clientSecret: secret!,
        secret: 'a long cookie secret for the test session, 32+ chars',
        authRequired: false,
        authorizationParams: { response_type: 'code', scope: 'openid profile email' },
      }),
    );
    app.get('/me', (req, res) => {
      res.json({ authenticated: req.oidc.isAuthenticated(), user: req.oidc.user ?? null });
    });
    const browser = new RpBrowser(origin);
    const { authorizeUrl, callback } = await browser.signInVia(await browser.fetch(`${origin}/login`), idp);
    // It speaks PKCE on its own (Lanyard requires it of every client).
    expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(callback.status, await callback.clone().text()).toBe(302);
    const me = (await (await browser.fetch(`${origin}/me`)).json()) as { authenticated: boolean; user: Record<string, unknown> };
    expect(me.authenticated).toBe(true);
    expect(me.user).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com', email_verified: true });
  });

  it('Auth.js (@auth/express, client_secret_post) finishes the sign-in with a session holding the user', async () => {
    const { app, server, origin } = await expressApp();
    servers.push(server);
    const { client: registered, secret } = await lanyard.services.clients.register({
      connectionSid,
      name: 'Reporting',
      tokenEndpointAuthMethod: 'client_secret_post',
      redirectUris: [`${origin}/auth/callback/lanyard`],
    });
    const config = {
      secret: 'another long secret for the Auth.js session cookie',
      trustHost: true,
      providers: [
        {
          id: 'lanyard',
          name: 'Lanyard',
          type: 'oidc' as const,
          issuer: lanyard.url,
          clientId: registered.clientId,
          clientSecret: secret!,
          client: { token_endpoint_auth_method: 'client_secret_post' },
        },
      ],
    };
    app.use('/auth', ExpressAuth(config));
    app.get('/me', async (req, res) => {
      res.json(await getSession(req, config));
    });
    const browser = new RpBrowser(origin);
    const { csrfToken } = (await (await browser.fetch(`${origin}/auth/csrf`)).json()) as { csrfToken: string };
    const start = await browser.fetch(`${origin}/auth/signin/lanyard`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrfToken, callbackUrl: `${origin}/me` }),
    });
    const { callback } = await browser.signInVia(start, idp);
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe(`${origin}/me`);
    const session = (await (await browser.fetch(`${origin}/me`)).json()) as { user: Record<string, unknown> };
    expect(session.user).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com' });
  });

  it('oauth4webapi with private_key_jwt: code + PKCE, ID token checked, userinfo, introspection and revocation', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const redirectUri = 'https://reports.example.com/cb';
    const { client: registered } = await lanyard.services.clients.register({
      connectionSid,
      tokenEndpointAuthMethod: 'private_key_jwt',
      redirectUris: [redirectUri],
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] },
      idTokenSignedResponseAlg: 'ES256',
    });
    const issuer = new URL(lanyard.url);
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oidc', [oauth.allowInsecureRequests]: true }),
    );
    const oc: oauth.Client = { client_id: registered.clientId, id_token_signed_response_alg: 'ES256' };
    const clientAuth = oauth.PrivateKeyJwt({ key: privateKey, kid: 'k1' });
    const verifier = oauth.generateRandomCodeVerifier();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint!);
    for (const [k, v] of Object.entries({
      client_id: oc.client_id,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid email',
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }))
      url.searchParams.set(k, v);
    const atLanyard = await fetch(url, { redirect: 'manual' });
    const form = await loginHeadless(idp, atLanyard.headers.get('location')!, 'ada@example.com');
    const back = new URL((await postForm(form.action, form.fields)).headers.get('location')!);
    const params = oauth.validateAuthResponse(as, oc, back, oauth.expectNoState);
    const insecure = { [oauth.allowInsecureRequests]: true };
    const response = await oauth.authorizationCodeGrantRequest(as, oc, clientAuth, params, redirectUri, verifier, insecure);
    const tokens = await oauth.processAuthorizationCodeResponse(as, oc, response, { expectedNonce: nonce, requireIdToken: true });
    const claims = oauth.getValidatedIdTokenClaims(tokens)!;
    expect(claims).toMatchObject({ aud: registered.clientId, email: 'ada@example.com' });
    const info = await oauth.processUserInfoResponse(as, oc, claims.sub, await oauth.userInfoRequest(as, oc, tokens.access_token, insecure));
    expect(info).toMatchObject({ email: 'ada@example.com', email_verified: true });

    const introspected = await oauth.processIntrospectionResponse(
      as,
      oc,
      await oauth.introspectionRequest(as, oc, clientAuth, tokens.access_token, insecure),
    );
    expect(introspected).toMatchObject({ active: true, client_id: registered.clientId, sub: claims.sub, token_type: 'Bearer' });

    // Who else may introspect it (docs/security.md): a confidential client of the same account,
    // such as the API this app calls (the token's audience is the account) is told; a client of
    // another account, and anyone about the refresh token, are not.
    const asClient = async (connection: string, token: string) => {
      const { client: other, secret } = await lanyard.services.clients.register({
        connectionSid: connection,
        redirectUris: ['https://api.example.com/cb'],
      });
      const rs: oauth.Client = { client_id: other.clientId };
      return oauth.processIntrospectionResponse(as, rs, await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(secret!), token, insecure));
    };
    expect(await asClient(connectionSid, tokens.access_token)).toMatchObject({ active: true, client_id: registered.clientId, sub: claims.sub });
    expect(await asClient(connectionSid, tokens.refresh_token!)).toEqual({ active: false });
    const elsewhere = (await setupAccount(lanyard, idp)).connection.sid;
    expect(await asClient(elsewhere, tokens.access_token)).toEqual({ active: false });
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, oc, clientAuth, tokens.refresh_token!, insecure));
    const after = await oauth.processIntrospectionResponse(
      as,
      oc,
      await oauth.introspectionRequest(as, oc, clientAuth, tokens.access_token, insecure),
    );
    expect(after).toEqual({ active: false });
  });

  it('openid-client with client_secret_basic across a secret rotation: old and new work during the rollover, then only the new', async () => {
    const redirectUri = 'https://ops.example.com/cb';
    const { client: registered, secret: first } = await lanyard.services.clients.register({
      connectionSid,
      redirectUris: [redirectUri],
    });
    const configWith = (secret: string) =>
      client.discovery(new URL(lanyard.url), registered.clientId, secret, client.ClientSecretBasic(secret), {
        execute: [client.allowInsecureRequests],
      });
    const signIn = async (config: client.Configuration) => {
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid profile',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'st',
      });
      const atLanyard = await fetch(url, { redirect: 'manual' });
      const form = await loginHeadless(idp, atLanyard.headers.get('location')!, 'ada@example.com');
      const back = new URL((await postForm(form.action, form.fields)).headers.get('location')!);
      return client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: 'st' });
    };
    const old = await configWith(first!);
    const tokens = await signIn(old);
    // RS256 by default: what every relying party accepts without configuration.
    expect(JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'RS256' });

    const { secret: second, client: rotated } = await lanyard.services.clients.rotateSecret(registered.clientId, 3600);
    const fresh = await configWith(second);
    const refreshed = await client.refreshTokenGrant(old, tokens.refresh_token!);
    expect((await client.refreshTokenGrant(fresh, refreshed.refresh_token!)).access_token).toBeTruthy();
    expect(rotated.secrets).toHaveLength(2);

    await lanyard.services.clients.revokeSecret(registered.clientId, rotated.secrets[1]!.id);
    await expect(signIn(old)).rejects.toMatchObject({ status: 401 });
    const raw = await fetch(`${lanyard.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${registered.clientId}:${first}`)}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'lrt_x' }),
    });
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(await raw.json()).toMatchObject({ error: 'invalid_client' });
    expect((await signIn(fresh)).access_token).toBeTruthy();
  });
});
