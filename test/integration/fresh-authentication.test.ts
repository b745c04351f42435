import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverProvider } from '../../packages/server/src/connections/oidc-connection.ts';
import { generateSigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { DESKTOP_URL, pkcePair, postForm } from '../support/flows.ts';
import { signingKey, startUpstreamProvider, upstreamLoginHeadless } from '../support/oidc-upstream.ts';
import { createEnterpriseIdp, type EnterpriseIdp } from '../support/samlify-idp.ts';

/**
 * Fresh authentication (issue 14): `prompt=login` and `max_age` reach the IdP (SAML ForceAuthn,
 * OIDC prompt/max_age), `auth_time` is when the IdP authenticated the user (AuthnInstant, the
 * upstream `auth_time`), and max_age is enforced against it. `acr`/`amr` likewise come from the
 * IdP's answer (AuthnContextClassRef, the upstream ID token) and outlive refreshes.
 */
const APP = 'https://app.example.com/callback';
const ADA = { nameId: 'ada@example.com', email: 'ada@example.com', fullName: 'Ada Lovelace', roles: ['agent'] };

describe.each(BACKENDS)('fresh authentication on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: EnterpriseIdp;
  let saml: { connectionSid: string; clientId: string; metadata: string };

  beforeAll(async () => {
    lanyard = await startTestLanyard(backend, { rateLimitLoginPerMinute: 10_000 });
    idp = createEnterpriseIdp({ credentials: await generateSigningCredentials('Fresh IdP') });
    const { accounts } = lanyard.services;
    const { account } = await accounts.createAccount('Fresh');
    const connection = await accounts.setSaml(account.sid, { metadataXml: idp.metadataXml });
    await accounts.setRedirectUris(connection.sid, [APP]);
    await accounts.addTrustedUrl(account.sid, DESKTOP_URL);
    await accounts.setDefaultRedirectUrl(account.sid, DESKTOP_URL);
    const metadata = await (await fetch(`${lanyard.url}/login/metadata?connection=${connection.sid}`)).text();
    saml = { connectionSid: connection.sid, clientId: connection.clientId, metadata };
  });
  afterAll(async () => {
    await lanyard?.stop();
  });

  /** A standard-surface sign-in through the SAML IdP, which reports `authnInstant`. */
  async function oidcSignIn(
    clientId: string,
    extra: Record<string, string>,
    answer: (request: Awaited<ReturnType<EnterpriseIdp['readRequest']>>) => Promise<{ SAMLResponse: string; RelayState: string }>,
  ) {
    const { verifier, challenge } = pkcePair();
    const url = new URL('/oauth2/authorize', lanyard.url);
    const params = {
      client_id: clientId,
      redirect_uri: APP,
      response_type: 'code',
      scope: 'openid',
      state: 's',
      nonce: 'n',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const start = await fetch(url, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const request = await idp.readRequest(saml.metadata, { url: start.headers.get('location')! });
    const acs = await postForm(request.acsUrl, await answer(request));
    const back = new URL(acs.headers.get('location')!);
    const code = back.searchParams.get('code');
    if (!code) return { request, error: back.searchParams.get('error'), reason: back.searchParams.get('error_description') ?? '', idToken: null };
    const token = await fetch(`${lanyard.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: APP }),
    });
    const body = (await token.json()) as { id_token: string; access_token: string };
    return { request, error: null, reason: '', idToken: decodeJwt(body.id_token), accessToken: decodeJwt(body.access_token) };
  }

  it('sends ForceAuthn for prompt=login and records the IdP AuthnInstant as auth_time', async () => {
    const authnInstant = new Date(Date.now() + 1000);
    const result = await oidcSignIn(saml.clientId, { prompt: 'login' }, (request) => idp.respond(saml.metadata, request, ADA, { authnInstant }));
    expect(result.request.forceAuthn).toBe(true);
    expect(result.reason).toBe('');
    expect(result.idToken!.auth_time).toBe(Math.floor(authnInstant.getTime() / 1000));
  });

  it('refuses an IdP that reused an old authentication although prompt=login asked for a new one', async () => {
    const result = await oidcSignIn(saml.clientId, { prompt: 'login' }, (request) =>
      idp.respond(saml.metadata, request, ADA, { authnInstant: new Date(Date.now() - 3600_000) }),
    );
    expect(result.error).toBe('login_required');
    expect(result.reason).toMatch(/prompt=login.*reused one.*honour ForceAuthn/);
  });

  it('enforces max_age against the AuthnInstant, and sends no ForceAuthn without prompt or max_age', async () => {
    const stale = await oidcSignIn(saml.clientId, { max_age: '600' }, (request) =>
      idp.respond(saml.metadata, request, ADA, { authnInstant: new Date(Date.now() - 3600_000) }),
    );
    expect(stale.request.forceAuthn).toBe(true);
    expect(stale.error).toBe('login_required');
    expect(stale.reason).toMatch(/longer ago than max_age=600 s/);

    const recent = await oidcSignIn(saml.clientId, { max_age: '600' }, (request) =>
      idp.respond(saml.metadata, request, ADA, { authnInstant: new Date(Date.now() - 60_000) }),
    );
    expect(recent.reason).toBe('');

    // Without either, an hour-old IdP session is fine, and auth_time still tells its age.
    const hourAgo = new Date(Date.now() - 3600_000);
    const plain = await oidcSignIn(saml.clientId, {}, (request) => idp.respond(saml.metadata, request, ADA, { authnInstant: hourAgo }));
    expect(plain.request.forceAuthn).toBe(false);
    expect(plain.idToken!.auth_time).toBe(Math.floor(hourAgo.getTime() / 1000));
    // The shift starts with the session, not with the IdP's older authentication.
    expect(Number(plain.accessToken!.exp) * 1000).toBeGreaterThan(Date.now());
  });

  /** openid-client as the relying party, the samlify IdP answering with `classRef`; then a refresh. */
  async function signInWithClassRef(classRef: string) {
    const config = await client.discovery(new URL(lanyard.url), saml.clientId, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: APP,
      scope: 'openid',
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const start = await fetch(url, { redirect: 'manual' });
    const request = await idp.readRequest(saml.metadata, { url: start.headers.get('location')! });
    const acs = await postForm(request.acsUrl, await idp.respond(saml.metadata, request, ADA, { authnContextClassRef: classRef }));
    const tokens = await client.authorizationCodeGrant(config, new URL(acs.headers.get('location')!), {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
    });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    return { signedIn: tokens.claims()!, refreshed: refreshed.claims()! };
  }

  it('puts the SAML AuthnContextClassRef in acr and its RFC 8176 methods in amr, and keeps both across a refresh', async () => {
    const PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
    const password = await signInWithClassRef(PPT);
    expect(password.signedIn).toMatchObject({ acr: PPT, amr: ['pwd'] });
    expect(password.refreshed).toMatchObject({ acr: PPT, amr: ['pwd'], auth_time: password.signedIn.auth_time });

    const SMARTCARD_PKI = 'urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI';
    const smartcard = await signInWithClassRef(SMARTCARD_PKI);
    expect(smartcard.signedIn).toMatchObject({ acr: SMARTCARD_PKI, amr: ['sc', 'hwk'] });
    expect(smartcard.refreshed).toMatchObject({ acr: SMARTCARD_PKI, amr: ['sc', 'hwk'] });

    const mfa = await signInWithClassRef('https://refeds.org/profile/mfa');
    expect(mfa.refreshed).toMatchObject({ acr: 'https://refeds.org/profile/mfa', amr: ['mfa'] });

    // A class with no clear RFC 8176 equivalent: acr as sent, no amr at all.
    const KERBEROS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos';
    const kerberos = await signInWithClassRef(KERBEROS);
    expect(kerberos.signedIn.acr).toBe(KERBEROS);
    expect(kerberos.signedIn).not.toHaveProperty('amr');
    expect(kerberos.refreshed).not.toHaveProperty('amr');
  });

  it('refuses a malformed max_age back to the client', async () => {
    const { challenge } = pkcePair();
    const url = new URL('/oauth2/authorize', lanyard.url);
    const params = {
      client_id: saml.clientId,
      redirect_uri: APP,
      response_type: 'code',
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      max_age: 'soon',
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const response = await fetch(url, { redirect: 'manual' });
    const back = new URL(response.headers.get('location')!);
    expect(back.searchParams.get('error_description')).toMatch(/max_age must be a whole number/);
  });

  it('passes prompt=login and max_age to an OpenID Connect upstream and takes its auth_time, acr and amr', async () => {
    const upstream = await startUpstreamProvider({
      users: [{ sub: 'nora', name: 'Nora', email: 'nora@example.com', roles: ['agent'], acr: 'urn:example:loa:high', amr: ['pwd', 'otp'] }],
      redirectUri: `${lanyard.url}/login/oidc/callback`,
      clientId: 'lanyard',
      clientSecret: 'secret',
      keys: [await signingKey('k1')],
    });
    try {
      const { accounts } = lanyard.services;
      const { account } = await accounts.createAccount('Fresh OIDC');
      const connection = await accounts.setOidc(
        account.sid,
        { issuer: upstream.issuer, clientId: 'lanyard', clientSecret: 'secret', scopes: 'openid profile email roles' },
        (settings) => discoverProvider(settings.issuer),
      );
      await accounts.setRedirectUris(connection.sid, [APP]);
      const { verifier, challenge } = pkcePair();
      const url = new URL('/oauth2/authorize', lanyard.url);
      const params = {
        client_id: connection.clientId,
        redirect_uri: APP,
        response_type: 'code',
        scope: 'openid',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        prompt: 'login',
        max_age: '300',
      };
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      const start = await fetch(url, { redirect: 'manual' });
      const toUpstream = new URL(start.headers.get('location')!);
      expect(toUpstream.searchParams.get('prompt')).toBe('login');
      expect(toUpstream.searchParams.get('max_age')).toBe('300');
      const before = Math.floor(Date.now() / 1000);
      const callback = await upstreamLoginHeadless(toUpstream.toString(), 'nora');
      const back = new URL((await fetch(callback, { redirect: 'manual' })).headers.get('location')!);
      const code = back.searchParams.get('code');
      expect(back.searchParams.get('error_description')).toBeNull();
      const token = await fetch(`${lanyard.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: code!,
          code_verifier: verifier,
          client_id: connection.clientId,
          redirect_uri: APP,
        }),
      });
      const issued = (await token.json()) as { id_token: string; refresh_token: string };
      const idToken = decodeJwt(issued.id_token);
      expect(Number(idToken.auth_time)).toBeGreaterThanOrEqual(before - 1);
      expect(Number(idToken.auth_time)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      // The upstream ID token's acr/amr, passed through, and still there after a refresh.
      expect(idToken).toMatchObject({ acr: 'urn:example:loa:high', amr: ['pwd', 'otp'] });
      const refreshed = await fetch(`${lanyard.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: issued.refresh_token, client_id: connection.clientId }),
      });
      expect(decodeJwt(((await refreshed.json()) as { id_token: string }).id_token)).toMatchObject({
        acr: 'urn:example:loa:high',
        amr: ['pwd', 'otp'],
      });
    } finally {
      await upstream.close();
    }
  });
});
