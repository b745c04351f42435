import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import { discoverProvider } from '../../packages/server/src/connections/oidc-connection.ts';
import { DESKTOP_URL } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { signingKey, startUpstreamProvider } from '../support/oidc-upstream.ts';
import { launchChromium } from '../browser/support/demo-stack.ts';
import { signInToConsole } from '../support/console.ts';

const CONSOLE_ROOT = fileURLToPath(new URL('../../packages/console/', import.meta.url));

/**
 * The setup page of an account whose IdP is an OpenID Connect provider (oidc-provider, a real OP,
 * answers discovery), in a real Chromium: ready, the redirect URI to register instead of SAML
 * values, claim names in the mapping, and the SAML form folded away until chosen on purpose.
 */
describe('an OpenID Connect account in the admin console', () => {
  let lanyard: TestLanyard;
  let upstream: Awaited<ReturnType<typeof startUpstreamProvider>>;
  let browser: Browser;
  let page: Page;
  let accountSid: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await build({ root: CONSOLE_ROOT, logLevel: 'warn' });
    lanyard = await startTestLanyard('sqlite');
    upstream = await startUpstreamProvider({
      users: [],
      redirectUri: `${lanyard.url}/login/oidc/callback`,
      clientId: 'lanyard-console',
      clientSecret: 'upstream-secret',
      keys: [await signingKey('console-oidc-key')],
    });
    const { accounts, adminKeys } = lanyard.services;
    accountSid = (await accounts.createAccount('OIDC contact center')).account.sid;
    await accounts.setOidc(
      accountSid,
      { issuer: upstream.issuer, clientId: 'lanyard-console', clientSecret: 'upstream-secret', scopes: 'openid profile email roles' },
      (settings) => discoverProvider(settings.issuer),
    );
    await accounts.addTrustedUrl(accountSid, DESKTOP_URL);
    await accounts.setDefaultRedirectUrl(accountSid, DESKTOP_URL);
    const adminKey = (await adminKeys.create('console oidc test')).secret;
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await signInToConsole(page, lanyard.url, adminKey);
    await page.goto(`${lanyard.url}/console/#/accounts/${accountSid}`);
    await page.getByRole('heading', { name: 'Single sign-on setup' }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await lanyard?.stop();
    await upstream?.close();
  });

  it('says enhanced SSO is ready, and legacy SSO needs SAML, without pointing at a missing IdP', async () => {
    await page.getByTestId('ready-enhanced').getByText('Enhanced SSO: ready').waitFor();
    const readiness = (await page.locator('.readiness').textContent())!;
    expect(readiness).not.toMatch(/no IdP connection/);
    expect(await page.getByTestId('ready-legacy').textContent()).toMatch(/legacy SSO speaks SAML only.*OpenID Connect provider/);
  });

  it('shows the redirect URI to register at the provider, its issuer, the client ID and that a secret is stored, not SAML values', async () => {
    const values = page.getByTestId('sp-oidc');
    await values.waitFor();
    expect(await values.getByTestId('oidc-redirect-uri').textContent()).toBe(`${lanyard.url}/login/oidc/callback`);
    expect(await values.getByTestId('oidc-issuer').textContent()).toBe(upstream.issuer);
    expect(await values.getByTestId('oidc-client-id').textContent()).toBe('lanyard-console');
    expect(await values.getByTestId('oidc-secret').textContent()).toMatch(/^Stored/);
    await values.getByRole('button', { name: 'Copy redirect URI' }).waitFor();
    expect(await page.getByTestId('sp-enhanced').count()).toBe(0);
    const section = (await page.locator('#section-sp').textContent())!;
    // No SAML entity ID (urn:flex:JQ…) nor ACS URL to paste into an OpenID Connect provider.
    expect(section).not.toMatch(/urn:flex:|\/login\/callback\?connection=|\/saml2/);
    expect(await page.locator('#section-sp dt').allTextContents()).not.toContain('ACS URL (Reply URL)');
    expect(await page.content()).not.toContain('upstream-secret');
  });

  it('labels the mapping fields as claim names', async () => {
    const mapping = page.locator('#section-mapping');
    await mapping
      .getByText(/OpenID Connect claim names/)
      .first()
      .waitFor();
    expect(await mapping.textContent()).not.toContain('SAML attribute names');
  });

  it('shows the provider in the Identity provider section and keeps the SAML form folded away until chosen, then switches on purpose', async () => {
    const idp = page.locator('#section-idp');
    await idp.getByTestId('idp-current').getByText(upstream.issuer, { exact: true }).waitFor();
    await idp.getByTestId('idp-current').getByText('lanyard-console', { exact: true }).waitFor();
    const save = idp.getByRole('button', { name: 'Save IdP settings' });
    expect(await save.isVisible()).toBe(false);

    await idp.getByText('Switch to a SAML identity provider instead').click();
    await idp.getByText(/replaces the OpenID Connect provider/).waitFor();
    expect(await save.isVisible()).toBe(true);
    const credentials = await generateSigningCredentials('Switched IdP', 365);
    await idp.getByLabel('Enter the fields').check();
    await idp.getByLabel('Issuer (IdP entity ID)').fill('https://saml-idp.example.com/metadata');
    await idp.getByLabel('SSO URL (HTTP-Redirect binding)').fill('https://saml-idp.example.com/sso');
    await idp.getByLabel('X.509 signing certificate (PEM)').fill(credentials.certificatePem);
    await save.click();

    // Now a SAML connection: the SP values, attribute names and the unfolded form are back.
    await page.getByTestId('sp-enhanced').waitFor();
    expect(await page.getByTestId('sp-oidc').count()).toBe(0);
    await idp.getByTestId('certificate').getByText('CN=Switched IdP').first().waitFor();
    expect(await idp.getByTestId('switch-to-saml').count()).toBe(0);
    expect(await save.isVisible()).toBe(true);
    await page.locator('#section-mapping').getByText('SAML attribute names, tried in order, separated by commas.').first().waitFor();
    const [connection] = await lanyard.services.accounts.connectionsOf(accountSid);
    expect(connection).toMatchObject({ protocol: 'saml', oidc: null, saml: { issuer: 'https://saml-idp.example.com/metadata' } });
    expect(pageErrors).toEqual([]);
  });
});
