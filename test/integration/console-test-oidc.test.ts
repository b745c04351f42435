import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestSignInReport, TestSignInStarted, TestSignInStatus } from '../../packages/server/src/console/responses.ts';
import { discoverProvider } from '../../packages/server/src/connections/oidc-connection.ts';
import { ConsoleTestSignIn } from '../../packages/server/src/console/test-sign-in.ts';
import { NotFoundError } from '../../packages/server/src/errors.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { signingKey, startUpstreamProvider, upstreamLoginHeadless } from '../support/oidc-upstream.ts';

const USERS = [
  { sub: 'nora', name: 'Nora Agent', email: 'nora@example.com', roles: ['agent'] },
  { sub: 'mona', name: 'Mona Nomail', roles: ['agent'] },
];

/**
 * The console's test sign-in for an OpenID Connect connection, against a real OpenID Provider
 * (oidc-provider): the console API starts it, the provider's login runs, and its redirect to
 * `/login/oidc/callback` with state `ct_…` becomes a report instead of a code.
 */
describe('console test sign-in through an OpenID Connect provider', () => {
  let lanyard: TestLanyard;
  let upstream: Awaited<ReturnType<typeof startUpstreamProvider>>;
  let accountSid: string;
  let connectionSid: string;
  let session: { cookie: string; csrf: string };
  let adminKeySid: string;

  beforeAll(async () => {
    lanyard = await startTestLanyard('sqlite');
    upstream = await startUpstreamProvider({
      users: USERS,
      redirectUri: `${lanyard.url}/login/oidc/callback`,
      clientId: 'lanyard-console',
      clientSecret: 'upstream-secret',
      keys: [await signingKey('console-key')],
    });
    const { accounts, adminKeys } = lanyard.services;
    accountSid = (await accounts.createAccount('OIDC console test')).account.sid;
    connectionSid = (
      await accounts.setOidc(
        accountSid,
        { issuer: upstream.issuer, clientId: 'lanyard-console', clientSecret: 'upstream-secret', scopes: 'openid profile email roles' },
        (settings) => discoverProvider(settings.issuer),
      )
    ).sid;
    const created = await adminKeys.create('console oidc test');
    const key = created.secret;
    adminKeySid = created.key.sid;
    const signedIn = await fetch(`${lanyard.url}/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ admin_key: key }),
    });
    expect(signedIn.status).toBe(201);
    session = { cookie: signedIn.headers.get('set-cookie')!.split(';')[0]!, csrf: ((await signedIn.json()) as { csrf_token: string }).csrf_token };
  });
  afterAll(async () => {
    await lanyard?.stop();
    await upstream?.close();
  });

  const consoleCall = (method: string, path: string, body?: unknown) =>
    fetch(`${lanyard.url}${path}`, {
      method,
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  /** Starts a test from the console API, plays the user at the provider, and returns the report (page and API). */
  async function testSignIn(login: string, options: { abort?: boolean } = {}): Promise<{ page: string; report: TestSignInReport }> {
    const started = await consoleCall('POST', '/console/test-sign-in', { account_sid: accountSid });
    expect(started.status).toBe(201);
    const test = (await started.json()) as TestSignInStarted;
    expect(test.service_provider).toBe('enhanced');
    const toProvider = new URL(test.url);
    expect(toProvider.origin).toBe(upstream.issuer);
    expect(toProvider.searchParams.get('state')).toBe(test.id);
    expect(test.id).toMatch(/^ct_/);
    expect(toProvider.searchParams.get('redirect_uri')).toBe(`${lanyard.url}/login/oidc/callback`);
    expect(toProvider.searchParams.get('code_challenge_method')).toBe('S256');

    const callback = await upstreamLoginHeadless(test.url, login, options);
    expect(`${callback.origin}${callback.pathname}`).toBe(`${lanyard.url}/login/oidc/callback`);
    expect(callback.searchParams.get('state')).toBe(test.id);
    const answer = await fetch(callback, { redirect: 'manual' });
    // A report page, never a redirect carrying a code.
    expect(answer.status).toBe(200);
    expect(answer.headers.get('location')).toBeNull();
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const page = await answer.text();

    const status = await consoleCall('GET', `/console/test-sign-in/${encodeURIComponent(test.id)}`);
    expect(status.status).toBe(200);
    const result = (await status.json()) as TestSignInStatus;
    if (result.status !== 'done') throw new Error('the test sign-in did not finish');
    expect(result.report.id).toBe(test.id);
    // The state is single use: the same callback again is refused, and still issues nothing.
    const replay = await fetch(callback, { redirect: 'manual' });
    expect(replay.status).toBe(401);
    expect(replay.headers.get('location')).toBeNull();
    return { page, report: result.report };
  }

  it('reports the claims received and the mapped profile, and provisions nobody', async () => {
    const { page, report } = await testSignIn('nora');
    expect(page).toContain('Test sign-in succeeded');
    expect(page).toContain('OpenID Connect');
    expect(report).toMatchObject({
      account_sid: accountSid,
      connection_sid: connectionSid,
      protocol: 'oidc',
      service_provider: 'enhanced',
      succeeded: true,
      name_id: 'nora',
      issuer: upstream.issuer,
      configured_issuer: upstream.issuer,
      profile: { full_name: 'Nora Agent', email: 'nora@example.com', roles: ['agent'], image_url: null },
      dropped_roles: [],
      missing: [],
      error: null,
    });
    expect(report.attributes).toMatchObject({ sub: ['nora'], name: ['Nora Agent'], email: ['nora@example.com'], roles: ['agent'] });
    expect(await lanyard.services.users.list(accountSid)).toEqual([]);
    const events = await lanyard.services.audit.recent(accountSid, 10);
    expect(events.find((e) => e.uniqueId === 'nora')).toMatchObject({ type: 'login.succeeded', surface: 'console-test', userSid: null });
  });

  it('explains a claim the mapping misses (email): what a real sign-in would fail with, and where to fix it', async () => {
    const { page, report } = await testSignIn('mona');
    expect(page).toContain('Test sign-in failed');
    expect(report.succeeded).toBe(false);
    expect(report.error).toMatchObject({ code: 45050, message: expect.stringContaining('"email"') });
    // The fix in the console's words and, for a terminal, as a command naming this connection.
    expect(report.error!.message).toContain(`under "Attributes and roles" of this connection (lanyard mapping set ${connectionSid} --email <names>)`);
    expect(report.name_id).toBe('mona');
    expect(report.profile).toMatchObject({ full_name: 'Mona Nomail', email: null, roles: ['agent'] });
    expect(report.attributes.name).toEqual(['Mona Nomail']);
    expect(report.attributes.email).toBeUndefined();
    const { mapping } = await lanyard.services.accounts.getConnection(connectionSid);
    expect(report.missing).toEqual([
      { attribute: 'email', looked_for: mapping.email, explanation: expect.stringContaining('would fail with error 45050') },
    ]);
    expect(report.missing[0]!.explanation).toMatch(/The IdP sent: .*"sub".*"name"/);
    expect(report.missing[0]!.explanation).toContain('OpenID Connect claim');
    expect(await lanyard.services.users.list(accountSid)).toEqual([]);
  });

  it("reports the provider's refusal (the user cancels: access_denied) with what it means", async () => {
    const { page, report } = await testSignIn('nora', { abort: true });
    expect(page).toContain('Test sign-in failed');
    expect(report).toMatchObject({ protocol: 'oidc', succeeded: false, name_id: null, attributes: {}, missing: [] });
    expect(report.error).toMatchObject({ code: 45020, message: expect.stringMatching(/rejected: access_denied: End-User aborted interaction/) });
    expect(report.warnings).toEqual([expect.stringMatching(/refused the sign-in \(access_denied\).*Assign the user/)]);
    // The answer named no issuer (`issuer` is what the IdP sent); the configured one is shown instead of "none".
    expect(report).toMatchObject({ issuer: null, configured_issuer: upstream.issuer });
    expect(page).toContain(`<th scope="row">Issuer</th><td>${upstream.issuer} (configured; the answer named none)</td>`);
  });

  it("bounds the provider's error text a callback URL carries: one line, at most 300 characters", async () => {
    const started = await consoleCall('POST', '/console/test-sign-in', { account_sid: accountSid });
    const test = (await started.json()) as TestSignInStarted;
    // Anyone can write a callback URL: here, an error answer with a long, multi-line description.
    const callback = new URL(`${lanyard.url}/login/oidc/callback`);
    callback.searchParams.set('state', test.id);
    callback.searchParams.set('iss', upstream.issuer);
    callback.searchParams.set('error', 'access_denied');
    callback.searchParams.set('error_description', 'Call +1 555 0100 now.\r\nYour account is locked. ' + 'x'.repeat(5000));
    const answer = await fetch(callback, { redirect: 'manual' });
    expect(answer.headers.get('location')).toBeNull();
    const status = (await (await consoleCall('GET', `/console/test-sign-in/${encodeURIComponent(test.id)}`)).json()) as TestSignInStatus;
    if (status.status !== 'done') throw new Error('the test sign-in did not finish');
    const message = status.report.error!.message;
    expect(message).toMatch(/access_denied: Call \+1 555 0100 now\. Your account is locked\. x+/);
    expect(message).not.toMatch(/[\r\n]/);
    expect(message.length).toBeLessThan(400);
    expect(message).not.toContain('x'.repeat(300));
  });

  it('answers a SAML response to an OpenID Connect test with its true cause, and reports nobody', async () => {
    const started = await consoleCall('POST', '/console/test-sign-in', { account_sid: accountSid });
    const test = (await started.json()) as TestSignInStarted;
    const samlPost = (connection: string) =>
      fetch(`${lanyard.url}/login/callback?connection=${connection}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ SAMLResponse: Buffer.from('<samlp:Response/>').toString('base64'), RelayState: test.id }),
        redirect: 'manual',
      });
    const answer = await samlPost(connectionSid);
    expect(answer.headers.get('location')).toBeNull();
    const status = (await (await consoleCall('GET', `/console/test-sign-in/${encodeURIComponent(test.id)}`)).json()) as TestSignInStatus;
    if (status.status !== 'done') throw new Error('the test sign-in did not finish');
    expect(status.report).toMatchObject({ protocol: 'oidc', succeeded: false, name_id: null, attributes: {} });
    // The connection has its provider settings: what is wrong is the kind of answer.
    expect(status.report.error?.message).not.toMatch(/no identity provider settings/);
    expect(status.report.error?.message).toMatch(/SAML response.*OpenID Connect.*\/login\/oidc\/callback/);
    // Spent: the same state again, here or at the OIDC callback, is refused.
    expect((await samlPost(connectionSid)).status).toBe(401);
  });

  it('refuses the legacy service provider for an OpenID Connect connection, with the reason', async () => {
    const refused = await consoleCall('POST', '/console/test-sign-in', { account_sid: accountSid, service_provider: 'legacy' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      code: 20001,
      message: expect.stringMatching(/legacy SSO service provider speaks SAML only.*OpenID Connect.*\/login\/oidc\/callback.*enhanced/),
    });
  });

  it('names a scope the connection does not request as the cause of a missing claim (OIDC Core §5.4)', async () => {
    const { accounts } = lanyard.services;
    // Saved again without a secret (same issuer and client ID): the secret is kept, only the scopes change.
    await accounts.setOidc(accountSid, { issuer: upstream.issuer, clientId: 'lanyard-console', scopes: 'openid profile roles' }, (settings) =>
      discoverProvider(settings.issuer),
    );
    try {
      const { report } = await testSignIn('nora');
      expect(report.succeeded).toBe(false);
      expect(report.error?.message).toMatch(/mandatory claim "email"\. Add it to the ID token or userinfo/);
      expect(report.error?.message).toMatch(/without "email".*--scopes "openid profile roles email"/);
      expect(report.missing).toHaveLength(1);
      expect(report.missing[0]!.explanation).toMatch(/requests the scopes "openid profile roles", without "email".*OpenID Connect Core §5\.4/);
      expect(report.missing[0]!.explanation).toContain('"Attributes and roles"');
    } finally {
      await accounts.setOidc(accountSid, { issuer: upstream.issuer, clientId: 'lanyard-console', scopes: 'openid profile email roles' }, (settings) =>
        discoverProvider(settings.issuer),
      );
    }
    expect((await testSignIn('nora')).report.succeeded).toBe(true);
  });

  it('tells a test the provider never answered (unregistered redirect URI) from an unknown one, naming the URI to register', async () => {
    // A second server whose callback the provider does not know, with a one-second sign-in lifetime.
    const other = await startTestLanyard('sqlite', { loginTtlSeconds: 1 });
    try {
      const otherAccount = (await other.services.accounts.createAccount('Unregistered callback')).account.sid;
      await other.services.accounts.setOidc(
        otherAccount,
        { issuer: upstream.issuer, clientId: 'lanyard-console', clientSecret: 'upstream-secret' },
        (settings) => discoverProvider(settings.issuer),
      );
      const key = (await other.services.adminKeys.create('expiry')).secret;
      const signedIn = await fetch(`${other.url}/console/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ admin_key: key }),
      });
      const headers = {
        cookie: signedIn.headers.get('set-cookie')!.split(';')[0]!,
        'x-csrf-token': ((await signedIn.json()) as { csrf_token: string }).csrf_token,
      };
      const started = await fetch(`${other.url}/console/test-sign-in`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ account_sid: otherAccount }),
      });
      const test = (await started.json()) as TestSignInStarted;
      // While waiting, the console says for how long and the usual cause when nothing comes back.
      expect(test.waiting).toBe(
        'Waiting up to 1 second (the sign-in lifetime, LANYARD_LOGIN_TTL) for the answer. If nothing comes back, most often the redirect URI ' +
          `${other.url}/login/oidc/callback is not registered for the client lanyard-console at the provider, which then shows invalid_redirect_uri.`,
      );
      expect(Date.parse(test.expires_at) - Date.now()).toBeLessThanOrEqual(1000);
      // The provider shows its own error page and never calls back.
      const atProvider = await fetch(test.url, { redirect: 'manual' });
      expect(atProvider.headers.get('location')).toBeNull();
      expect(await atProvider.text()).toContain('redirect_uri');
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const status = await fetch(`${other.url}/console/test-sign-in/${encodeURIComponent(test.id)}`, { headers });
      expect(status.status).toBe(200);
      const body = (await status.json()) as TestSignInStatus;
      expect(body).toMatchObject({ status: 'expired', protocol: 'oidc', endpoint: `${other.url}/login/oidc/callback` });
      if (body.status !== 'expired') throw new Error('not expired');
      expect(body.message).toMatch(/^No answer from the identity provider within 1 second \(/);
      expect(body.message).toContain(`register ${other.url}/login/oidc/callback there as a redirect URI of the client lanyard-console`);
      const unknown = await fetch(`${other.url}/console/test-sign-in/ct_unknown`, { headers });
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { message: string }).message).toMatch(/No such test sign-in/);
    } finally {
      await other.stop();
    }
  });

  it('never reports a test the provider answered as unanswered, even once its report has aged out', async () => {
    const { report } = await testSignIn('nora');
    const tests = new ConsoleTestSignIn(lanyard.services);
    // The report lives an hour from the answer; the started record an hour from the deadline.
    // Between the two, the test must not read "No answer from the identity provider… register …".
    // Simulated with the storage's own clock: the pending test (spent) and the report are gone.
    await lanyard.services.storage.destroy('console_test_login', report.id);
    await lanyard.services.storage.destroy('console_test_result', report.id);
    const afterDeadline = Date.now() + lanyard.services.config.loginTtlSeconds * 1000 + 1000;
    await expect(tests.status(report.id, adminKeySid, afterDeadline)).rejects.toThrow(NotFoundError);
  });

  it('says "expired" only to the admin key that started the test, and the started record completes nothing', async () => {
    const tests = new ConsoleTestSignIn(lanyard.services);
    const started = await tests.begin(accountSid, adminKeySid);
    // The pending test expires at the deadline (the storage reads its own clock).
    await lanyard.services.storage.destroy('console_test_login', started.id);
    const afterDeadline = Date.now() + lanyard.services.config.loginTtlSeconds * 1000 + 1000;
    expect(await tests.status(started.id, adminKeySid, afterDeadline)).toMatchObject({ status: 'expired', protocol: 'oidc' });
    const other = (await lanyard.services.adminKeys.create('another administrator')).key.sid;
    await expect(tests.status(started.id, other, afterDeadline)).rejects.toThrow(NotFoundError);
    await expect(tests.status(started.id, other)).rejects.toThrow(NotFoundError);
    // The started record is no pending test: the provider's answer with its state is refused.
    await expect(tests.complete({ serviceProvider: 'enhanced', sid: null }, undefined, started.id)).rejects.toThrow(
      /expired, was already completed, or is unknown/,
    );
  });
});
