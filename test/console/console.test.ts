import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_USERS, generateSigningCredentials, startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { flexLogin } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

const CONSOLE_ROOT = fileURLToPath(new URL('../../packages/console/', import.meta.url));
const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const DESKTOP = 'http://127.0.0.1:5173/desktop/';
const NO_ROLES = { id: 'nora@example.com', full_name: 'Nora Noroles', email: 'nora@example.com', roles: [] };

const shot = (page: Page, name: string, fullPage = false) => page.screenshot({ path: `${SCREENSHOTS}console-${name}.png`, fullPage });

/**
 * The admin console in a real Chromium, from an empty server to a successful test sign-in, through
 * the console only (the admin key aside: it comes from the server, as `lanyard admin-key create`
 * gives it). The steps share one browser and build on each other, in order.
 */
describe('admin console in Chromium', () => {
  let idp: DevIdp;
  let lanyard: TestLanyard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let adminKey: string;
  let accountSid: string;
  const pageErrors: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    // The console under test is built from the current sources (as `npm test` does).
    await build({ root: CONSOLE_ROOT, logLevel: 'warn' });
    mkdirSync(SCREENSHOTS, { recursive: true });
    idp = await startDevIdp({ port: 0, users: [...DEFAULT_USERS, NO_ROLES] });
    lanyard = await startTestLanyard('sqlite');
    adminKey = (await lanyard.services.adminKeys.create('console test')).secret;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: lanyard.url });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 40[13]/.test(message.text())) pageErrors.push(message.text());
    });
    page.on('request', (request) => requests.push(request.url()));
  });

  afterAll(async () => {
    await browser?.close();
    await lanyard?.stop();
    await idp?.close();
  });

  it('serves the console with a strict CSP and signs in with an admin key for an HttpOnly, SameSite=Strict cookie', async () => {
    const response = await page.goto(`${lanyard.url}/console/`);
    const csp = response!.headers()['content-security-policy']!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    await page.getByRole('heading', { name: 'Sign in to the Lanyard console' }).waitFor();
    await shot(page, 'sign-in');

    await page.getByLabel('Admin API key').fill('lk_not_a_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    // The usual cause on a first try: a key created against another database (the demo keeps its own).
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/same LANYARD_DATABASE_URL as this server .*demo\.db/);

    // Keyboard only: the label names the field, Enter submits.
    await page.getByLabel('Admin API key').focus();
    await page.keyboard.type(adminKey);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    await page.getByText('console test').first().waitFor();

    const cookie = (await context.cookies(lanyard.url)).find((c) => c.name === 'lanyard_console')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', secure: false });
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Script on the page cannot read it.
    expect(await page.evaluate(() => document.cookie)).not.toContain('lanyard_console');
    expect(await page.evaluate(() => document.cookie)).not.toContain(cookie.value);
    // Nor did the key stay anywhere the page can reach.
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))).not.toContain('lk_');
  });

  it('creates an account and shows its auth token once', async () => {
    await page.getByText('No accounts yet').waitFor();
    await page.getByLabel('Account name').fill('Acme contact center');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Account "Acme contact center" created' }).waitFor();
    expect(await page.getByTestId('auth-token').textContent()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await page.getByRole('link', { name: 'Acme contact center' }).waitFor();
    await shot(page, 'accounts');

    await page.getByRole('link', { name: 'Set up single sign-on for this account' }).click();
    await page.getByRole('heading', { name: 'Single sign-on setup' }).waitFor();
    accountSid = /#\/accounts\/(AC[0-9a-f]{32})$/.exec(page.url())![1]!;
    const [account] = await lanyard.services.accounts.listAccounts();
    expect(account!.sid).toBe(accountSid);
  });

  it('shows the SP values for enhanced and legacy SSO before the IdP is known', async () => {
    const [connection] = await lanyard.services.accounts.connectionsOf(accountSid);
    const enhanced = page.getByTestId('sp-enhanced');
    // The setup page renders these after its own requests: wait for them, do not sample.
    await enhanced.getByText(`urn:flex:${connection!.sid}`).waitFor();
    await enhanced.getByText(`${lanyard.url}/login/callback?connection=${connection!.sid}`).waitFor();
    const legacy = page.getByTestId('sp-legacy');
    await legacy.getByText(`${lanyard.url}/v1/Accounts/${accountSid}/saml2/metadata`).waitFor();
    // The metadata link downloads the SP metadata the server serves.
    const href = await enhanced.getByRole('link', { name: /Download/ }).getAttribute('href');
    const metadata = await fetch(href!).then((r) => r.text());
    expect(metadata).toContain(`entityID="urn:flex:${connection!.sid}"`);
    await expect(page.getByTestId('ready-enhanced').textContent()).resolves.toContain('not ready');
  });

  it('warns about a certificate that expires within 30 days, then imports the IdP metadata and shows its certificate', async () => {
    const shortLived = await generateSigningCredentials('Expiring IdP', 10);
    await page.getByLabel('Enter the fields').check();
    await page.getByLabel('Issuer (IdP entity ID)').fill('https://idp.example.com/metadata');
    await page.getByLabel('SSO URL (HTTP-Redirect binding)').fill('https://idp.example.com/sso');
    await page.getByLabel('X.509 signing certificate (PEM)').fill(shortLived.certificatePem);
    await page.getByRole('button', { name: 'Save IdP settings' }).click();
    const certificate = page.getByTestId('certificate');
    await certificate.getByText('CN=Expiring IdP').first().waitFor();
    await expect(certificate.getByRole('note').textContent()).resolves.toMatch(/Expires in (9|10) days/);
    await page
      .locator('.readiness')
      .getByText(/IdP certificate CN=Expiring IdP expires in/)
      .waitFor();

    await page.getByLabel('Paste or upload metadata XML').check();
    await page.getByLabel('IdP metadata XML').fill(idp.metadataXml);
    await page.getByRole('button', { name: 'Save IdP settings' }).click();
    await certificate.getByText('CN=Lanyard development IdP').first().waitFor();
    const current = page.getByTestId('idp-current');
    await current.getByText(idp.entityId, { exact: true }).waitFor();
    await current.getByText(idp.ssoUrl, { exact: true }).waitFor();
    expect(await page.getByTestId('certificate-days').textContent()).toMatch(/^36[45] days$/);
    expect(await certificate.getByRole('note').count()).toBe(0);
    await page.getByTestId('idp-current').screenshot({ path: `${SCREENSHOTS}console-identity-provider.png` });
  });

  it('checks Trusted URLs as they are typed, naming the rule broken', async () => {
    const input = page.getByLabel('New Trusted URL');
    const add = page.getByRole('button', { name: 'Add Trusted URL' });
    const rule = page.locator('#section-urls .rule').first();
    const cases: [string, RegExp][] = [
      ['https://desktop.example.com/agent?tenant=1', /query strings are not allowed/],
      ['http://desktop.example.com/', /http:\/\/ is only allowed for localhost, 127\.0\.0\.1 and \[::1\]/],
      ['https://*.example.com/', /wildcards .*are not allowed/],
      ['https://desktop.example.com/#top', /fragments are not allowed/],
      ['https://admin@desktop.example.com/', /user information .*is not allowed/],
      ['https://desktop.example.com/a/../b', /dot segments/],
    ];
    for (const [url, message] of cases) {
      // Typed key by key, as a person would: the message is there before any save.
      await input.fill('');
      await input.pressSequentially(url);
      await expect(rule.textContent()).resolves.toMatch(message);
      await expect(input.getAttribute('aria-invalid')).resolves.toBe('true');
      await expect(add.isDisabled()).resolves.toBe(true);
      if (url.includes('?')) await page.locator('#section-urls').screenshot({ path: `${SCREENSHOTS}console-trusted-url-rule.png` });
    }
    await input.fill(DESKTOP);
    await expect(rule.textContent()).resolves.toBe(`Allowed: ${DESKTOP.replace(/\/$/, '')}`);
    await expect(input.getAttribute('aria-invalid')).resolves.toBe('false');
    await add.click();
    await page.getByRole('button', { name: `Remove ${DESKTOP.replace(/\/$/, '')}` }).waitFor();
    expect((await lanyard.services.accounts.getAccount(accountSid)).trustedUrls).toEqual(['http://127.0.0.1:5173/desktop']);
  });

  it('checks the Default redirect URL with the same rules, and refuses one that is not below a Trusted URL', async () => {
    const input = page.getByRole('textbox', { name: 'Default redirect URL' });
    const rule = page.locator('#section-urls .rule').nth(1);
    const save = page.getByRole('button', { name: 'Save Default redirect URL' });
    await input.fill('http://intranet.example.com/desktop/');
    await expect(rule.textContent()).resolves.toMatch(/http:\/\/ is only allowed/);
    await expect(save.isDisabled()).resolves.toBe(true);
    await input.fill('https://other.example.com/');
    await expect(rule.textContent()).resolves.toMatch(/^Not on or below a Trusted URL: add its Trusted URL above first/);
    // Saving it anyway is refused by the server, which names the Trusted URL to add.
    const errorsBefore = pageErrors.length;
    await save.click();
    await page.getByRole('alert').filter({ hasText: 'lanyard trusted-urls add' }).waitFor();
    // The browser logs that deliberate 400; nothing else may have failed meanwhile.
    expect(pageErrors.splice(errorsBefore)).toEqual([expect.stringMatching(/status of 400/)]);
    expect((await lanyard.services.accounts.getAccount(accountSid)).defaultRedirectUrl).toBeNull();
    await input.fill(DESKTOP);
    await save.click();
    await page
      .getByRole('status')
      .filter({ hasText: `Default redirect URL set to ${DESKTOP}` })
      .waitFor();
    expect((await lanyard.services.accounts.getAccount(accountSid)).defaultRedirectUrl).toBe(DESKTOP);
    await page.getByTestId('ready-enhanced').getByText('Enhanced SSO: ready').waitFor();
  });

  it('gives a ready-to-copy appConfig.js for this account and the lookup URL', async () => {
    const [connection] = await lanyard.services.accounts.connectionsOf(accountSid);
    await page.getByRole('button', { name: 'Copy appConfig.js', exact: true }).click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    const window: { appConfig?: unknown } = {};
    new Function('window', copied)(window);
    expect(window.appConfig).toEqual({
      serviceBaseUrl: lanyard.url,
      sso: { accountSid, loginPopup: false },
      oauth: {
        connection: connection!.sid,
        clientId: connection!.clientId,
        redirectUrl: DESKTOP,
        authorizeUrl: `${lanyard.url}/v1/Flex/Authorize`,
        tokenUrl: `${lanyard.url}/v1/Flex/OAuth/Tokens`,
      },
    });

    // The popup default is reflected in the snippet.
    await page.getByLabel(/Sign in in a popup window/).check();
    await page.getByTestId('app-config-enhanced').getByText('"loginPopup": true').waitFor();
    expect((await lanyard.services.accounts.getAccount(accountSid)).loginPopup).toBe(true);

    const lookupUrl = (await page.getByTestId('lookup-url').textContent())!;
    expect(lookupUrl).toBe(`${lanyard.url}/v1/Flex/Authentication/Config?AccountSid=${accountSid}`);
    const lookup = (await fetch(lookupUrl).then((r) => r.json())) as { config_list: { connection_name: string; client_id: string }[] };
    expect(lookup.config_list).toEqual([expect.objectContaining({ connection_name: connection!.sid, client_id: connection!.clientId })]);
    await page.locator('#section-desktop').screenshot({ path: `${SCREENSHOTS}console-app-config.png` });
  });

  it('edits the attribute mapping', async () => {
    await page.getByLabel('Role values').fill('cc-supervisors = supervisor');
    await page.getByRole('button', { name: 'Save attribute mapping' }).click();
    await page.getByRole('status').filter({ hasText: 'Attribute mapping saved.' }).waitFor();
    const [connection] = await lanyard.services.accounts.connectionsOf(accountSid);
    expect(connection!.mapping.roleValues).toEqual({ 'cc-supervisors': 'supervisor' });
    expect(connection!.mapping.roles).toEqual(['roles', 'role', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role']);
  });

  /** Clicks "Test sign-in", signs in at the dev IdP in the popup, returns the popup on its report. */
  async function testSignInAs(fullName: string): Promise<Page> {
    const [popup] = await Promise.all([
      page.waitForEvent('popup'),
      page.locator('#section-test').getByRole('button', { name: 'Test sign-in' }).click(),
    ]);
    await popup.waitForURL((url) => url.href.startsWith(`${idp.url}/sso?`));
    await popup.getByRole('button', { name: `Sign in as ${fullName}` }).click();
    await popup.waitForURL((url) => url.href.startsWith(lanyard.url));
    await popup.getByRole('heading', { name: 'Test sign-in report' }).waitFor();
    return popup;
  }

  it('tests a sign-in in a popup against the IdP and shows the attributes received and the profile', async () => {
    const popup = await testSignInAs('Ada Lovelace');
    await expect(popup.getByRole('status').textContent()).resolves.toContain('Test sign-in succeeded');
    await popup.screenshot({ path: `${SCREENSHOTS}console-test-sign-in-window.png`, fullPage: true });
    await popup.close();

    const report = page.getByTestId('test-report');
    await report.getByText('Signed in as ada@example.com').waitFor();
    const profile = page.getByTestId('profile');
    await expect(profile.getByRole('row', { name: /full_name/ }).textContent()).resolves.toContain('Ada Lovelace');
    await expect(profile.getByRole('row', { name: /email/ }).textContent()).resolves.toContain('ada@example.com');
    await expect(profile.getByRole('row', { name: /roles/ }).textContent()).resolves.toContain('admin, supervisor, agent');
    await expect(
      page
        .getByTestId('attributes')
        .getByRole('row', { name: /^roles/ })
        .textContent(),
    ).resolves.toContain('admin, supervisor, agent');
    await page.locator('#section-test').screenshot({ path: `${SCREENSHOTS}console-test-sign-in.png` });
    // A test issues nothing and provisions nobody.
    expect(await lanyard.services.users.list(accountSid)).toEqual([]);
  });

  it('explains a missing roles attribute (45050) in words', async () => {
    const popup = await testSignInAs('Nora Noroles');
    await expect(popup.getByRole('alert').textContent()).resolves.toContain('45050');
    await popup.close();
    const missing = page.getByTestId('missing-attribute');
    await missing.getByRole('heading', { name: 'Missing: roles' }).waitFor();
    const explanation = (await missing.textContent())!;
    expect(explanation).toContain('would fail with error 45050');
    expect(explanation).toContain('"roles" or "role"');
    expect(explanation).toContain('The IdP sent: "full_name", "email"');
    expect(explanation).toContain('Attributes and roles');
    await page.locator('#section-test').screenshot({ path: `${SCREENSHOTS}console-test-sign-in-missing-roles.png` });
  });

  it('lists recent sign-ins and failures: who, when, which connection, why', async () => {
    const [connection] = await lanyard.services.accounts.connectionsOf(accountSid);
    // A real agent sign-in through enhanced SSO, next to the console's tests.
    await flexLogin(lanyard, idp, connection!.sid, 'grace@example.com', DESKTOP);
    await page.getByRole('button', { name: 'Refresh' }).click();
    const audit = page.getByTestId('audit');
    const grace = audit.getByRole('row', { name: /grace@example\.com/ });
    await grace.waitFor();
    await expect(grace.textContent()).resolves.toMatch(/Signed in.*Enhanced SSO/);
    const nora = audit.getByRole('row', { name: /nora@example\.com/ });
    await expect(nora.textContent()).resolves.toMatch(/Failed.*Console test sign-in.*45050.*"roles"/);
    const ada = audit.getByRole('row', { name: /ada@example\.com/ });
    await expect(ada.textContent()).resolves.toMatch(/Signed in.*Console test sign-in/);
    await expect(audit.getByRole('row', { name: /Setting changed/ }).count()).resolves.toBe(0);
    await page.getByLabel('Show').selectOption('all');
    await audit.getByRole('row', { name: /Setting changed.*added Trusted URL/ }).waitFor();
    await page.getByLabel('Show').selectOption('logins');
    await page.locator('#section-audit').screenshot({ path: `${SCREENSHOTS}console-audit.png` });
  });

  it('switches the SSO mode for a migration and shows both appConfig snippets', async () => {
    await page.getByLabel(/Both \(migration\)/).check();
    await page.getByRole('button', { name: 'Switch mode' }).click();
    await page.getByTestId('mode-state').getByText('both', { exact: true }).waitFor();
    await page.getByTestId('app-config-legacy').waitFor();
    expect((await lanyard.services.accounts.getAccount(accountSid)).ssoMode).toBe('both');
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'sso-setup');
  });

  it('tests a sign-in through the legacy service provider too', async () => {
    await page.getByLabel('Service provider to test').selectOption('legacy');
    const popup = await testSignInAs('Ada Lovelace');
    // The IdP answered at the legacy ACS, which turned it into a report instead of a token on the URL.
    expect(popup.url()).toBe(`${lanyard.url}/v1/Accounts/${accountSid}/saml2`);
    await popup.close();
    await page.getByTestId('test-report').getByText('Signed in as ada@example.com').waitFor();
    await expect(page.getByTestId('test-report').textContent()).resolves.toContain('Through the legacy service provider');
    // Only the real sign-in's user exists: tests provision nobody.
    expect((await lanyard.services.users.list(accountSid)).map((u) => u.uniqueId)).toEqual(['grace@example.com']);
  });

  it('has a label for every control, no horizontal scrolling on a phone, and nothing from another origin', async () => {
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea')]
        .filter((e) => (e as HTMLInputElement).labels?.length === 0 && !e.getAttribute('aria-label'))
        .map((e) => e.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    await page.setViewportSize({ width: 390, height: 844 });
    const overflowing = await page.evaluate(() =>
      // Wide tables and code blocks scroll inside their own box; nothing else may stick out.
      [...document.querySelectorAll('body *')]
        .filter((e) => !e.parentElement!.closest('.table-wrap, pre') && e.getBoundingClientRect().right > window.innerWidth + 1)
        .map((e) => `${e.tagName}.${e.className}`)
        .slice(0, 10),
    );
    expect(overflowing).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, 'mobile');
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(requests.filter((url) => !url.startsWith(`${lanyard.url}/`))).toEqual([]);
    // The whole journey so far stays well inside one minute's admin rate limit for one address.
    const adminCalls = requests.filter((url) => /\/admin\/v1\/|\/console\/(session|test-sign-in)/.test(url)).length;
    expect(adminCalls).toBeLessThan(lanyard.services.config.rateLimitAdminPerMinute / 2);
    expect(pageErrors).toEqual([]);
  });

  it('refuses a state-changing call without the CSRF token or with a wrong one', async () => {
    const before = (await lanyard.services.accounts.listAccounts()).length;
    const statuses = await page.evaluate(async () => {
      const post = (headers: Record<string, string>) =>
        fetch('/admin/v1/accounts', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: '{"friendly_name":"forged"}',
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { code: number; message: string } }));
      const { csrf_token: token } = (await fetch('/console/session').then((r) => r.json())) as { csrf_token: string };
      return {
        missing: await post({}),
        wrong: await post({ 'X-CSRF-Token': token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA') }),
        readWithout: (await fetch('/admin/v1/accounts')).status,
        signOutWithout: (await fetch('/console/session', { method: 'DELETE' })).status,
        right: await post({ 'X-CSRF-Token': token }),
      };
    });
    expect(statuses.missing).toEqual({
      status: 403,
      body: expect.objectContaining({ code: 20403, message: expect.stringContaining('X-CSRF-Token') }),
    });
    expect(statuses.wrong.status).toBe(403);
    expect(statuses.readWithout).toBe(403);
    expect(statuses.signOutWithout).toBe(403);
    expect(statuses.right.status).toBe(201);
    // Only the call with the session's token went through.
    expect((await lanyard.services.accounts.listAccounts()).length).toBe(before + 1);
    // Signing in takes JSON only: a cross-site HTML form cannot post a key.
    const form = await page.evaluate(() =>
      fetch('/console/session', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'admin_key=x' }).then(
        (r) => r.status,
      ),
    );
    expect(form).toBe(400);
  });

  it('signs out: the cookie is cleared and the old session no longer works', async () => {
    const cookie = (await context.cookies(lanyard.url)).find((c) => c.name === 'lanyard_console')!;
    const { csrf_token: token } = (await page.evaluate(() => fetch('/console/session').then((r) => r.json()))) as { csrf_token: string };
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to the Lanyard console' }).waitFor();
    await expect(page.getByRole('status').textContent()).resolves.toContain('You have signed out.');
    expect((await context.cookies(lanyard.url)).find((c) => c.name === 'lanyard_console')).toBeUndefined();
    // Replaying the old cookie and token, as a thief would, gets nothing.
    const replay = await fetch(`${lanyard.url}/admin/v1/accounts`, { headers: { cookie: `lanyard_console=${cookie.value}`, 'X-CSRF-Token': token } });
    expect(replay.status).toBe(401);
  });

  it('ends the console session when its admin key is revoked', async () => {
    const { key, secret } = await lanyard.services.adminKeys.create('short-lived');
    await page.getByLabel('Admin API key').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    await lanyard.services.adminKeys.revoke(key.sid);
    await page.getByRole('link', { name: 'Acme contact center' }).click();
    await page.getByRole('heading', { name: 'Sign in to the Lanyard console' }).waitFor();
    await expect(page.getByRole('status').textContent()).resolves.toContain('session has ended');
  });
});
