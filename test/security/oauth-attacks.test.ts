import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import {
  DESKTOP_URL,
  authorize,
  exchangeCode,
  flexLogin,
  pkcePair,
  postForm,
  postJson,
  refreshTokens,
  setupAccount,
  validateToken,
} from '../support/flows.ts';

/**
 * Attacks on the OAuth side: where the browser is sent back to, what a code or refresh token can
 * be traded for, and which tokens are believed. Flex wire API (`/v1/Flex/…`), legacy
 * (`/v1/Accounts/{AC}/…`) and the standard OIDC surface (`/oauth2/…`) share one token core; the
 * tests go through each surface's own endpoints.
 */

const USERS = [
  { id: 'ada@example.com', full_name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'agent'] },
  { id: 'alan@example.com', full_name: 'Alan Turing', email: 'alan@example.com', roles: ['agent'] },
];
const TRUSTED = 'https://desktop.example.com/app';
const OIDC_REDIRECT = 'https://desktop.example.com/app/cb';
const LOOPBACK_REDIRECT = 'http://127.0.0.1:8765/callback';

let lanyard: TestLanyard;
let idp: DevIdp;
type Setup = Awaited<ReturnType<typeof setupAccount>>;
let a: Setup;
let b: Setup;

beforeAll(async () => {
  idp = await startDevIdp({ port: 0, users: USERS });
  // Grace 0: any reuse of a spent refresh token is reuse (the grace window has its own tests).
  lanyard = await startTestLanyard('sqlite', { refreshGraceSeconds: 0, rateLimitLoginPerMinute: 10_000, rateLimitTokenPerMinute: 10_000 });
  a = await setupAccount(lanyard, idp, { trusted: [DESKTOP_URL, TRUSTED] });
  b = await setupAccount(lanyard, idp);
  await lanyard.services.accounts.setMode(a.account.sid, 'both');
  await lanyard.services.accounts.setRedirectUris(a.connection.sid, [OIDC_REDIRECT, LOOPBACK_REDIRECT]);
  await lanyard.services.accounts.setRedirectUris(b.connection.sid, ['https://other.example.com/cb']);
});
afterAll(async () => {
  await lanyard?.stop();
  await idp?.close();
});

/** Redirect targets an attacker would try against the Trusted URL `https://desktop.example.com/app`. */
const REDIRECT_TRICKS: Array<[string, string]> = [
  ['another host', 'https://evil.example/app'],
  ['a suffix domain', 'https://desktop.example.com.evil.example/app'],
  ['a prefix domain', 'https://evildesktop.example.com/app'],
  ['a sibling subdomain', 'https://www.desktop.example.com/app'],
  ['userinfo that looks like the host', 'https://desktop.example.com@evil.example/app'],
  ['userinfo with a port', 'https://desktop.example.com:443@evil.example/app'],
  ['a backslash before @', 'https://desktop.example.com\\@evil.example/app'],
  ['a backslash as path separator', 'https://evil.example\\desktop.example.com/app'],
  ['backslashes after the scheme', 'https:\\\\evil.example/app'],
  ['an encoded slash with dot segments', 'https://desktop.example.com/app%2F..%2F..%2Fadmin'],
  ['an encoded slash into a protocol-relative path', 'https://desktop.example.com/app/%2F%2Fevil.example'],
  ['an encoded dot-dot', 'https://desktop.example.com/app/%2e%2e/admin'],
  ['an encoded slash in the host', 'https://desktop.example.com%2F@evil.example/app'],
  ['dot segments', 'https://desktop.example.com/app/../admin'],
  ['a single-dot segment then dot-dot', 'https://desktop.example.com/app/./../admin'],
  ['a longer path sharing the prefix', 'https://desktop.example.com/apple'],
  ['a path with a suffix', 'https://desktop.example.com/app.evil'],
  ['an IDN look-alike (Cyrillic a)', 'https://desktop.ex\u0430mple.com/app'],
  ['an IDN look-alike (Cyrillic e)', 'https://d\u0435sktop.example.com/app'],
  ['an ideographic full stop that IDNA turns into a dot', 'https://desktop.example.com\u3002evil.example/app'],
  ['a trailing-dot host', 'https://desktop.example.com./app'],
  ['a different path case', 'https://desktop.example.com/APP'],
  ['an http downgrade', 'http://desktop.example.com/app'],
  ['another port', 'https://desktop.example.com:8443/app'],
  ['a fragment', 'https://desktop.example.com/app#@evil.example'],
  ['an empty fragment', 'https://desktop.example.com/app#'],
  ['a protocol-relative URL', '//evil.example/app'],
  ['a missing slash after the scheme', 'https:/evil.example/app'],
  ['no slashes after the scheme', 'https:evil.example/app'],
  ['a javascript: URL', 'javascript:alert(document.domain)//desktop.example.com/app'],
  ['a data: URL', 'data:text/html,<script>alert(1)</script>'],
  ['a tab inside the host', 'https://desktop.example.com\t.evil.example/app'],
  ['a leading space', ' https://evil.example/app'],
  ['an encoded NUL', 'https://desktop.example.com/app%00.evil.example'],
  ['an empty-segment path', 'https://desktop.example.com/app//evil.example'],
];

