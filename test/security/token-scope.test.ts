import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { exchangeCode, flexLogin, pkcePair, postForm, postJson, refreshTokens, setupAccount, validateToken } from '../support/flows.ts';
import { beginSignIn, genuineResponse, type AcsContext } from './support/acs.ts';

/**
 * A token works only where it was issued (issue 13, item 4): every endpoint that takes a token
 * goes through `TokenService.verifyAccessTokenFor` (tokens/token-scope.ts) and refuses tokens of
 * another surface, account, client, or of a surface the account's SSO mode has switched off.
 * Each row gets three real tokens of one account (Flex, legacy, standard OIDC) and presents
 * each at each endpoint.
 */

const USERS = [{ id: 'alan@example.com', full_name: 'Alan Turing', email: 'alan@example.com', roles: ['agent'] }];
const OIDC_REDIRECT = 'https://desktop.example.com/app/cb';

let lanyard: TestLanyard;
let idp: DevIdp;
let a: Awaited<ReturnType<typeof setupAccount>>;

beforeAll(async () => {
  idp = await startDevIdp({ port: 0, users: USERS });
  lanyard = await startTestLanyard('sqlite', { rateLimitLoginPerMinute: 10_000, rateLimitTokenPerMinute: 10_000 });
  a = await setupAccount(lanyard, idp);
  await lanyard.services.accounts.setMode(a.account.sid, 'both');
  await lanyard.services.accounts.setRedirectUris(a.connection.sid, [OIDC_REDIRECT]);
});
afterAll(async () => {
  await lanyard?.stop();
  await idp?.close();
});

interface Issued {
  access: string;
  refresh?: string;
  idToken?: string;
}

