import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { DESKTOP_URL, authorize, exchangeCode, flexLogin, pkcePair, postForm, refreshTokens, setupAccount, validateToken } from '../support/flows.ts';
import { loginHeadless } from '../../packages/demo/src/dev-idp/index.ts';

const USERS = [
  { id: 'ada@example.com', full_name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'supervisor', 'agent'] },
  { id: 'alan@example.com', full_name: 'Alan Turing', email: 'alan@example.com', roles: ['agent'] },
  { id: 'norole@example.com', full_name: 'No Role', email: 'norole@example.com', roles: [] },
];

describe.each(BACKENDS)('enhanced SSO end to end on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let setup: Awaited<ReturnType<typeof setupAccount>>;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: USERS });
    lanyard = await startTestLanyard(backend, { refreshGraceSeconds: 5, loginTtlSeconds: 3600 });
    setup = await setupAccount(lanyard, idp);
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('publishes the connection through the public lookup', async () => {
    const response = await fetch(`${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=${setup.account.sid}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      config_list: [
        {
          account_sid: setup.account.sid,
          instance_sid: setup.account.instanceSid,
          connection_name: setup.connection.sid,
          client_id: setup.connection.clientId,
          active: true,
          app_type: 'SinglePageApp',
        },
      ],
    });
  });

  it('answers the lookup with 400 for a malformed SID and an empty list for an unknown account', async () => {
    const bad = await fetch(`${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=AC123`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 20001, status: 400, message: expect.stringContaining('AccountSid') });
    const unknown = await fetch(`${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=AC${'0'.repeat(32)}`);
    expect(await unknown.json()).toEqual({ config_list: [] });
  });

  it('signs an agent in: authorize → SAML IdP → ACS → code → tokens that validate', async () => {
    const login = await flexLogin(lanyard, idp, setup.connection.sid, 'ada@example.com');
    expect(login.callback.origin + login.callback.pathname).toBe(DESKTOP_URL);
    expect(login.code).not.toBe('');
    const tokens = await exchangeCode(lanyard, setup.connection.sid, login);
    expect(tokens.status).toBe(200);
    const info = tokens.body.token_info as Record<string, unknown>;
    expect(info).toMatchObject({
      account_sid: setup.account.sid,
      flex_instance_sid: setup.account.instanceSid,
      identity: 'ada_40example_2Ecom',
      name_id: 'ada@example.com',
      realm_user_id: 'ada@example.com',
      roles: ['admin', 'supervisor', 'agent'],
    });
    expect(info.flex_user_sid).toMatch(/^FU[0-9a-f]{32}$/);
    // The server's SAML responses are verified on its worker threads (LANYARD_SAML_WORKERS).
    expect(lanyard.services.samlVerification.verified).toMatchObject({ onThisThread: 0, onWorkers: expect.any(Number) });
    expect(lanyard.services.samlVerification.verified.onWorkers).toBeGreaterThan(0);
    expect(info.worker_sid).toMatch(/^WK[0-9a-f]{32}$/);
    expect(Date.parse(String(tokens.body.access_token_expires_at)) - Date.now()).toBeGreaterThan(3500_000);

    const validation = await validateToken(lanyard, setup.account.sid, setup.authToken, String(tokens.body.access_token));
    expect(validation.body).toMatchObject({
      valid: true,
      identity: 'ada_40example_2Ecom',
      realm_user_id: 'ada@example.com',
      roles: ['admin', 'supervisor', 'agent'],
      worker_sid: info.worker_sid,
    });

    // Provisioned once: the same user and worker SIDs on the next login.
    const again = await exchangeCode(lanyard, setup.connection.sid, await flexLogin(lanyard, idp, setup.connection.sid, 'ada@example.com'));
    const infoAgain = again.body.token_info as Record<string, unknown>;
    expect(infoAgain.flex_user_sid).toBe(info.flex_user_sid);
    expect(infoAgain.worker_sid).toBe(info.worker_sid);
  });

  it('treats a code as single-use: a replay fails and revokes what the code issued', async () => {
    const login = await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com');
    const first = await exchangeCode(lanyard, setup.connection.sid, login);
    expect(first.status).toBe(200);
    const replay = await exchangeCode(lanyard, setup.connection.sid, login);
    expect(replay.status).toBe(400);
    expect(replay.body.message).toMatch(/already been used/);
    const validation = await validateToken(lanyard, setup.account.sid, setup.authToken, String(first.body.access_token));
    expect(validation.body.valid).toBe(false);
    expect((await refreshTokens(lanyard, setup.connection.sid, String(first.body.refresh_token))).status).toBe(400); // In the account's audit log (console, admin API), naming the user.
    const audited = (await lanyard.services.audit.recent(setup.account.sid)).find((e) => e.type === 'code.replayed');
    expect(audited).toMatchObject({ connectionSid: setup.connection.sid, surface: 'flex', reason: expect.stringMatching(/exchanged twice/) });
    expect(audited?.userSid).toMatch(/^FU[0-9a-f]{32}$/);
  });

  it('refuses a wrong PKCE verifier and burns the code', async () => {
    const login = await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com');
    const wrong = await exchangeCode(lanyard, setup.connection.sid, login, { code_verifier: pkcePair().verifier });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toMatch(/code_verifier does not match/);
    expect((await exchangeCode(lanyard, setup.connection.sid, login)).status).toBe(400);
  });

  it('refuses a code presented for another connection or with another nonce', async () => {
    const login = await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com');
    const other = await setupAccount(lanyard, idp);
    const wrongConnection = await exchangeCode(lanyard, other.connection.sid, login, { sso_profile_sid: other.connection.sid });
    expect(wrongConnection.status).toBe(400);
    expect(wrongConnection.body.message).toMatch(/another connection/);
    const login2 = await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com');
    const wrongNonce = await exchangeCode(lanyard, setup.connection.sid, login2, { nonce: 'not-the-nonce' });
    expect(wrongNonce.status).toBe(400);
    expect(wrongNonce.body.message).toMatch(/nonce/);
  });

  it('rotates refresh tokens; a retry within the grace window gets the same successor', async () => {
    const tokens = await exchangeCode(lanyard, setup.connection.sid, await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com'));
    const first = String(tokens.body.refresh_token);
    const rotated = await refreshTokens(lanyard, setup.connection.sid, first);
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh_token).not.toBe(first);
    const retried = await refreshTokens(lanyard, setup.connection.sid, first);
    expect(retried.status).toBe(200);
    expect(retried.body.refresh_token).toBe(rotated.body.refresh_token);
    const next = await refreshTokens(lanyard, setup.connection.sid, String(rotated.body.refresh_token));
    expect(next.status).toBe(200);
    const validation = await validateToken(lanyard, setup.account.sid, setup.authToken, String(next.body.access_token));
    expect(validation.body.valid).toBe(true);
  });

  it('revokes the whole family when a spent refresh token is reused after the grace window', async () => {
    const tokens = await exchangeCode(lanyard, setup.connection.sid, await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com'));
    const first = String(tokens.body.refresh_token);
    const rotated = await refreshTokens(lanyard, setup.connection.sid, first);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 6_000 });
    const reuse = await refreshTokens(lanyard, setup.connection.sid, first);
    expect(reuse.status).toBe(400);
    expect(reuse.body.message).toMatch(/already used; the session has been revoked/);
    expect((await refreshTokens(lanyard, setup.connection.sid, String(rotated.body.refresh_token))).status).toBe(400);
    expect((await validateToken(lanyard, setup.account.sid, setup.authToken, String(rotated.body.access_token))).body.valid).toBe(false);
    const audited = (await lanyard.services.audit.recent(setup.account.sid)).filter((e) => e.type === 'token.refresh_reuse');
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({
      connectionSid: setup.connection.sid,
      surface: 'flex',
      reason: expect.stringMatching(/presented again after its grace window, or after its successor had been used/),
    });
  });

  it('ends a session at its maximum lifetime and says so', async () => {
    const tokens = await exchangeCode(lanyard, setup.connection.sid, await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com'));
    const sessionEnd = Date.parse(String(tokens.body.session_expires_at));
    expect(sessionEnd - Date.now()).toBeGreaterThan(11 * 3600_000);
    // Near the end of the shift the expiry is cut to the session end, never beyond it.
    vi.useFakeTimers({ toFake: ['Date'], now: sessionEnd - 600_000 });
    const late = await refreshTokens(lanyard, setup.connection.sid, String(tokens.body.refresh_token));
    expect(late.status).toBe(200);
    expect(Date.parse(String(late.body.access_token_expires_at))).toBe(sessionEnd);
    expect(late.body.session_capped).toBe(true);
    vi.setSystemTime(sessionEnd + 1_000);
    const over = await refreshTokens(lanyard, setup.connection.sid, String(late.body.refresh_token));
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({ code: 45210, message: expect.stringMatching(/maximum lifetime/) });
  });

  it('refuses an untrusted redirect without redirecting: JSON for APIs, a page for browsers', async () => {
    const { challenge } = pkcePair();
    const params = { ssoProfileSid: setup.connection.sid, redirectUrl: 'https://evil.example/desktop/', state: 's', codeChallenge: challenge };
    const api = await authorize(lanyard, params);
    expect(api.status).toBe(400);
    expect(api.headers.get('location')).toBeNull();
    expect(await api.json()).toMatchObject({ code: 70002, message: 'Trusted Login has not been enabled for this domain.' });
    const page = await authorize(lanyard, params, { accept: 'text/html' });
    expect(page.status).toBe(400);
    const html = await page.text();
    expect(html).toContain('Trusted Login has not been enabled for this domain.');
    expect(html).toContain('Trusted URLs');
    expect(html).not.toMatch(/at .*\.ts:\d+/);
  });

  it('rejects bad authorize input clearly', async () => {
    const { challenge } = pkcePair();
    const unknown = await authorize(lanyard, {
      ssoProfileSid: `JQ${'1'.repeat(32)}`,
      redirectUrl: DESKTOP_URL,
      state: 's',
      codeChallenge: challenge,
    });
    expect(unknown.status).toBe(404);
    const malformed = await authorize(lanyard, { ssoProfileSid: 'JQnope', redirectUrl: DESKTOP_URL, state: 's', codeChallenge: challenge });
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).message).toMatch(/ssoProfileSid/);
    const plain = await authorize(lanyard, {
      ssoProfileSid: setup.connection.sid,
      redirectUrl: DESKTOP_URL,
      state: 's',
      codeChallenge: challenge,
      codeChallengeMethod: 'plain',
    });
    expect(plain.status).toBe(400);
    expect((await plain.json()).message).toMatch(/only S256/);
    const noChallenge = await authorize(lanyard, { ssoProfileSid: setup.connection.sid, redirectUrl: DESKTOP_URL, state: 's' });
    expect(noChallenge.status).toBe(400);
  });

  it('needs the Domain redirect URL for self-hosted enhanced SSO (70251)', async () => {
    const bare = await setupAccount(lanyard, idp, { defaultRedirect: null });
    const response = await authorize(lanyard, {
      ssoProfileSid: bare.connection.sid,
      redirectUrl: DESKTOP_URL,
      state: 's',
      codeChallenge: pkcePair().challenge,
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 70251, message: expect.stringContaining('Domain redirect URL') });
  });

  it('fails a login without the mandatory roles attribute with 45050, naming it', async () => {
    const login = await flexLogin(lanyard, idp, setup.connection.sid, 'norole@example.com');
    expect(login.code).toBe('');
    expect(login.callback.searchParams.get('error')).toBe('access_denied');
    expect(login.callback.searchParams.get('error_code')).toBe('45050');
    expect(login.callback.searchParams.get('error_description')).toMatch(/"roles"/);
    const audit = await lanyard.services.audit.recent(setup.account.sid, 5);
    expect(audit.some((e) => e.type === 'login.failed' && e.code === 45050)).toBe(true);
  });

  it('rejects a tampered SAML response, an expired one, one from another key, and a replay', async () => {
    const begin = async () => {
      const start = await authorize(lanyard, {
        ssoProfileSid: setup.connection.sid,
        redirectUrl: DESKTOP_URL,
        state: 'st',
        codeChallenge: pkcePair().challenge,
      });
      return loginHeadless(idp, start.headers.get('location')!, 'alan@example.com');
    };
    const errorOf = async (response: Response) => new URL(response.headers.get('location')!).searchParams;

    // Tampered: change the NameID inside the signed assertion.
    const form = await begin();
    const xml = Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8').replace('alan@example.com', 'ada@example.com');
    const tampered = await postForm(form.action, { ...form.fields, SAMLResponse: Buffer.from(xml).toString('base64') });
    expect(tampered.status).toBe(303);
    expect((await errorOf(tampered)).get('error_description')).toMatch(/signature/);

    // Expired: a valid response presented after NotOnOrAfter (5 min) plus the 2-minute skew,
    // while its AuthnRequest (10 min) is still outstanding.
    const late = await begin();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 8 * 60_000 });
    const expired = await postForm(late.action, late.fields);
    expect((await errorOf(expired)).get('error_description')).toMatch(/validity window|expired|NotOnOrAfter/i);
    vi.useRealTimers();

    // Another key: the same AuthnRequest answered by an IdP whose certificate is not configured.
    const rogue = await startDevIdp({ port: 0, users: USERS });
    try {
      const start = await authorize(lanyard, {
        ssoProfileSid: setup.connection.sid,
        redirectUrl: DESKTOP_URL,
        state: 'st',
        codeChallenge: pkcePair().challenge,
      });
      const idpUrl = new URL(start.headers.get('location')!);
      const rogueUrl = new URL(rogue.ssoUrl);
      rogueUrl.search = idpUrl.search;
      const forged = await loginHeadless(rogue, rogueUrl.toString(), 'alan@example.com');
      const response = await postForm(forged.action, forged.fields);
      expect((await errorOf(response)).get('error_description')).toMatch(/signature|IdP/);
    } finally {
      await rogue.close();
    }

    // Replay: a response that succeeded once is refused the second time.
    const good = await begin();
    const ok = await postForm(good.action, good.fields);
    expect((await errorOf(ok)).get('code')).toBeTruthy();
    const replay = await postForm(good.action, good.fields);
    expect(replay.status).toBeGreaterThanOrEqual(400);
    expect(await replay.text()).toMatch(/already completed|replay|expired or is unknown/);
  });

  it('validates tokens only with the account credentials and only for their account', async () => {
    const tokens = await exchangeCode(lanyard, setup.connection.sid, await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com'));
    const accessToken = String(tokens.body.access_token);
    const wrongAuth = await validateToken(lanyard, setup.account.sid, 'not-the-token', accessToken);
    expect(wrongAuth.status).toBe(401);
    const other = await setupAccount(lanyard, idp);
    const crossAccount = await validateToken(lanyard, other.account.sid, other.authToken, accessToken);
    expect(crossAccount.body).toMatchObject({ valid: false, message: expect.stringMatching(/another account/) });
    const [header, payload] = accessToken.split('.');
    const algNone = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
    expect((await validateToken(lanyard, setup.account.sid, setup.authToken, algNone)).body.valid).toBe(false);
    const tamperedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), roles: ['admin'] })).toString(
      'base64url',
    );
    const tampered = `${header}.${tamperedPayload}.${accessToken.split('.')[2]}`;
    expect((await validateToken(lanyard, setup.account.sid, setup.authToken, tampered)).body).toMatchObject({
      valid: false,
      message: expect.stringMatching(/signature/),
    });
  });

  it('answers a malformed token request with 400, never 500', async () => {
    const notJson = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
    const badGrant = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'Password' }),
    });
    expect(badGrant.status).toBe(400);
    expect((await badGrant.json()).message).toMatch(/grant_type/);
  });
});