/** Forms that differ in spelling only: browsers go to the same place, so they match. */
const SAME_PLACE: Array<[string, string]> = [
  ['an upper-case host', 'https://DESKTOP.Example.COM/app'],
  ['a full-width letter IDNA maps to ASCII', 'https://\uff44esktop.example.com/app'],
  ['the default port written out', 'https://desktop.example.com:443/app/'],
  ['a page below the trusted path with a query', 'https://desktop.example.com/app/agent?x=1'],
];

describe('redirect URL tricks', () => {
  const flexAuthorize = (redirectUrl: string) =>
    authorize(lanyard, {
      ssoProfileSid: a.connection.sid,
      redirectUrl,
      state: 's',
      codeChallenge: pkcePair().challenge,
      codeChallengeMethod: 'S256',
    });

  it.each(REDIRECT_TRICKS)('Flex authorize refuses %s without redirecting', async (_name, redirectUrl) => {
    const response = await flexAuthorize(redirectUrl);
    expect(response.headers.get('location')).toBeNull();
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      code: 70002,
      message: 'Trusted Login has not been enabled for this domain.',
      more_info: expect.any(String),
    });
  });

  it.each(REDIRECT_TRICKS)('legacy authenticate refuses %s as the resource', async (_name, resource) => {
    const response = await postJson(`${lanyard.url}/v1/Accounts/${a.account.sid}/authenticate`, { products: ['flex'], resource });
    expect(response.body.location).toBeUndefined();
    expect(response).toMatchObject({ status: 400, body: { code: 70002 } });
  });

  it.each(SAME_PLACE)('Flex authorize accepts %s (the same page; the control for the tricks above)', async (_name, redirectUrl) => {
    const response = await flexAuthorize(redirectUrl);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toMatch(new RegExp(`^${idp.ssoUrl}\\?`));
  });

  const oidcAuthorize = (redirectUri: string, extra: Record<string, string> = {}) => {
    const url = new URL('/oauth2/authorize', lanyard.url);
    const params = {
      response_type: 'code',
      client_id: a.connection.clientId,
      scope: 'openid',
      redirect_uri: redirectUri,
      state: 's',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      ...extra,
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return fetch(url, { redirect: 'manual' });
  };

  const oidcTricks: Array<[string, string]> = [
    ...REDIRECT_TRICKS.map(([name, uri]): [string, string] => [name, uri.replace('/app', '/app/cb')]),
    ['a trailing slash', `${OIDC_REDIRECT}/`],
    ['an added query', `${OIDC_REDIRECT}?next=https://evil.example`],
    ['an upper-case host (exact matching, RFC 9700 §4.1.1)', 'https://DESKTOP.example.com/app/cb'],
    ['the default port written out', 'https://desktop.example.com:443/app/cb'],
    ['a page below the registered URI', `${OIDC_REDIRECT}/deeper`],
    ['localhost for a registered 127.0.0.1', 'http://localhost:8765/callback'],
    ['a loopback redirect with a different path', 'http://127.0.0.1:8765/callback/evil'],
  ];

  it.each(oidcTricks)('standard /oauth2/authorize refuses %s without redirecting', async (_name, redirectUri) => {
    const response = await oidcAuthorize(redirectUri);
    expect(response.headers.get('location')).toBeNull();
    expect(response.status).toBe(400);
  });

  it('standard /oauth2/authorize accepts the registered URI exactly, and a loopback one on another port (RFC 8252 §7.3)', async () => {
    expect((await oidcAuthorize(OIDC_REDIRECT)).status).toBe(302);
    expect((await oidcAuthorize('http://127.0.0.1:9999/callback')).status).toBe(302);
  });

  it('standard /oauth2/authorize refuses a redirect URI registered for another client', async () => {
    const response = await oidcAuthorize('https://other.example.com/cb');
    expect(response.headers.get('location')).toBeNull();
    expect(response.status).toBe(400);
  });
});

