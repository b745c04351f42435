import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

const CONSOLE_ROOT = fileURLToPath(new URL('../../packages/console/', import.meta.url));

/** The console's OpenID Connect clients section in a real Chromium: register, secret once, rotate, edit, delete. */
describe('OpenID Connect clients in the admin console', () => {
  let idp: DevIdp;
  let lanyard: TestLanyard;
  let browser: Browser;
  let page: Page;
  let accountSid: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await build({ root: CONSOLE_ROOT, logLevel: 'warn' });
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard('sqlite');
    accountSid = (await setupAccount(lanyard, idp)).account.sid;
    const adminKey = (await lanyard.services.adminKeys.create('console clients test')).secret;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${lanyard.url}/console/`);
    await page.getByLabel('Admin API key').fill(adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    await page.goto(`${lanyard.url}/console/#/accounts/${accountSid}`);
    await page.getByRole('heading', { name: 'OpenID Connect clients', exact: true }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await lanyard?.stop();
    await idp?.close();
  });

  it('registers a web app, shows its secret once (which works at the token endpoint), rotates it and deletes the client', async () => {
    const section = page.locator('#section-clients');
    await section.getByLabel('Name', { exact: true }).fill('Supervisor portal');
    await section.getByLabel('Redirect URIs', { exact: true }).fill('https://portal.example.com/cb\nhttp://portal.example.com/insecure');
    await section.getByRole('button', { name: 'Register client' }).click();
    await section.getByRole('alert').filter({ hasText: 'must use https' }).waitFor();

    await section.getByLabel('Redirect URIs', { exact: true }).fill('https://portal.example.com/cb');
    await section.getByRole('button', { name: 'Register client' }).click();
    const secret = (await section.getByTestId('client-secret').textContent())!;
    expect(secret).toMatch(/^lcs_/);
    const card = section.getByRole('article', { name: 'Supervisor portal' });
    await card.waitFor();
    const clientId = (await card.locator('code.value').first().textContent())!;
    expect(clientId).toMatch(/^lc_/);
    const tokenCall = (s: string) =>
      fetch(`${lanyard.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${clientId}:${s}`)}` },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'lrt_unknown' }),
      });
    expect((await tokenCall(secret)).status).toBe(400); // authenticated; the made-up refresh token is the only fault

    // Reloading shows the client, never the secret again.
    await page.reload();
    await card.waitFor();
    await expect(page.getByTestId('client-secret').count()).resolves.toBe(0);
    expect(await page.content()).not.toContain(secret);

    await card.getByRole('button', { name: 'Rotate secret' }).click();
    await section.getByText('the previous one keeps working for 7 days').waitFor();
    const second = (await section.getByTestId('client-secret').textContent())!;
    expect(second).not.toBe(secret);
    expect((await tokenCall(secret)).status).toBe(400);
    expect((await tokenCall(second)).status).toBe(400);
    await card.getByRole('button', { name: /^End secret/ }).click();
    await section.getByText(/ended\.$/).waitFor();
    expect((await tokenCall(secret)).status).toBe(401);

    await card.getByLabel('Redirect URIs of Supervisor portal').fill('https://portal.example.com/cb\nhttps://portal.example.com/cb2');
    await card.getByRole('button', { name: 'Save redirect URIs' }).click();
    await section.getByText('Redirect URIs of Supervisor portal saved.').waitFor();
    expect((await lanyard.services.clients.get(clientId)).redirectUris).toEqual(['https://portal.example.com/cb', 'https://portal.example.com/cb2']);

    page.once('dialog', (dialog) => void dialog.accept());
    await card.getByRole('button', { name: 'Delete client' }).click();
    await section.getByText('Deleted Supervisor portal.').waitFor();
    expect((await tokenCall(second)).status).toBe(401);
    expect(pageErrors).toEqual([]);
  });
});
