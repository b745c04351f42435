import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { desktopReady, launchChromium, pageErrors, pickUser, signedInView, tokenRequests } from './support/demo-stack.ts';
import { startShiftedDemoStack, type ShiftedDemoStack } from './support/shifted-stack.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * A whole shift on a fake clock: the browser's (`context.clock`) and the server's (a child
 * process whose wall clock moves with it) jump forward together. Default lifetimes: access
 * token 1 hour, session (shift) 12 hours.
 */
describe('a shift in the demo desktop (Chromium, fake clock)', () => {
  let stack: ShiftedDemoStack;
  let browser: Browser;
  let context: BrowserContext;
  let tokens: ReturnType<typeof tokenRequests>;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startShiftedDemoStack(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    tokens = tokenRequests(context);
    // Before any page loads, so that every timer the SDK sets is on the fake clock.
    await context.clock.install();
  });
  afterEach(async () => {
    await context.close();
  });

  /** Both clocks jump; the server's first, so a refresh fired by the jump lands in the new time. */
  async function fastForward(ms: number): Promise<void> {
    await stack.advanceServerClock(ms);
    await context.clock.fastForward(ms);
  }

  async function signIn(page: Page, user = 'Ada Lovelace') {
    await page.goto(stack.desktopUrl);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await pickUser(page, user);
    return signedInView(page);
  }

  const browserNow = (page: Page) => page.evaluate(() => Date.now());
  const expiry = async (page: Page) => Date.parse((await page.locator('#token-expiry').getAttribute('datetime')) ?? '');

  it('keeps the agent signed in across token expiries, warns before the shift ends, signs out at its end', async () => {
    const page = await context.newPage();
    const errors = pageErrors(page);
    const first = await signIn(page);
    expect(first.sessionEndsAt - first.expiresAt).toBeGreaterThan(10 * HOUR);

    // Past the first access token's expiry: the SDK refreshed before it ran out.
    await fastForward(61 * MINUTE);
    await expect.poll(() => expiry(page)).toBeGreaterThan(first.expiresAt + 50 * MINUTE);
    expect(tokens.grants('RefreshToken')).toHaveLength(1);
    const afterRefresh = await signedInView(page);
    expect(afterRefresh.expiresAt - (await browserNow(page))).toBeGreaterThan(55 * MINUTE);
    expect(afterRefresh.countdown).toMatch(/^\(in (5\d|60) min \d\d s\)$/);
    expect(afterRefresh.sessionEndsAt).toBe(first.sessionEndsAt);
    await expect(page.locator('#last-update').textContent()).resolves.toMatch(/refreshed by this tab/);
    await expect(page.locator('#warning').isVisible()).resolves.toBe(false);

    // Nine minutes before the end of the shift: warned; the last refresh is capped at the end.
    await fastForward(first.sessionEndsAt - 9 * MINUTE - (await browserNow(page)));
    const warning = page.getByRole('alert').filter({ hasText: 'Your session ends at' });
    await warning.waitFor();
    await expect(warning.textContent()).resolves.toMatch(/Save your work; you will need to sign in again\.$/);
    await expect.poll(() => expiry(page)).toBe(first.sessionEndsAt);
    expect(tokens.grants('RefreshToken')).toHaveLength(2);

    // Past the end of the shift: signed out, with no refresh attempted (it could not extend it).
    await fastForward(10 * MINUTE);
    await page.locator('#signed-out').waitFor({ state: 'visible' });
    await expect(page.getByRole('status').textContent()).resolves.toBe('Your session has ended. Sign in again to continue.');
    expect(tokens.grants('RefreshToken')).toHaveLength(2);
    const stored = await page.evaluate(() => Object.values({ ...localStorage }).join(' '));
    expect(stored).not.toMatch(/lrt_|eyJ/);
    expect(errors).toEqual([]);
  });

  it('two tabs share one refresh per expiry window, and both show the new expiry', async () => {
    const a = await context.newPage();
    const first = await signIn(a, 'Grace Hopper');
    const b = await context.newPage();
    await b.goto(stack.desktopUrl);
    await desktopReady(b);
    expect(await signedInView(b)).toMatchObject({ name: 'Grace Hopper', expiresAt: first.expiresAt });

    await fastForward(56 * MINUTE);
    await expect.poll(() => Promise.all([expiry(a), expiry(b)])).toEqual([expect.any(Number), expect.any(Number)]);
    await expect.poll(async () => (await expiry(a)) > first.expiresAt && (await expiry(a)) === (await expiry(b))).toBe(true);
    expect(tokens.grants('RefreshToken')).toHaveLength(1);
    const sources = await Promise.all([a, b].map((p) => p.locator('#last-update').textContent()));
    expect(sources.map((s) => s?.replace(/^.*\((.*)\)$/, '$1')).sort()).toEqual(['from another tab', 'refreshed by this tab']);

    const second = await expiry(a);
    await fastForward(56 * MINUTE);
    await expect.poll(async () => (await expiry(a)) > second && (await expiry(a)) === (await expiry(b))).toBe(true);
    expect(tokens.grants('RefreshToken')).toHaveLength(2);
    // Each refresh presented the newest refresh token: no reuse, so the session was never revoked.
    await a.locator('#signed-in').waitFor();
    await b.locator('#signed-in').waitFor();
  });

  it('a sign-out in one tab signs the other out and revokes the session at the server', async () => {
    const a = await context.newPage();
    await signIn(a, 'Alan Turing');
    const b = await context.newPage();
    await b.goto(stack.desktopUrl);
    expect((await signedInView(b)).name).toBe('Alan Turing');
    const refreshToken = await a.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.endsWith(':session'))!;
      return (JSON.parse(localStorage.getItem(key)!) as { refreshToken: string }).refreshToken;
    });

    const revoked = a.waitForResponse((response) => response.url().endsWith('/oauth2/revoke'));
    await a.getByRole('button', { name: 'Sign out' }).click();
    expect((await revoked).status()).toBe(200);
    await a.locator('#signed-out').waitFor({ state: 'visible' });
    await expect(a.getByRole('status').textContent()).resolves.toBe('You signed out.');
    await b.locator('#signed-out').waitFor({ state: 'visible' });
    await expect(b.getByRole('status').textContent()).resolves.toBe('You were signed out in another tab.');
    expect(tokens.to(/\/oauth2\/revoke$/)).toHaveLength(1);

    // The refresh token the tabs held is dead at the server too (first and only use: not a reuse).
    const connection = await a.evaluate(() => (window as unknown as { appConfig: { oauth: { connection: string } } }).appConfig.oauth.connection);
    const response = await fetch(`${stack.lanyardUrl}/v1/Flex/OAuth/Tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'RefreshToken', refresh_token: refreshToken, sso_profile_sid: connection }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 45002, message: expect.stringContaining('revoked') });
    // Nothing refreshes for a signed-out desktop, however long it stays open.
    await fastForward(3 * HOUR);
    expect(tokens.grants('RefreshToken')).toHaveLength(0);
  });
});