describe('PKCE', () => {
  const flex = (params: Record<string, string | undefined>) =>
    authorize(lanyard, { ssoProfileSid: a.connection.sid, redirectUrl: DESKTOP_URL, state: 's', ...params });

  it('Flex authorize requires an S256 code challenge: missing, plain or malformed ones are refused', async () => {
    const { verifier, challenge } = pkcePair();
    for (const params of [
      {},
      { codeChallenge: verifier, codeChallengeMethod: 'plain' },
      { codeChallenge: challenge, codeChallengeMethod: 'plain' },
      { codeChallenge: 'short', codeChallengeMethod: 'S256' },
      { codeChallenge: challenge, codeChallengeMethod: 's256' },
    ]) {
      const response = await flex(params);
      expect(response.status, JSON.stringify(params)).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect((await response.json()).message).toMatch(/codeChallenge|S256/);
    }
  });

  it('standard authorize without a code challenge, or with plain, goes back to the client with an error, never to the IdP', async () => {
    for (const extra of [{ code_challenge: '', code_challenge_method: '' }, { code_challenge_method: 'plain' }]) {
      const url = new URL('/oauth2/authorize', lanyard.url);
      const params: Record<string, string> = {
        response_type: 'code',
        client_id: a.connection.clientId,
        scope: 'openid',
        redirect_uri: OIDC_REDIRECT,
        state: 'xyz',
        code_challenge: pkcePair().challenge,
        ...extra,
      };
      for (const [k, v] of Object.entries(params)) if (v !== '') url.searchParams.set(k, v);
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(302);
      const back = new URL(response.headers.get('location')!);
      expect(back.origin + back.pathname).toBe(OIDC_REDIRECT);
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.get('state')).toBe('xyz');
    }
  });

  it('refuses a code without its verifier, or with another verifier, and burns the code', async () => {
    const login = await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com');
    const missing = await exchangeCode(lanyard, a.connection.sid, login, { code_verifier: undefined });
    expect(missing.status).toBe(400);
    const login2 = await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com');
    const wrong = await exchangeCode(lanyard, a.connection.sid, login2, { code_verifier: pkcePair().verifier });
    expect(wrong).toMatchObject({ status: 400, body: { message: expect.stringMatching(/code_verifier does not match/) } });
    expect((await exchangeCode(lanyard, a.connection.sid, login2)).status).toBe(400);
    // The challenge itself is not a verifier (a "plain" downgrade at the token endpoint).
    const login3 = await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com');
    const challengeAsVerifier = createHash('sha256').update(login3.verifier).digest('base64url');
    expect((await exchangeCode(lanyard, a.connection.sid, login3, { code_verifier: challengeAsVerifier })).status).toBe(400);
  });
});

