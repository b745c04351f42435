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

/**
 * Pop-up sign-in when a page sends Cross-Origin-Opener-Policy: the pop-up lands in another
 * browsing context group, the desktop's handle reads `closed` and the callback page has no
 * `window.opener`. The SDK must neither report the window closed nor show a state mismatch in
 * the pop-up: the callback page hands the result over a same-origin channel.
 */
for (const sender of ['idp', 'desktop'] as const) {
  describe(`pop-up sign-in with Cross-Origin-Opener-Policy: same-origin sent by the ${sender} (Chromium)`, () => {
    let stack: DemoStack;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    let errors: string[];
    let warnings: string[];
    let tokens: ReturnType<typeof tokenRequests>;

    beforeAll(async () => {
      [stack, browser] = await Promise.all([startDemoStack({}, { crossOriginOpenerPolicy: { [sender]: 'same-origin' } }), launchChromium()]);
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
      warnings = [];
      page.on('console', (message) => {
        if (message.type() === 'warning') warnings.push(message.text());
      });
    });
    afterEach(async () => {
      await context.close();
    });

    it('signs in: the result comes over the same-origin channel, the pop-up closes, no "closed" error', async () => {
      const policy = await fetch(sender === 'idp' ? `${stack.demo.idp.url}/` : stack.desktopUrl).then((r) =>
        r.headers.get('cross-origin-opener-policy'),
      );
      expect(policy).toBe('same-origin');
      await page.goto(stack.desktopUrl);
      await desktopReady(page);
      await page.getByLabel('Sign in in a pop-up window').check();
      const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
      await popup.waitForURL(`${stack.demo.idp.url}/**`);
      // The opener's handle reads closed now; the SDK must keep waiting, not report a closed window.
      // On failure, what the desktop showed instead (a "closed" alert, another warning) and where the pop-up was.
      const seen = async () =>
        `warnings: ${JSON.stringify(warnings)}; alerts: ${JSON.stringify(await page.getByRole('alert').allTextContents())}; pop-up at ${popup.isClosed() ? '(closed)' : popup.url()}; page errors: ${JSON.stringify(errors)}`;
      await expect
        .poll(() => warnings.some((w) => w.includes('lost its link to this page')), { timeout: 20_000 })
        .toBe(true)
        .catch(async (error: Error) => {
          throw new Error(`${error.message}\n${await seen()}`);
        });
      await page.waitForTimeout(1500);
      await expect(page.getByRole('alert').filter({ hasText: 'closed' }).count()).resolves.toBe(0);
      const closed = popup.waitForEvent('close');
      await pickUser(popup, 'Grace Hopper');
      await closed;

      const view = await signedInView(page);
      expect(view).toMatchObject({ name: 'Grace Hopper', roles: ['supervisor', 'agent'] });
      expect(page.url()).toBe(stack.desktopUrl);
      // One code exchange, by the desktop tab (which holds the PKCE verifier), none by the pop-up.
      expect(tokens.grants('AuthorizationCode')).toHaveLength(1);
      expect(errors).toEqual([]);
      // The marker is gone once the sign-in finished.
      const marker = await page.evaluate((key) => localStorage.getItem(key), `lanyard:${stack.demo.account.account.sid}:popup`);
      expect(marker).toBeNull();
    });

    it('after the cut-off pop-up is closed, "Sign in" again signs in, and the first sign-in ends with it (no error when its wait would run out)', async () => {
      // The desktop's clock, to run past the first sign-in's 10-minute wait on the channel.
      await page.clock.install();
      await page.goto(stack.desktopUrl);
      await desktopReady(page);
      await page.getByLabel('Sign in in a pop-up window').check();
      const signIn = () => Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
      const [first] = await signIn();
      await first.waitForURL(`${stack.demo.idp.url}/**`);
      await expect.poll(() => warnings.some((w) => w.includes('lost its link to this page'))).toBe(true);
      // The agent closes it at once: the desktop cannot tell that from the cut, and keeps waiting.
      await first.close();
      const [second] = await signIn();
      const closed = second.waitForEvent('close');
      await pickUser(second, 'Grace Hopper');
      await closed;
      await expect(signedInView(page)).resolves.toMatchObject({ name: 'Grace Hopper' });

      await page.clock.fastForward('11:00');
      await page.clock.runFor(1000);
      await expect(page.getByRole('alert').allTextContents()).resolves.toEqual([]);
      await expect(signedInView(page)).resolves.toMatchObject({ name: 'Grace Hopper' });
      expect(tokens.grants('AuthorizationCode')).toHaveLength(1);
      expect(errors).toEqual([]);
    });
  });
}
