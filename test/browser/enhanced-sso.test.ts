import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  desktopReady,
  launchChromium,
  pageErrors,
  pickUser,
  signedInView,
  startDemoStack,
  tokenRequests,
  type DemoStack,
} from './support/demo-stack.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const HOUR = 3600_000;

/**
 * The demo desktop (`npm start`'s) signing in through the SDK with enhanced SSO, in Chromium:
 * desktop → Lanyard → development SAML IdP → Lanyard → desktop, by redirect and in a pop-up.
 */
describe('enhanced SSO in the demo desktop (Chromium)', () => {
  let stack: DemoStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let tokens: ReturnType<typeof tokenRequests>;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    [stack, browser] = await Promise.all([startDemoStack(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    tokens = tokenRequests(context);
    page = await context.newPage();
    errors = pageErrors(page);
  });
  afterEach(async () => {
    await context.close();
  });

  it('signs in by redirect: name, roles and expiry shown, no code or state left on the URL', async () => {
    await page.goto(stack.desktopUrl);
    await page.getByRole('heading', { name: 'Sign in to start your shift' }).waitFor();
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${stack.demo.idp.url}/**`);
    await pickUser(page, 'Ada Lovelace');
    const view = await signedInView(page);

    expect(view).toMatchObject({
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      roles: ['admin', 'supervisor', 'agent'],
      identity: 'ada_40example_2Ecom',
    });
    expect(view.expiresAt - Date.now()).toBeGreaterThan(HOUR - 60_000);
    expect(view.expiresAt - Date.now()).toBeLessThanOrEqual(HOUR);
    expect(view.sessionEndsAt - Date.now()).toBeGreaterThan(11 * HOUR);
    expect(view.countdown).toMatch(/^\(in (59|60) min \d\d s\)$/);
    // The code and state were removed from the address bar (and from this history entry).
    expect(page.url()).toBe(stack.desktopUrl);
    // One code exchange, from the desktop's origin; the verifier never left that tab.
    expect(tokens.all).toEqual([{ url: '/v1/Flex/OAuth/Tokens', grant: 'AuthorizationCode', origin: stack.demo.desktop.url }]);
    const stored = await page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? 'null'), `lanyard:${stack.demo.account.account.sid}:session`);
    expect(stored).toMatchObject({ mode: 'enhanced', user: { fullName: 'Ada Lovelace' }, refreshToken: expect.stringMatching(/^lrt_/) });
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.screenshot({ path: `${SCREENSHOTS}desktop-signed-in.png` });

    // A reload keeps the agent signed in: the session comes from storage, no new sign-in.
    await page.reload();
    await desktopReady(page);
    expect((await signedInView(page)).name).toBe('Ada Lovelace');
    expect(tokens.all).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('signs in in a pop-up: the desktop never leaves its page', async () => {
    await page.goto(stack.desktopUrl);
    await desktopReady(page);
    await page.getByLabel('Sign in in a pop-up window').check();
    const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    await popup.waitForURL(`${stack.demo.idp.url}/**`);
    const closed = popup.waitForEvent('close');
    await pickUser(popup, 'Grace Hopper');
    await closed;

    const view = await signedInView(page);
    expect(view).toMatchObject({ name: 'Grace Hopper', roles: ['supervisor', 'agent'] });
    expect(page.url()).toBe(stack.desktopUrl);
    await expect(page.locator('#notice').textContent()).resolves.toBe('Signed in.');
    expect(tokens.grants('AuthorizationCode')).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('reports a blocked pop-up with PopupBlockedError and sends nothing', async () => {
    await page.addInitScript(() => {
      window.open = () => null;
    });
    await page.goto(stack.desktopUrl);
    await desktopReady(page);
    await page.getByLabel('Sign in in a pop-up window').check();
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'blocked' });
    await expect(alert.textContent()).resolves.toBe(
      'The sign-in window was blocked by the browser. Allow pop-ups for this site, or sign in without a pop-up.',
    );
    await expect(alert.getAttribute('data-code')).resolves.toBe('popup_blocked');
    expect(tokens.all).toEqual([]);
    await page.locator('#signed-out').waitFor();
  });

  it('reports a pop-up closed by the agent with PopupClosedError', async () => {
    await page.goto(stack.desktopUrl);
    await desktopReady(page);
    await page.getByLabel('Sign in in a pop-up window').check();
    const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    await popup.waitForURL(`${stack.demo.idp.url}/**`);
    // A person looks at the IdP's page before closing it. Let the desktop's watch on the pop-up
    // (a timer every 50 ms) see it on 5 polls over a second at least, as it needs to tell an agent
    // from a Cross-Origin-Opener-Policy cut: each chained 100 ms timer in the desktop's page fires
    // after the watch's next poll, however late a loaded machine runs them (14: 13 gaps, 1.3 s).
    await page.evaluate(async () => {
      for (let i = 0; i < 14; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    });
    await popup.close();
    const alert = page.getByRole('alert').filter({ hasText: 'closed' });
    await expect(alert.textContent()).resolves.toBe('The sign-in window was closed before sign-in finished. Press "Sign in" to try again.');
    await expect(alert.getAttribute('data-code')).resolves.toBe('popup_closed');
    expect(tokens.all).toEqual([]);
  });

  it('"Sign in" pressed again while the pop-up is open: the same window starts over, one sign-in, no state mismatch', async () => {
    await page.goto(stack.desktopUrl);
    await desktopReady(page);
    await page.getByLabel('Sign in in a pop-up window').check();
    const signIn = page.getByRole('button', { name: 'Sign in', exact: true });
    const [popup] = await Promise.all([context.waitForEvent('page'), signIn.click()]);
    await popup.waitForURL(`${stack.demo.idp.url}/**`);
    const first = popup.url();
    // The browser hands back the window of that name: the second sign-in sends it to a new request.
    const opened: Page[] = [];
    context.on('page', (extra) => opened.push(extra));
    await signIn.click();
    await popup.waitForURL((url) => url.href !== first && url.href.startsWith(stack.demo.idp.url));
    const closed = popup.waitForEvent('close');
    await pickUser(popup, 'Grace Hopper');
    await closed;
    await expect(signedInView(page)).resolves.toMatchObject({ name: 'Grace Hopper' });
    await page.waitForTimeout(500);
    await expect(page.getByRole('alert').allTextContents()).resolves.toEqual([]);
    expect(opened).toEqual([]);
    expect(tokens.grants('AuthorizationCode')).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('refuses a callback whose state this tab did not issue (login CSRF): StateMismatchError, no token request', async () => {
    // The attacker completes a sign-in of their own and keeps the callback URL (code + state).
    const attacker = await browser.newContext();
    const attackerPage = await attacker.newPage();
    let forged = '';
    // Lanyard's ACS answers 303 to the desktop with the code: keep that address, do not follow it.
    await attacker.route('**/login/callback?**', async (route) => {
      const response = await route.fetch({ maxRedirects: 0 });
      forged = response.headers().location ?? '';
      await route.abort();
    });
    await attackerPage.goto(stack.desktopUrl);
    await attackerPage.getByRole('button', { name: 'Sign in', exact: true }).click();
    await pickUser(attackerPage, 'Alan Turing');
    await expect.poll(() => forged).toContain('code=');
    await attacker.close();

    // The victim has started a sign-in of their own (a state is pending), then opens the link.
    await page.goto(stack.desktopUrl);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${stack.demo.idp.url}/**`);
    await page.goto(forged);
    const alert = page.getByRole('alert').filter({ hasText: 'state mismatch' });
    await expect(alert.textContent()).resolves.toBe(
      'The sign-in response does not match a sign-in started on this page (state mismatch). Nothing was signed in; start the sign-in again from this page.',
    );
    await expect(alert.getAttribute('data-code')).resolves.toBe('state_mismatch');
    expect(page.url()).toBe(stack.desktopUrl);
    expect(tokens.all).toEqual([]);
    await page.locator('#signed-out').waitFor();

    // The same with nothing pending at all (a fresh tab), and with a state merely altered.
    const fresh = await context.newPage();
    await fresh.goto(`${stack.desktopUrl}?code=abc&state=tampered`);
    await fresh.getByRole('alert').filter({ hasText: 'state mismatch' }).waitFor();
    expect(fresh.url()).toBe(stack.desktopUrl);
    expect(tokens.all).toEqual([]);
  });

  it('shows every appConfig problem, each with its field', async () => {
    await page.route('**/assets/appConfig.js', (route) =>
      route.fulfill({
        contentType: 'text/javascript',
        body: `window.appConfig = { sso: { loginPopupFeatures: 42 }, oauth: { connection: 'JQ1', clientId: 'x', redirectUrl: 'https://elsewhere.example.com/', serviceBaseUrl: '${stack.lanyard.url}' } };`,
      }),
    );
    await page.goto(stack.desktopUrl);
    await expect(page.getByRole('alert').filter({ hasText: 'accountSid' }).getAttribute('data-code')).resolves.toBe('config_invalid');
    const problems = await page.locator('#problem-list li').allTextContents();
    expect(problems).toEqual([
      'sso.accountSid: Invalid or missing configuration: accountSid is required',
      expect.stringMatching(/^sso\.loginPopupFeatures: .*must be a string of window\.open features/),
      expect.stringMatching(/^oauth\.connection: oauth\.connection "JQ1" is not an SSO profile SID/),
      expect.stringMatching(/^oauth\.redirectUrl: .*is on https:\/\/elsewhere\.example\.com, but this page is on http:\/\/127\.0\.0\.1:\d+/),
    ]);
    await expect(page.locator('#sign-in').isVisible()).resolves.toBe(false);
  });
});
