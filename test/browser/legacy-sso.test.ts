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

const TOKEN_PARAMS = /[?&](Token|Expiration|Identity|Roles|flexUserSid)=/;

/**
 * The demo desktop's legacy variant (`/legacy/`: appConfig without `oauth`) in Chromium:
 * authenticate → IdP → ACS → token on the desktop's URL, by redirect and in a pop-up.
 */
describe('legacy SSO in the demo desktop (Chromium)', () => {
  let stack: DemoStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let tokens: ReturnType<typeof tokenRequests>;
  let leakedReferers: string[];

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startDemoStack(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    tokens = tokenRequests(context);
    leakedReferers = [];
    context.on('request', (request) => {
      void request
        .headerValue('referer')
        .then((referer) => referer && TOKEN_PARAMS.test(referer) && leakedReferers.push(`${request.url()} ← ${referer}`))
        // A request still in flight when the test closes its context has no headers to read.
        .catch(() => undefined);
    });
    page = await context.newPage();
    errors = pageErrors(page);
  });
  afterEach(async () => {
    await context.close();
  });

  it('signs in by redirect: the token arrives on the URL, is stored, and leaves the address bar', async () => {
    const warnings: string[] = [];
    page.on('console', (message) => message.type() === 'warning' && warnings.push(message.text()));
    const landing = page.waitForRequest((request) => request.isNavigationRequest() && TOKEN_PARAMS.test(request.url()));
    await page.goto(stack.legacyUrl);
    await expect(page.locator('#mode').textContent()).resolves.toBe('Legacy SSO (token on the URL)');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await pickUser(page, 'Ada Lovelace');
    const view = await signedInView(page);

    expect((await landing).url()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/legacy\/\?Token=.*&Roles=admin&Roles=supervisor&Roles=agent&flexUserSid=FU/);
    expect(view).toMatchObject({
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      roles: ['admin', 'supervisor', 'agent'],
      identity: 'ada_40example_2Ecom',
    });
    expect(view.expiresAt - Date.now()).toBeGreaterThan(59 * 60_000);
    expect(page.url()).toBe(stack.legacyUrl);
    await expect(page.locator('#session-end').textContent()).resolves.toBe('told at the first refresh');
    expect(tokens.all).toEqual([]);

    // Legacy refresh: the token itself is the credential; the server also says when the shift ends.
    await page.getByRole('button', { name: 'Refresh now' }).click();
    await expect.poll(() => page.locator('#session-end').getAttribute('datetime')).not.toBeNull();
    expect(tokens.all).toEqual([
      { url: expect.stringMatching(/^\/v1\/Accounts\/AC\w{32}\/Tokens\/refresh$/), grant: null, origin: stack.demo.desktop.url },
    ]);
    await expect(page.locator('#last-update').textContent()).resolves.toMatch(/refreshed by this tab/);

    // The page declares no-referrer: no request carried the token-bearing address as Referer.
    expect(warnings.filter((w) => w.includes('no-referrer'))).toEqual([]);
    expect(leakedReferers).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('signs in in a pop-up that posts TWILIO_FLEX_LOGIN_SUCCESSFUL to its opener, same origin only', async () => {
    await page.addInitScript(() => {
      const seen: unknown[] = [];
      (window as unknown as { loginMessages: unknown[] }).loginMessages = seen;
      window.addEventListener('message', (event) => seen.push({ origin: event.origin, data: event.data }));
    });
    await page.goto(stack.legacyUrl);
    await desktopReady(page);
    await page.getByLabel('Sign in in a pop-up window').check();
    const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    const closed = popup.waitForEvent('close');
    await pickUser(popup, 'Grace Hopper');
    await closed;

    expect(await signedInView(page)).toMatchObject({ name: 'Grace Hopper', roles: ['supervisor', 'agent'] });
    expect(page.url()).toBe(stack.legacyUrl);
    const messages = await page.evaluate(() => (window as unknown as { loginMessages: unknown[] }).loginMessages);
    expect(messages).toEqual([
      {
        origin: stack.demo.desktop.url,
        data: {
          messageId: 'TWILIO_FLEX_LOGIN_SUCCESSFUL',
          tokenPayload: {
            token: expect.stringMatching(/^eyJ/),
            expiration: expect.any(String),
            identity: 'grace_40example_2Ecom',
            roles: ['supervisor', 'agent'],
            flexUserSid: expect.stringMatching(/^FU/),
          },
        },
      },
    ]);
    expect(errors).toEqual([]);
  });

  it('refuses a token on the URL that this tab did not ask for (IdP-initiated is off in the desktop)', async () => {
    // A genuine token, obtained in another browser and handed to the victim as a link.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await otherPage.goto(stack.legacyUrl);
    await otherPage.getByRole('button', { name: 'Sign in', exact: true }).click();
    const landing = otherPage.waitForRequest((request) => request.isNavigationRequest() && TOKEN_PARAMS.test(request.url()));
    await pickUser(otherPage, 'Alan Turing');
    const link = (await landing).url();
    await other.close();

    await page.goto(link);
    const alert = page.getByRole('alert').filter({ hasText: 'did not start a sign-in' });
    await expect(alert.getAttribute('data-code')).resolves.toBe('state_mismatch');
    expect(page.url()).toBe(stack.legacyUrl);
    await page.locator('#signed-out').waitFor();
    expect(await page.evaluate(() => Object.values({ ...localStorage }).join(' '))).not.toMatch(/eyJ/);
  });

  it('warns (event and console) when the page has no no-referrer policy', async () => {
    const warnings: string[] = [];
    page.on('console', (message) => message.type() === 'warning' && warnings.push(message.text()));
    await page.route('**/legacy/', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, body: (await response.text()).replace(/<meta name="referrer"[^>]*>/, '') });
    });
    await page.goto(stack.legacyUrl);
    await desktopReady(page);
    const expected =
      'Legacy SSO puts the token on this page\'s address: add <meta name="referrer" content="no-referrer"> so it cannot leak to other sites through the Referer header.';
    await expect(page.getByRole('status').textContent()).resolves.toBe(`Setup warning: ${expected}`);
    expect(warnings).toEqual([`Lanyard: ${expected}`]);
  });
});
