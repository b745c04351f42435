import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { DESKTOP_ORIGIN, exchangeCode, flexLogin, refreshTokens, setupAccount } from '../support/flows.ts';

const USERS = [{ id: 'ada@example.com', full_name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'agent'] }];

/** What flex-sdk 3.0.0 sends: Basic base64("token:" + JWT) followed by a stray ")". */
const realClientAuth = (token: string) => `Basic ${Buffer.from(`token:${token}`).toString('base64')})`;

describe.each(BACKENDS)('the Flex UI fixed-host endpoints on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let setup: Awaited<ReturnType<typeof setupAccount>>;
  let other: Awaited<ReturnType<typeof setupAccount>>;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: USERS });
    lanyard = await startTestLanyard(backend, { refreshGraceSeconds: 5 });
    setup = await setupAccount(lanyard, idp);
    other = await setupAccount(lanyard, idp);
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function signIn(account = setup) {
    const tokens = await exchangeCode(lanyard, account.connection.sid, await flexLogin(lanyard, idp, account.connection.sid, 'ada@example.com'));
    expect(tokens.status).toBe(200);
    return tokens.body as { access_token: string; refresh_token: string; session_expires_at: string; access_token_expires_at: string };
  }

  function tokenInfo(accountSid: string, headers: Record<string, string>, body: string | undefined = undefined) {
    return fetch(`${lanyard.url}/v1/Accounts/${accountSid}/Tokens/Info`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
  }

  it('public configuration: what a browser may know, the same shape for unknown accounts, 400 for a malformed SID', async () => {
    await lanyard.services.accounts.setLoginPopup(setup.account.sid, true);
    const known = await fetch(`${lanyard.url}/v1/Configuration/Public?AccountSid=${setup.account.sid}`, {
      headers: { origin: 'https://any.example' },
    });
    expect(known.status).toBe(200);
    expect(known.headers.get('access-control-allow-origin')).toBe('*');
    const host = new URL(lanyard.url).host;
    expect(await known.json()).toEqual({
      configurations: [{ account_sid: setup.account.sid, runtime_domain: host, public_attributes: { loginPopup: true } }],
    });
    const unknownSid = `AC${'0'.repeat(32)}`;
    const unknown = await fetch(`${lanyard.url}/v1/Configuration/Public?AccountSid=${unknownSid}`);
    expect(await unknown.json()).toEqual({
      configurations: [{ account_sid: unknownSid, runtime_domain: host, public_attributes: { loginPopup: false } }],
    });
    const bad = await fetch(`${lanyard.url}/v1/Configuration/Public?AccountSid=AC12`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 20001, message: expect.stringContaining('AccountSid') });
    await lanyard.services.accounts.setLoginPopup(setup.account.sid, false);
  });

  it('Tokens/Info describes a live desktop token sent the way the real client sends it', async () => {
    const tokens = await signIn();
    const response = await tokenInfo(setup.account.sid, { authorization: realClientAuth(tokens.access_token) }, `Token=${tokens.access_token}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      account_sid: setup.account.sid,
      flex_instance_sid: setup.account.instanceSid,
      identity: 'ada_40example_2Ecom',
      roles: ['admin', 'agent'],
      realm_user_id: 'ada@example.com',
      // The JWT's own `exp` (whole seconds).
      expiration: new Date(Math.floor(Date.parse(tokens.access_token_expires_at) / 1000) * 1000).toISOString(),
      session_expires_at: tokens.session_expires_at,
    });
    expect(body.flex_user_sid).toMatch(/^FU[0-9a-f]{32}$/);
    expect(body.worker_sid).toMatch(/^WK[0-9a-f]{32}$/);
    // Without the stray ")" too, and without a form (the token is in the header).
    const plain = await tokenInfo(
      setup.account.sid,
      { authorization: `Basic ${Buffer.from(`token:${tokens.access_token}`).toString('base64')}` },
      '',
    );
    expect(plain.status).toBe(200);
  });

  it('Configuration answers the token’s own account, with the compatibility the real client requires', async () => {
    const tokens = await signIn();
    const response = await fetch(`${lanyard.url}/v1/Configuration?UiVersion=2.17.1`, {
      headers: { authorization: realClientAuth(tokens.access_token) },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      account_sid: setup.account.sid,
      flex_instance_sid: setup.account.instanceSid,
      ui_version: '2.17.1',
      ui_attributes: { version_compatibility: 'yes' },
    });
  });

  it('refuses bad credentials with 20003, expired tokens with 20104, never a 5xx', async () => {
    const tokens = await signIn();
    const otherTokens = await signIn(other);
    const sid = setup.account.sid;
    const cases: Array<[string, Record<string, string>, number]> = [
      ['no Authorization', {}, 20003],
      ['garbled Basic', { authorization: 'Basic %%%' }, 20003],
      ['not Basic', { authorization: `Bearer ${tokens.access_token}` }, 20003],
      ['two stray parentheses', { authorization: realClientAuth(tokens.access_token) + ')' }, 20003],
      ['account credentials instead of a token', { authorization: `Basic ${Buffer.from(`${sid}:${setup.authToken}`).toString('base64')}` }, 20003],
      ['a token that is not a JWT', { authorization: realClientAuth('not.a.jwt') }, 20003],
      ['another account’s token', { authorization: realClientAuth(otherTokens.access_token) }, 20003],
      ['an empty token', { authorization: `Basic ${Buffer.from('token:').toString('base64')}` }, 20003],
    ];
    for (const [name, headers, code] of cases) {
      const info = await tokenInfo(sid, headers, '');
      expect({ name, status: info.status, body: await info.json() }).toMatchObject({ name, status: 401, body: { code } });
      const config = await fetch(`${lanyard.url}/v1/Configuration?UiVersion=2.17.1`, { headers });
      if (name === 'another account’s token') expect(config.status).toBe(200);
      else expect({ name, status: config.status, body: await config.json() }).toMatchObject({ name, status: 401, body: { code } });
    }
    // A form Token that differs from the one that authenticates.
    const mismatch = await tokenInfo(sid, { authorization: realClientAuth(tokens.access_token) }, `Token=${otherTokens.access_token}`);
    expect(mismatch.status).toBe(401);
    expect(await mismatch.json()).toMatchObject({ code: 20003 });
    // A malformed form: 400 naming the fix.
    const json = await fetch(`${lanyard.url}/v1/Accounts/${sid}/Tokens/Info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: realClientAuth(tokens.access_token) },
      body: '{"Token":1}',
    });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ code: 20001, message: expect.stringContaining('x-www-form-urlencoded') });
    const badPath = await tokenInfo('AC1', { authorization: realClientAuth(tokens.access_token) }, '');
    expect(badPath.status).toBe(400);

    // Expired: 20104 on both endpoints.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse(tokens.access_token_expires_at) + 1_000 });
    const expired = await tokenInfo(sid, { authorization: realClientAuth(tokens.access_token) }, `Token=${tokens.access_token}`);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ code: 20104 });
    const expiredConfig = await fetch(`${lanyard.url}/v1/Configuration?UiVersion=2.17.1`, {
      headers: { authorization: realClientAuth(tokens.access_token) },
    });
    expect(await expiredConfig.json()).toMatchObject({ code: 20104 });
    vi.useRealTimers();

    // Revoked: 20003.
    await lanyard.services.tokens.revokeAllForAccount(sid);
    const revoked = await tokenInfo(sid, { authorization: realClientAuth(tokens.access_token) }, `Token=${tokens.access_token}`);
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ code: 20003, message: expect.stringContaining('revoked') });
  });

  it('answers CORS preflights of Trusted origins with Authorization allowed, and refuses others', async () => {
    for (const path of [`/v1/Accounts/${setup.account.sid}/Tokens/Info`, '/v1/Configuration?UiVersion=2.17.1']) {
      const trusted = await fetch(`${lanyard.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: DESKTOP_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(trusted.status).toBe(204);
      expect(trusted.headers.get('access-control-allow-origin')).toBe(DESKTOP_ORIGIN);
      expect(trusted.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
      const foreign = await fetch(`${lanyard.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(foreign.status).toBe(403);
    }
  });

  it('exchanges a code sent form-encoded (the real client’s Twilio-hosted variant) with the same rules', async () => {
    const login = await flexLogin(lanyard, idp, setup.connection.sid, 'ada@example.com');
    const form = (fields: Record<string, string>) =>
      fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
    const fields = {
      AuthCode: login.code,
      CodeVerifier: login.verifier,
      ClientId: setup.connection.clientId,
      RedirectUrl: 'https://services.twilio.com/v1/Flex/Authentication/Callback',
      Nonce: login.nonce,
    };
    const wrongVerifier = await form({ ...fields, CodeVerifier: 'x'.repeat(43) });
    expect(wrongVerifier.status).toBe(400);
    expect(await wrongVerifier.json()).toMatchObject({ code: 45002, message: expect.stringContaining('PKCE') });

    const second = await flexLogin(lanyard, idp, setup.connection.sid, 'ada@example.com');
    const ok = await form({ ...fields, AuthCode: second.code, CodeVerifier: second.verifier, Nonce: second.nonce });
    expect(ok.status).toBe(200);
    const payload = (await ok.json()) as Record<string, unknown>;
    expect(payload).toMatchObject({ identity: 'ada_40example_2Ecom', roles: ['admin', 'agent'], accountSid: setup.account.sid });
    expect(payload.flexUserSid).toMatch(/^FU/);
    const info = await tokenInfo(setup.account.sid, { authorization: realClientAuth(String(payload.token)) }, '');
    expect(info.status).toBe(200);
    // Replayed: refused, and what it issued is revoked.
    const replay = await form({ ...fields, AuthCode: second.code, CodeVerifier: second.verifier, Nonce: second.nonce });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ code: 45002 });
    expect((await tokenInfo(setup.account.sid, { authorization: realClientAuth(String(payload.token)) }, '')).status).toBe(401);

    const third = await flexLogin(lanyard, idp, setup.connection.sid, 'ada@example.com');
    const wrongClient = await form({ ...fields, AuthCode: third.code, CodeVerifier: third.verifier, ClientId: other.connection.clientId });
    expect(await wrongClient.json()).toMatchObject({ code: 45002, message: expect.stringContaining('another') });
    const fourth = await flexLogin(lanyard, idp, setup.connection.sid, 'ada@example.com');
    const { Nonce: _left, ...withoutNonce } = { ...fields, AuthCode: fourth.code, CodeVerifier: fourth.verifier };
    const noNonce = await form(withoutNonce);
    expect(await noNonce.json()).toMatchObject({ code: 45002, message: expect.stringMatching(/^nonce is missing/) });
    const unknownClient = await form({ ...fields, ClientId: 'nobody' });
    expect(await unknownClient.json()).toMatchObject({ code: 45004, message: expect.stringContaining('ClientId') });
    const malformed = await form({ AuthCode: 'x' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 45004, message: expect.stringContaining('CodeVerifier') });
    const badJson = await fetch(`${lanyard.url}/v1/Flex/OAuth/Tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(await badJson.json()).toMatchObject({ code: 45004 });
  });

  it('reads every lookup parameter flex-sdk sends, even empty', async () => {
    const url = (params: Record<string, string>) => `${lanyard.url}/v1/Flex/Authentication/Config?${new URLSearchParams(params)}`;
    const all = { AccountSid: setup.account.sid, FlexInstanceSid: '', RuntimeDomain: '', SSOProfileSid: '', AppType: 'SinglePageApp' };
    const found = (await (await fetch(url(all))).json()) as { config_list: Array<Record<string, unknown>> };
    expect(found.config_list).toHaveLength(1);
    expect(found.config_list[0]).toMatchObject({ connection_name: setup.connection.sid });
    const filtered = async (params: Record<string, string>) =>
      ((await (await fetch(url({ ...all, ...params }))).json()) as { config_list: unknown[] }).config_list;
    expect(await filtered({ FlexInstanceSid: setup.account.instanceSid, SSOProfileSid: setup.connection.sid })).toHaveLength(1);
    expect(await filtered({ FlexInstanceSid: other.account.instanceSid })).toHaveLength(0);
    expect(await filtered({ SSOProfileSid: other.connection.sid })).toHaveLength(0);
    expect(await filtered({ AppType: 'Native' })).toHaveLength(0);
    // RuntimeDomain alone: Lanyard accounts have no Twilio runtime domain, so nothing is found (not a 400).
    const byDomain = await fetch(url({ AccountSid: '', RuntimeDomain: 'desk-top-1234.twil.io', AppType: 'SinglePageApp' }));
    expect(byDomain.status).toBe(200);
    expect(await byDomain.json()).toEqual({ config_list: [] });
    const nothing = await fetch(url({ AccountSid: '', RuntimeDomain: '' }));
    expect(nothing.status).toBe(400);
    const badInstance = await fetch(url({ ...all, FlexInstanceSid: 'GO12' }));
    expect(badInstance.status).toBe(400);
    expect(await badInstance.json()).toMatchObject({ message: expect.stringContaining('FlexInstanceSid') });
  });

  it('at the cap, a refresh that cannot move the expiry keeps the refresh token: the session ends at the cap, with no reuse alarm', async () => {
    const first = await signIn();
    const sessionEnd = Date.parse(first.session_expires_at);
    // Ten minutes before the end: this refresh still moves the expiry (to the cap) and rotates.
    vi.useFakeTimers({ toFake: ['Date'], now: sessionEnd - 600_000 });
    const capped = await refreshTokens(lanyard, setup.connection.sid, first.refresh_token);
    expect(capped.body).toMatchObject({ session_capped: true, access_token_expires_at: new Date(sessionEnd).toISOString() });
    const held = String(capped.body.refresh_token);
    expect(held).not.toBe(first.refresh_token);
    // The real client discards answers whose expiry did not move and presents the same token
    // again 15-20 s later (outside the 5 s grace window), until the shift ends.
    for (let at = sessionEnd - 580_000; at < sessionEnd; at += 17_000) {
      vi.setSystemTime(at);
      const again = await refreshTokens(lanyard, setup.connection.sid, held);
      expect({ at, status: again.status }).toEqual({ at, status: 200 });
      expect(again.body.refresh_token).toBe(held);
      expect(again.body.access_token_expires_at).toBe(new Date(sessionEnd).toISOString());
      const info = await tokenInfo(setup.account.sid, { authorization: realClientAuth(String(again.body.access_token)) }, '');
      expect(info.status).toBe(200);
    }
    vi.setSystemTime(sessionEnd + 1_000);
    const over = await refreshTokens(lanyard, setup.connection.sid, held);
    expect(over.body).toMatchObject({ code: 45210 });
    // Not revoked, and no reuse recorded: the session simply ended.
    const sid = (JSON.parse(Buffer.from(first.access_token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid;
    const session = await lanyard.services.storage.find<{ revokedAt: number | null; revokedReason: string | null }>('session', sid);
    expect(session?.payload).toMatchObject({ revokedAt: null, revokedReason: null });
  });
});