/** A standard-surface sign-in by hand: authorize → IdP → ACS → redirect URI with a code. */
async function oidcLogin(clientId: string, redirectUri: string, userId = 'alan@example.com') {
  const { verifier, challenge } = pkcePair();
  const nonce = randomBytes(8).toString('hex');
  const url = new URL('/oauth2/authorize', lanyard.url);
  const params = {
    response_type: 'code',
    client_id: clientId,
    scope: 'openid',
    redirect_uri: redirectUri,
    state: 'st',
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const start = await fetch(url, { redirect: 'manual' });
  if (start.status !== 302) throw new Error(`authorize answered ${start.status}: ${await start.text()}`);
  const form = await loginHeadless(idp, start.headers.get('location')!, userId);
  const back = new URL((await postForm(form.action, form.fields)).headers.get('location')!);
  return { code: back.searchParams.get('code') ?? '', verifier, nonce, redirectUri, clientId };
}

const oidcToken = async (body: Record<string, string>) => {
  const response = await fetch(`${lanyard.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const redeem = (login: Awaited<ReturnType<typeof oidcLogin>>, overrides: Record<string, string> = {}) =>
  oidcToken({
    grant_type: 'authorization_code',
    code: login.code,
    code_verifier: login.verifier,
    redirect_uri: login.redirectUri,
    client_id: login.clientId,
    ...overrides,
  });
const userinfo = (accessToken: string) => fetch(`${lanyard.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });

describe('codes', () => {
  it('Flex: a replayed code fails and revokes the tokens the first exchange issued', async () => {
    const login = await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com');
    const first = await exchangeCode(lanyard, a.connection.sid, login);
    expect(first.status).toBe(200);
    expect((await validateToken(lanyard, a.account.sid, a.authToken, String(first.body.access_token))).body.valid).toBe(true);
    const replay = await exchangeCode(lanyard, a.connection.sid, login);
    expect(replay).toMatchObject({ status: 400, body: { message: expect.stringMatching(/already been used/) } });
    expect((await validateToken(lanyard, a.account.sid, a.authToken, String(first.body.access_token))).body).toMatchObject({
      valid: false,
      message: expect.stringMatching(/revoked/),
    });
    expect((await refreshTokens(lanyard, a.connection.sid, String(first.body.refresh_token))).status).toBe(400);
  });

  it('refuses a repeated form parameter (RFC 6749 §3.2) at the token endpoints instead of taking the last', async () => {
    const login = await oidcLogin(a.connection.clientId, OIDC_REDIRECT);
    const body = new URLSearchParams({ grant_type: 'authorization_code', code: 'guess', code_verifier: login.verifier });
    body.append('code', login.code);
    body.append('redirect_uri', login.redirectUri);
    body.append('client_id', login.clientId);
    const repeated = await fetch(`${lanyard.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(repeated.status).toBe(400);
    expect(await repeated.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/code must not be repeated/) });
    const flexForm = new URLSearchParams({ AuthCode: 'guess', CodeVerifier: 'v'.repeat(43), ClientId: a.connection.clientId });
    flexForm.append('AuthCode', 'another');
    const flex = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: flexForm,
    });
    expect(flex.status).toBe(400);
    expect(((await flex.json()) as { message: string }).message).toMatch(/AuthCode must not be repeated/);
    // The refusal spent nothing: the real code still redeems once.
    expect((await redeem(login)).status).toBe(200);
  });

  it('standard surface: a replayed code fails with invalid_grant and revokes the first tokens', async () => {
    const login = await oidcLogin(a.connection.clientId, OIDC_REDIRECT);
    const first = await redeem(login);
    expect(first.status).toBe(200);
    expect((await userinfo(String(first.body.access_token))).status).toBe(200);
    const replay = await redeem(login);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await userinfo(String(first.body.access_token))).status).toBe(401);
  });

  it("refuses a Flex code presented for another connection (another account's sso_profile_sid)", async () => {
    const login = await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com');
    const stolen = await exchangeCode(lanyard, b.connection.sid, login);
    expect(stolen).toMatchObject({ status: 400, body: { message: expect.stringMatching(/another connection/) } });
  });

  it('refuses a standard-surface code redeemed by another client, or with another redirect_uri', async () => {
    const login = await oidcLogin(a.connection.clientId, OIDC_REDIRECT);
    expect(await redeem(login, { client_id: b.connection.clientId })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const login2 = await oidcLogin(a.connection.clientId, OIDC_REDIRECT);
    expect(await redeem(login2, { redirect_uri: `${OIDC_REDIRECT}/other` })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it("refuses a code at the other surface's token endpoint", async () => {
    const flex = await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com');
    const atOidc = await oidcToken({
      grant_type: 'authorization_code',
      code: flex.code,
      code_verifier: flex.verifier,
      redirect_uri: DESKTOP_URL,
      client_id: a.connection.clientId,
    });
    expect(atOidc).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const oidc = await oidcLogin(a.connection.clientId, OIDC_REDIRECT);
    const atFlex = await exchangeCode(lanyard, a.connection.sid, {
      code: oidc.code,
      verifier: oidc.verifier,
      nonce: oidc.nonce,
      state: '',
      callback: new URL(OIDC_REDIRECT),
    });
    expect(atFlex).toMatchObject({ status: 400, body: { message: expect.stringMatching(/not issued to this endpoint/) } });
  });

  it('refuses an unknown or expired code without revealing which', async () => {
    const login = await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com');
    const forged = await exchangeCode(lanyard, a.connection.sid, { ...login, code: randomBytes(32).toString('base64url') });
    expect(forged).toMatchObject({ status: 400, body: { message: 'The authorization code is invalid or has expired.' } });
  });
});

describe('state and nonce', () => {
  it('returns each sign-in to its own state, even when two are in flight and finish out of order', async () => {
    const start = async (state: string) => {
      const response = await authorize(lanyard, {
        ssoProfileSid: a.connection.sid,
        redirectUrl: DESKTOP_URL,
        state,
        codeChallenge: pkcePair().challenge,
        codeChallengeMethod: 'S256',
      });
      return loginHeadless(idp, response.headers.get('location')!, 'alan@example.com');
    };
    const one = await start('state-one');
    const two = await start('state-two');
    const back2 = new URL((await postForm(two.action, two.fields)).headers.get('location')!);
    const back1 = new URL((await postForm(one.action, one.fields)).headers.get('location')!);
    expect([back1.searchParams.get('state'), back2.searchParams.get('state')]).toEqual(['state-one', 'state-two']);
    // Another sign-in's RelayState with this answer: refused, and it never lends its state.
    const three = await start('state-three');
    const four = await start('state-four');
    const swapped = await postForm(three.action, { ...three.fields, RelayState: four.fields.RelayState });
    const back = new URL(swapped.headers.get('location')!);
    expect(back.searchParams.get('code')).toBeNull();
    expect(back.searchParams.get('state')).toBe('state-four');
    expect(back.searchParams.get('error_description')).toMatch(/another sign-in request/);
  });

  it('Flex authorize requires state', async () => {
    const response = await authorize(lanyard, { ssoProfileSid: a.connection.sid, redirectUrl: DESKTOP_URL, codeChallenge: pkcePair().challenge });
    expect(response.status).toBe(400);
    expect((await response.json()).message).toMatch(/state is required/);
  });

  it("refuses a Flex code exchange whose nonce differs from the authorize request's", async () => {
    const login = await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com');
    expect(await exchangeCode(lanyard, a.connection.sid, login, { nonce: 'another-nonce' })).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/nonce/) },
    });
  });

  it("puts the authorize request's nonce, and only it, in the ID token", async () => {
    const login = await oidcLogin(a.connection.clientId, OIDC_REDIRECT);
    const tokens = await redeem(login);
    const claims = JSON.parse(Buffer.from(String(tokens.body.id_token).split('.')[1]!, 'base64url').toString()) as { nonce?: string; aud?: string };
    expect(claims).toMatchObject({ nonce: login.nonce, aud: a.connection.clientId });
  });
});

describe('refresh tokens', () => {
  it('Flex: reuse of a spent refresh token revokes the whole family', async () => {
    const tokens = await exchangeCode(lanyard, a.connection.sid, await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com'));
    const spent = String(tokens.body.refresh_token);
    const rotated = await refreshTokens(lanyard, a.connection.sid, spent);
    expect(rotated.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const reuse = await refreshTokens(lanyard, a.connection.sid, spent);
    expect(reuse).toMatchObject({ status: 400, body: { message: expect.stringMatching(/already used; the session has been revoked/) } });
    expect((await refreshTokens(lanyard, a.connection.sid, String(rotated.body.refresh_token))).status).toBe(400);
    expect((await validateToken(lanyard, a.account.sid, a.authToken, String(rotated.body.access_token))).body.valid).toBe(false);
  });

  it('standard surface: reuse revokes the family', async () => {
    const tokens = await redeem(await oidcLogin(a.connection.clientId, OIDC_REDIRECT));
    const spent = String(tokens.body.refresh_token);
    const rotated = await oidcToken({ grant_type: 'refresh_token', refresh_token: spent, client_id: a.connection.clientId });
    expect(rotated.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await oidcToken({ grant_type: 'refresh_token', refresh_token: spent, client_id: a.connection.clientId })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect((await userinfo(String(rotated.body.access_token))).status).toBe(401);
  });

  it('refuses a refresh token presented for another connection or by another client', async () => {
    const flex = await exchangeCode(lanyard, a.connection.sid, await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com'));
    expect(await refreshTokens(lanyard, b.connection.sid, String(flex.body.refresh_token))).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/another connection/) },
    });
    const oidc = await redeem(await oidcLogin(a.connection.clientId, OIDC_REDIRECT));
    expect(
      await oidcToken({ grant_type: 'refresh_token', refresh_token: String(oidc.body.refresh_token), client_id: b.connection.clientId }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});

describe('tokens believed where they should not be', () => {
  let accessToken: string;
  beforeAll(async () => {
    const tokens = await exchangeCode(lanyard, a.connection.sid, await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com'));
    accessToken = String(tokens.body.access_token);
  });
  const validate = (token: string) => validateToken(lanyard, a.account.sid, a.authToken, token);
  const parts = () => accessToken.split('.') as [string, string, string];
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const payload = () => JSON.parse(Buffer.from(parts()[1], 'base64url').toString()) as Record<string, unknown>;

  it('the untouched token validates (the control)', async () => {
    expect((await validate(accessToken)).body).toMatchObject({ valid: true, realm_user_id: 'alan@example.com' });
  });

  it("refuses account A's token at account B: validate, legacy refresh", async () => {
    expect((await validateToken(lanyard, b.account.sid, b.authToken, accessToken)).body).toMatchObject({
      valid: false,
      message: expect.stringMatching(/another account/),
    });
    expect((await validateToken(lanyard, b.account.sid, a.authToken, accessToken)).status).toBe(401);
    const refresh = await postJson(`${lanyard.url}/v1/Accounts/${b.account.sid}/Tokens/refresh`, { token: accessToken });
    expect(refresh).toMatchObject({ status: 401, body: { message: expect.stringMatching(/another account/) } });
  });

  it('refuses alg "none", with and without a signature part', async () => {
    for (const token of [
      `${b64({ alg: 'none', typ: 'at+jwt' })}.${parts()[1]}.`,
      `${b64({ alg: 'none', typ: 'at+jwt' })}.${parts()[1]}.${parts()[2]}`,
      `${b64({ alg: 'NONE' })}.${parts()[1]}.`,
    ]) {
      expect((await validate(token)).body).toMatchObject({ valid: false });
    }
  });

  it('never echoes the presented header: an odd alg is refused by name of the one accepted', async () => {
    const token = `${b64({ alg: '<img src=x onerror=alert(1)>', typ: 'at+jwt' })}.${parts()[1]}.${parts()[2]}`;
    const { body } = await validate(token);
    expect(body).toMatchObject({ valid: false, message: 'Only access tokens signed with ES256 are accepted.' });
    expect(JSON.stringify(body)).not.toMatch(/onerror|img/);
  });

  it('refuses a tampered payload (roles, subject, expiry) and a stripped signature', async () => {
    for (const change of [
      { roles: ['admin'] },
      { sub: 'FU' + '0'.repeat(32) },
      { exp: Math.floor(Date.now() / 1000) + 86_400 * 365 },
      { aud: b.account.sid },
    ]) {
      const token = `${parts()[0]}.${b64({ ...payload(), ...change })}.${parts()[2]}`;
      expect((await validate(token)).body, JSON.stringify(change)).toMatchObject({ valid: false, message: expect.stringMatching(/signature/) });
    }
    expect((await validate(`${parts()[0]}.${parts()[1]}.`)).body.valid).toBe(false);
  });

  it('refuses HS256 signed with the published public key (algorithm confusion)', async () => {
    const jwks = (await (await fetch(`${lanyard.url}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, string>> };
    const header = JSON.parse(Buffer.from(parts()[0], 'base64url').toString()) as { kid: string };
    const jwk = jwks.keys.find((k) => k.kid === header.kid)!;
    for (const secret of [JSON.stringify(jwk), `${jwk.x}${jwk.y}`]) {
      const token = await new SignJWT(payload())
        .setProtectedHeader({ alg: 'HS256', kid: header.kid, typ: 'at+jwt' })
        .sign(new TextEncoder().encode(secret));
      expect((await validate(token)).body).toMatchObject({ valid: false, message: expect.stringMatching(/signed with ES256/) });
    }
  });

  it('refuses a token signed by another ES256 key under our kid, and one naming an unknown kid', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const header = JSON.parse(Buffer.from(parts()[0], 'base64url').toString()) as { kid: string };
    const forged = await new SignJWT(payload()).setProtectedHeader({ alg: 'ES256', kid: header.kid, typ: 'at+jwt' }).sign(privateKey);
    expect((await validate(forged)).body).toMatchObject({ valid: false, message: expect.stringMatching(/signature/) });
    const unknown = await new SignJWT(payload())
      .setProtectedHeader({ alg: 'ES256', kid: 'attacker', typ: 'at+jwt', jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    expect((await validate(unknown)).body).toMatchObject({ valid: false, message: expect.stringMatching(/unknown key/) });
  });

  it('refuses a token of another Lanyard deployment', async () => {
    const other = await startTestLanyard('sqlite');
    try {
      const setup = await setupAccount(other, idp);
      const tokens = await exchangeCode(other, setup.connection.sid, await flexLogin(other, idp, setup.connection.sid, 'alan@example.com'));
      expect((await validate(String(tokens.body.access_token))).body.valid).toBe(false);
    } finally {
      await other.stop();
    }
  });

  it('refuses an ID token presented as an access token (token type confusion)', async () => {
    const tokens = await redeem(await oidcLogin(a.connection.clientId, OIDC_REDIRECT));
    const idToken = String(tokens.body.id_token);
    expect((await validate(idToken)).body.valid).toBe(false);
    expect((await userinfo(idToken)).status).toBe(401);
    expect((await postJson(`${lanyard.url}/v1/Accounts/${a.account.sid}/Tokens/refresh`, { token: idToken })).status).toBe(401);
  });

  it('refuses a refresh token where an access token is expected, and the reverse', async () => {
    const tokens = await exchangeCode(lanyard, a.connection.sid, await flexLogin(lanyard, idp, a.connection.sid, 'alan@example.com'));
    expect((await validate(String(tokens.body.refresh_token))).body.valid).toBe(false);
    expect((await refreshTokens(lanyard, a.connection.sid, String(tokens.body.access_token))).status).toBe(400);
  });
});
