import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { pickUser } from './support/demo-stack.ts';
import { launchChromium } from './support/demo-stack.ts';

// The package's own browser build (its `exports` hide the path, so it is read from beside package.json).
const LIBRARY = readFileSync(
  join(dirname(createRequire(import.meta.url).resolve('oidc-client-ts/package.json')), 'dist/browser/oidc-client-ts.min.js'),
  'utf8',
);

/** The SPA: oidc-client-ts's UserManager against Lanyard, one page for sign-in and callback. */
const page = (authority: string, clientId: string, redirectUri: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>SPA</title><script src="/oidc-client-ts.js"></script></head>
<body><pre id="out"></pre><script>
const manager = new oidc.UserManager({ authority: ${JSON.stringify(authority)}, client_id: ${JSON.stringify(clientId)},
  redirect_uri: ${JSON.stringify(redirectUri)}, response_type: 'code', scope: 'openid profile email', loadUserInfo: true });
window.manager = manager;
if (location.search.includes('code=')) {
  manager.signinRedirectCallback().then((user) => { document.getElementById('out').textContent = JSON.stringify({ profile: user.profile, refresh_token: user.refresh_token, access_token: user.access_token }); },
    (error) => { document.getElementById('out').textContent = 'error: ' + error.message; });
}
</script></body></html>`;

/** oidc-client-ts (a certified-style SPA library) in Chromium: sign-in with PKCE, userinfo, revokeTokens(). */
describe('oidc-client-ts in Chromium', () => {
  let idp: DevIdp;
  let lanyard: TestLanyard;
  let server: Server;
  let browser: Browser;
  let spa: Page;
  let origin: string;
  let clientId: string;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard('sqlite');
    const { connection } = await setupAccount(lanyard, idp);
    server = createServer((request, response) => {
      if (request.url === '/oidc-client-ts.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(LIBRARY);
      response.writeHead(200, { 'content-type': 'text/html' }).end(page(lanyard.url, clientId, `${origin}/app`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A public client registered for the SPA: PKCE, no secret, its origin allowed to call the token endpoints.
    clientId = (
      await lanyard.services.clients.register({ connectionSid: connection.sid, tokenEndpointAuthMethod: 'none', redirectUris: [`${origin}/app`] })
    ).client.clientId;
    browser = await launchChromium();
    spa = await (await browser.newContext()).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await lanyard?.stop();
    await idp?.close();
  });

  it('signs in by redirect, loads userinfo, then revokeTokens() ends the session at the server', async () => {
    await spa.goto(`${origin}/app`);
    // signinRedirect navigates away: start it without waiting on the page that is being left.
    await spa.evaluate(() => {
      void (window as unknown as { manager: { signinRedirect(): Promise<void> } }).manager.signinRedirect();
    });
    await pickUser(spa, 'Ada Lovelace');
    await spa.waitForURL(new RegExp(`^${origin}/app\\?`));
    await spa.locator('#out').filter({ hasText: /./ }).waitFor();
    const text = (await spa.locator('#out').textContent())!;
    expect(text).not.toMatch(/^error/);
    const { profile, refresh_token: refreshToken } = JSON.parse(text) as { profile: Record<string, unknown>; refresh_token: string };
    expect(profile).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com', email_verified: true, aud: clientId });

    const revoked = spa.waitForResponse((response) => response.url().endsWith('/oauth2/revoke'));
    const outcome = await spa.evaluate(() =>
      (window as unknown as { manager: { revokeTokens(): Promise<void> } }).manager.revokeTokens().then(
        () => 'revoked',
        (error: Error) => `error: ${error.message}`,
      ),
    );
    expect(outcome).toBe('revoked');
    const response = await revoked;
    expect(response.status()).toBe(200);
    expect(response.headers()['content-type']).toMatch(/^application\/json/);
    // The refresh token no longer works: the session is over.
    const refresh = await fetch(`${lanyard.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
    });
    expect(refresh.status).toBe(400);
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' });
  });
});
