import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loginHeadless, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { DESKTOP_URL, exchangeCode, flexLogin, postForm, postJson, setupAccount, validateToken } from '../support/flows.ts';

describe.each(BACKENDS)('legacy SSO and migration on %s', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard(backend, { loginTtlSeconds: 3600 });
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const legacyAccount = async () => {
    const setup = await setupAccount(lanyard, idp);
    await lanyard.services.accounts.setMode(setup.account.sid, 'legacy');
    return setup;
  };
  const authenticate = (accountSid: string, resource: string) =>
    postJson(`${lanyard.url}/v1/Accounts/${accountSid}/authenticate`, { products: ['flex'], resource });

  /** authenticate → IdP → ACS; returns the ACS response (303 to the resource with the token). */
  const legacyLogin = async (accountSid: string, userId: string, resource = DESKTOP_URL) => {
    const start = await authenticate(accountSid, resource);
    expect(start.status).toBe(200);
    const form = await loginHeadless(idp, String(start.body.location), userId);
    expect(form.action).toBe(`${lanyard.url}/v1/Accounts/${accountSid}/saml2`);
    return { form, response: await postForm(form.action, form.fields) };
  };

  it('signs in with the token on the resource URL and validates it', async () => {
    const setup = await legacyAccount();
    const { response } = await legacyLogin(setup.account.sid, 'ada@example.com', `${DESKTOP_URL}?tab=queue`);
    expect(response.status).toBe(303);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const back = new URL(response.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(DESKTOP_URL);
    expect(back.searchParams.get('tab')).toBe('queue');
    expect(back.searchParams.get('Identity')).toBe('ada_40example_2Ecom');
    expect(back.searchParams.getAll('Roles')).toEqual(['admin', 'supervisor', 'agent']);
    expect(back.searchParams.get('flexUserSid')).toMatch(/^FU[0-9a-f]{32}$/);
    expect(Date.parse(back.searchParams.get('Expiration')!) - Date.now()).toBeGreaterThan(3500_000);
    // The legacy ACS verifies on the server's worker threads too.
    expect(lanyard.services.samlVerification.verified).toMatchObject({ onThisThread: 0 });
    expect(lanyard.services.samlVerification.verified.onWorkers).toBeGreaterThan(0);
    const token = back.searchParams.get('Token')!;
    const validation = await validateToken(lanyard, setup.account.sid, setup.authToken, token);
    expect(validation.body).toMatchObject({ valid: true, identity: 'ada_40example_2Ecom', roles: ['admin', 'supervisor', 'agent'] });

    const refreshed = await postJson(`${lanyard.url}/v1/Accounts/${setup.account.sid}/Tokens/refresh`, { token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ identity: 'ada_40example_2Ecom', roles: ['admin', 'supervisor', 'agent'] });
    expect(refreshed.body.token).not.toBe(token);
    expect((await validateToken(lanyard, setup.account.sid, setup.authToken, String(refreshed.body.token))).body.valid).toBe(true);
  });

  it('answers an untrusted resource with 70002 and broken settings with 70251', async () => {
    const setup = await legacyAccount();
    const untrusted = await authenticate(setup.account.sid, 'https://evil.example/desktop/');
    expect(untrusted).toMatchObject({ status: 400, body: { code: 70002, message: 'Trusted Login has not been enabled for this domain.' } });

    const { account } = await lanyard.services.accounts.createAccount('No IdP yet');
    await lanyard.services.accounts.addTrustedUrl(account.sid, DESKTOP_URL);
    await lanyard.services.accounts.setMode(account.sid, 'legacy');
    const broken = await authenticate(account.sid, DESKTOP_URL);
    expect(broken).toMatchObject({ status: 403, body: { code: 70251 } });

    const malformed = await authenticate('ACnope', DESKTOP_URL);
    expect(malformed.status).toBe(400);
  });

  it('refuses a replayed response', async () => {
    const setup = await legacyAccount();
    const { form, response } = await legacyLogin(setup.account.sid, 'alan@example.com');
    expect(response.status).toBe(303);
    const replay = await postForm(form.action, form.fields);
    expect(replay.status).toBe(401);
    expect(replay.headers.get('location')).toBeNull();
  });

  it('serves legacy SP metadata with the SPEC entity ID and ACS', async () => {
    const setup = await legacyAccount();
    const response = await fetch(`${lanyard.url}/v1/Accounts/${setup.account.sid}/saml2/metadata`);
    const xml = await response.text();
    expect(xml).toContain(`entityID="${lanyard.url}/v1/Accounts/${setup.account.sid}/saml2/metadata"`);
    expect(xml).toContain(`Location="${lanyard.url}/v1/Accounts/${setup.account.sid}/saml2"`);
  });

  it('accepts IdP-initiated logins only when turned on, lands on the Default redirect URL, refuses replays', async () => {
    const setup = await legacyAccount();
    const acsUrl = `${lanyard.url}/v1/Accounts/${setup.account.sid}/saml2`;
    const audience = `${lanyard.url}/v1/Accounts/${setup.account.sid}/saml2/metadata`;
    const unsolicited = await idp.createResponse({ userId: 'grace@example.com', acsUrl, audience });

    const off = await postForm(acsUrl, unsolicited);
    expect(off.status).toBe(401);
    expect(await off.text()).toMatch(/IdP-initiated sign-in is turned off/);

    await lanyard.services.accounts.setIdpInitiatedLogin(setup.account.sid, true);
    const fresh = await idp.createResponse({ userId: 'grace@example.com', acsUrl, audience });
    const on = await postForm(acsUrl, fresh);
    expect(on.status).toBe(303);
    const landing = new URL(on.headers.get('location')!);
    expect(landing.origin + landing.pathname).toBe(DESKTOP_URL);
    expect(landing.searchParams.get('Identity')).toBe('grace_40example_2Ecom');

    const replay = await postForm(acsUrl, fresh);
    expect(replay.status).toBe(401);
    expect(await replay.text()).toMatch(/already been used/);

    // An unsolicited response must not claim to answer a request.
    const forged = await idp.createResponse({ userId: 'grace@example.com', acsUrl, audience, inResponseTo: '_not-ours' });
    expect((await postForm(acsUrl, forged)).status).toBe(401);
  });

  it('refuses IdP-initiated sign-in to a stored Default redirect URL no Trusted URL covers: no token is sent there', async () => {
    const setup = await legacyAccount();
    await lanyard.services.accounts.setIdpInitiatedLogin(setup.account.sid, true);
    // A record written before the rule was enforced atomically: the Default redirect URL is uncovered.
    const account = await lanyard.services.accounts.getAccount(setup.account.sid);
    await lanyard.services.storage.upsert({
      kind: 'account',
      id: account.sid,
      accountSid: account.sid,
      payload: { ...account, trustedUrls: ['https://other.example.com/'] },
    });
    const acsUrl = `${lanyard.url}/v1/Accounts/${setup.account.sid}/saml2`;
    const audience = `${lanyard.url}/v1/Accounts/${setup.account.sid}/saml2/metadata`;
    const response = await postForm(acsUrl, await idp.createResponse({ userId: 'grace@example.com', acsUrl, audience }));
    expect(response.status).toBe(403);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toMatch(/no Trusted URL covers.*lanyard trusted-urls add/s);
  });

  it('migrates legacy → enhanced → legacy with the same user and worker SIDs, and back within the grace period only', async () => {
    const setup = await legacyAccount();
    const { accounts } = lanyard.services;
    const legacyBack = new URL((await legacyLogin(setup.account.sid, 'grace@example.com')).response.headers.get('location')!);
    const userSid = legacyBack.searchParams.get('flexUserSid');

    // Enhanced is refused while the account is legacy-only, then works after the switch.
    const lookupBefore = await (await fetch(`${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=${setup.account.sid}`)).json();
    expect(lookupBefore).toEqual({ config_list: [] });
    await expect(flexLogin(lanyard, idp, setup.connection.sid, 'grace@example.com')).rejects.toThrow(/403/);
    await accounts.setMode(setup.account.sid, 'enhanced');
    const tokens = await exchangeCode(lanyard, setup.connection.sid, await flexLogin(lanyard, idp, setup.connection.sid, 'grace@example.com'));
    const info = tokens.body.token_info as Record<string, unknown>;
    expect(info.flex_user_sid).toBe(userSid);
    expect((await authenticate(setup.account.sid, DESKTOP_URL)).body.code).toBe(70251);

    // Back to legacy within the grace period: no force needed, same SIDs.
    await accounts.setMode(setup.account.sid, 'legacy');
    const again = new URL((await legacyLogin(setup.account.sid, 'grace@example.com')).response.headers.get('location')!);
    expect(again.searchParams.get('flexUserSid')).toBe(userSid);
    const user = await lanyard.services.users.get(userSid!);
    expect(user.workerSid).toBe(info.worker_sid);

    // After 30 days, returning to the previous mode needs force.
    await accounts.setMode(setup.account.sid, 'enhanced');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 31 * 86_400_000 });
    await expect(accounts.setMode(setup.account.sid, 'legacy')).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/grace period/),
    });
    expect((await accounts.setMode(setup.account.sid, 'legacy', { force: true })).ssoMode).toBe('legacy');
  });

  it('runs both modes side by side', async () => {
    const setup = await setupAccount(lanyard, idp);
    await lanyard.services.accounts.setMode(setup.account.sid, 'both');
    const legacy = (await legacyLogin(setup.account.sid, 'alan@example.com')).response;
    expect(legacy.status).toBe(303);
    const enhanced = await exchangeCode(lanyard, setup.connection.sid, await flexLogin(lanyard, idp, setup.connection.sid, 'alan@example.com'));
    expect((enhanced.body.token_info as Record<string, unknown>).flex_user_sid).toBe(
      new URL(legacy.headers.get('location')!).searchParams.get('flexUserSid'),
    );
  });
});