async function flexTokens(): Promise<Issued> {
  const tokens = await exchangeCode(lanyard, a.connection.sid, await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com'));
  return { access: String(tokens.body.access_token), refresh: String(tokens.body.refresh_token) };
}

async function legacyTokens(): Promise<Issued> {
  const ctx: AcsContext = { lanyard, accountSid: a.account.sid, connectionSid: a.connection.sid };
  const pending = await beginSignIn(ctx, 'legacy');
  const response = await postForm(pending.acsUrl, {
    SAMLResponse: await genuineResponse(idp, pending, 'alan@example.com'),
    RelayState: pending.relayState,
  });
  const token = new URL(response.headers.get('location') ?? 'http://x/').searchParams.get('Token');
  if (!token) throw new Error(`legacy sign-in answered ${response.status}`);
  return { access: token };
}

async function oidcTokens(): Promise<Issued> {
  const { verifier, challenge } = pkcePair();
  const url = new URL('/oauth2/authorize', lanyard.url);
  const params = {
    response_type: 'code',
    client_id: a.connection.clientId,
    scope: 'openid',
    redirect_uri: OIDC_REDIRECT,
    state: 'st',
    nonce: randomBytes(8).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const start = await fetch(url, { redirect: 'manual' });
  const form = await loginHeadless(idp, start.headers.get('location')!, 'alan@example.com');
  const code = new URL((await postForm(form.action, form.fields)).headers.get('location')!).searchParams.get('code')!;
  const body = await oidcForm('/oauth2/token', {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: OIDC_REDIRECT,
    client_id: a.connection.clientId,
  });
  return { access: String(body.body.access_token), refresh: String(body.body.refresh_token), idToken: String(body.body.id_token) };
}

async function oidcForm(path: string, fields: Record<string, string>) {
  const response = await fetch(`${lanyard.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const legacyRefresh = (token: string) => postJson(`${lanyard.url}/v1/Accounts/${a.account.sid}/Tokens/refresh`, { token });
const validate = (token: string) => validateToken(lanyard, a.account.sid, a.authToken, token);
const userinfo = async (token: string) => (await fetch(`${lanyard.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('a token works only on the surface that issued it', () => {
  let flex: Issued;
  let legacy: Issued;
  let oidc: Issued;
  beforeAll(async () => {
    [flex, legacy, oidc] = [await flexTokens(), await legacyTokens(), await oidcTokens()];
  });

  it('legacy Tokens/refresh renews legacy tokens only (enhanced and OIDC tokens renew by rotation)', async () => {
    expect((await legacyRefresh(legacy.access)).status).toBe(200);
    for (const [name, token] of [
      ['flex', flex.access],
      ['oidc', oidc.access],
    ] as const) {
      expect(await legacyRefresh(token), name).toMatchObject({
        status: 401,
        body: { code: 20151, message: expect.stringMatching(/not accepted by the legacy token refresh/) },
      });
    }
  });

  it('Tokens/validate accepts desktop tokens (Flex, legacy), not standard OIDC access tokens', async () => {
    expect((await validate(flex.access)).body.valid).toBe(true);
    expect((await validate(legacy.access)).body.valid).toBe(true);
    expect((await validate(oidc.access)).body).toMatchObject({ valid: false, message: expect.stringMatching(/OpenID Connect surface/) });
  });

  it('userinfo accepts standard OIDC access tokens only', async () => {
    expect(await userinfo(oidc.access)).toBe(200);
    expect(await userinfo(flex.access)).toBe(401);
    expect(await userinfo(legacy.access)).toBe(401);
  });

  it('a refresh token renews only at the surface that issued it', async () => {
    const fresh = await flexTokens();
    const atOidc = await oidcForm('/oauth2/token', { grant_type: 'refresh_token', refresh_token: fresh.refresh!, client_id: a.connection.clientId });
    expect(atOidc).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const freshOidc = await oidcTokens();
    expect(await refreshTokens(lanyard, a.connection.sid, freshOidc.refresh!)).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/not issued to this endpoint/) },
    });
    // Neither refusal spent the token at its own surface.
    expect((await refreshTokens(lanyard, a.connection.sid, fresh.refresh!)).status).toBe(200);
  });

  it('/oauth2/revoke ignores Flex and legacy tokens (their sessions stay live)', async () => {
    const desktop = await flexTokens();
    const legacyDesktop = await legacyTokens();
    for (const token of [desktop.access, desktop.refresh!, legacyDesktop.access]) {
      expect((await oidcForm('/oauth2/revoke', { token, client_id: a.connection.clientId })).status).toBe(200);
    }
    expect((await validate(desktop.access)).body.valid).toBe(true);
    expect((await validate(legacyDesktop.access)).body.valid).toBe(true);
    const standard = await oidcTokens();
    expect((await oidcForm('/oauth2/revoke', { token: standard.access, client_id: a.connection.clientId })).status).toBe(200);
    expect(await userinfo(standard.access)).toBe(401);
  });

  it('/oauth2/logout refuses an access token as id_token_hint', async () => {
    const desktop = await flexTokens();
    const response = await fetch(`${lanyard.url}/oauth2/logout?id_token_hint=${desktop.access}`, { redirect: 'manual' });
    expect(response.status).toBe(401);
    expect((await validate(desktop.access)).body.valid).toBe(true);
  });
});

describe("the account's SSO mode", () => {
  it('with legacy SSO switched off, legacy tokens are neither renewed nor valid; switched back, they are', async () => {
    const legacy = await legacyTokens();
    await lanyard.services.accounts.setMode(a.account.sid, 'enhanced');
    try {
      expect(await legacyRefresh(legacy.access)).toMatchObject({
        status: 401,
        body: { message: expect.stringMatching(/switched off for this account/) },
      });
      expect((await validate(legacy.access)).body).toMatchObject({ valid: false, message: expect.stringMatching(/switched off/) });
    } finally {
      await lanyard.services.accounts.setMode(a.account.sid, 'both');
    }
    expect((await legacyRefresh(legacy.access)).status).toBe(200);
  });

  it('with enhanced SSO switched off, Flex tokens are not valid', async () => {
    const flex = await flexTokens();
    await lanyard.services.accounts.setMode(a.account.sid, 'legacy');
    try {
      expect((await validate(flex.access)).body).toMatchObject({ valid: false, message: expect.stringMatching(/switched off/) });
    } finally {
      await lanyard.services.accounts.setMode(a.account.sid, 'both');
    }
  });
});
