import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningCredentials } from '../../packages/demo/src/dev-idp/index.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { createEnterpriseIdp } from '../support/samlify-idp.ts';
import { launchChromium } from '../browser/support/demo-stack.ts';
import { signInToConsole } from '../support/console.ts';

const CONSOLE_ROOT = fileURLToPath(new URL('../../packages/console/', import.meta.url));
const stripDeclaration = (xml: string) => xml.replace(/^<\?xml[^>]*\?>\s*/, '');

/** Federation metadata in the console (issue 14): the save asks for a choice, a picker offers the IdPs found. */
describe('console: choosing the IdP in federation metadata', () => {
  let lanyard: TestLanyard;
  let browser: Browser;
  let page: Page;
  let federation: string;

  beforeAll(async () => {
    await build({ root: CONSOLE_ROOT, logLevel: 'warn' });
    const credentials = await generateSigningCredentials('Federation');
    const one = createEnterpriseIdp({ credentials, entityId: 'https://idp-one.example.edu/idp' });
    const two = createEnterpriseIdp({ credentials, entityId: 'https://idp-two.example.edu/idp', bindings: ['post'] });
    federation = `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${stripDeclaration(one.metadataXml)}${stripDeclaration(two.metadataXml)}</md:EntitiesDescriptor>`;
    lanyard = await startTestLanyard('sqlite');
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await lanyard?.stop();
  });

  it('lists the IdP entity IDs after the refused save and saves the one chosen', async () => {
    const adminKey = (await lanyard.services.adminKeys.create('picker')).secret;
    const { account } = await lanyard.services.accounts.createAccount('Campus');
    await signInToConsole(page, lanyard.url, adminKey);
    await page.goto(`${lanyard.url}/console/#/accounts/${account.sid}`);
    await page.getByLabel('Paste or upload metadata XML').check();
    await page.getByLabel('IdP metadata XML').fill(federation);
    await page.getByRole('button', { name: 'Save IdP settings' }).click();
    await page
      .getByText(/describes 2 identity providers/)
      .first()
      .waitFor();

    const picker = page.getByLabel('Identity provider in the metadata');
    await picker.waitFor();
    expect(await picker.locator('option').allTextContents()).toEqual(['https://idp-one.example.edu/idp', 'https://idp-two.example.edu/idp']);
    await picker.selectOption('https://idp-two.example.edu/idp');
    await page.getByRole('button', { name: 'Save IdP settings' }).click();
    await page.getByText(/IdP settings saved: issuer https:\/\/idp-two\.example\.edu\/idp/).waitFor();
    const [connection] = await lanyard.services.accounts.connectionsOf(account.sid);
    expect(connection!.saml).toMatchObject({
      issuer: 'https://idp-two.example.edu/idp',
      ssoBinding: 'post',
      metadataEntityId: 'https://idp-two.example.edu/idp',
    });
  });
});
