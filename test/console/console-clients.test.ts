import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { launchChromium } from '../browser/support/demo-stack.ts';
import { signInToConsole } from '../support/console.ts';

const CONSOLE_ROOT = fileURLToPath(new URL('../../packages/console/', import.meta.url));

/** The console's OpenID Connect clients section in a real Chromium: register, secret once, rotate, edit, delete; the built-in client's redirect URIs. */
describe('OpenID Connect clients in the admin console', () => {
  let idp: DevIdp;
  let lanyard: TestLanyard;
  let browser: Browser;
  let page: Page;
  let accountSid: string;
  let connection: { sid: string; clientId: string };
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await build({ root: CONSOLE_ROOT, logLevel: 'warn' });
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard('sqlite');
    const setup = await setupAccount(lanyard, idp);
    accountSid = setup.account.sid;
    connection = { sid: setup.connection.sid, clientId: setup.connection.clientId };
    const adminKey = (await lanyard.services.adminKeys.create('console clients test')).secret;
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await signInToConsole(page, lanyard.url, adminKey);
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

  it("edits the redirect URIs of the connection's built-in client, which a sign-in then accepts", async () => {
    const section = page.locator('#section-clients');
    const card = section.getByRole('article', { name: 'Built-in client' });
    await card.waitFor();
    expect(await card.locator('code.value').first().textContent()).toBe(connection.clientId);
    // No secret to rotate and nothing to delete: the connection owns it.
    await expect(card.getByRole('button', { name: 'Delete client' }).count()).resolves.toBe(0);

    const authorize = (redirectUri: string) => {
      const url = new URL('/oauth2/authorize', lanyard.url);
      const params = { client_id: connection.clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid' };
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      url.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
      url.searchParams.set('code_challenge_method', 'S256');
      return fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    };
    const before = await authorize('https://wallboard.example.com/cb');
    expect(before.status).toBe(400);
    // The error page sends the administrator to this client's redirect URIs, naming it.
    expect(await before.text()).toContain(`lanyard clients update ${connection.clientId} --redirect-uri`);

    await card.getByLabel('Redirect URIs of Built-in client').fill('https://wallboard.example.com/cb\nhttp://wallboard.example.com/cb');
    await card.getByRole('button', { name: 'Save redirect URIs' }).click();
    await section.getByRole('alert').filter({ hasText: 'must use https' }).waitFor();
    await card.getByLabel('Redirect URIs of Built-in client').fill('https://wallboard.example.com/cb');
    await card.getByRole('button', { name: 'Save redirect URIs' }).click();
    await section.getByText('Redirect URIs of Built-in client saved.').waitFor();
    expect((await lanyard.services.accounts.getConnection(connection.sid)).redirectUris).toEqual(['https://wallboard.example.com/cb']);
    expect((await authorize('https://wallboard.example.com/cb')).status).toBe(302);
    expect(pageErrors).toEqual([]);
  });
});
