import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import type { LanyardConfig } from '../../packages/server/src/index.ts';
import { setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { launchChromium, pickUser } from './support/demo-stack.ts';
import { flexUiBundle, startFlexUiDesktop, type FlexUiDesktop } from './support/flex-ui-desktop.ts';

/**
 * The real, unmodified `@twilio/flex-ui` 2.17.1 (and the `@twilio/flex-sdk` 3.0.0 inside it) in
 * Chromium against a real Lanyard and the development SAML IdP. Its requests to Twilio's fixed
 * hosts reach Lanyard through the SDK's routing service worker, registered as docs/flex-ui.md
 * says. The bundle is about 10 MB: each page load takes seconds, so timeouts are generous.
 */
const LOAD = 150_000;

interface Stack {
  lanyard: TestLanyard;
  idp: DevIdp;
  desktop: FlexUiDesktop;
  account: Awaited<ReturnType<typeof setupAccount>>;
}

async function startStack(overrides: Partial<LanyardConfig> = {}): Promise<Stack> {
  const idp = await startDevIdp({ port: 0 });
  const lanyard = await startTestLanyard('sqlite', { refreshGraceSeconds: 5, ...overrides });
  const desktop = await startFlexUiDesktop(lanyard.url);
  const account = await setupAccount(lanyard, idp, { trusted: [`${desktop.url}/`], defaultRedirect: `${desktop.url}/` });
  await lanyard.services.accounts.setMode(account.account.sid, 'both');
  return { lanyard, idp, desktop, account };
}

async function stopStack(stack: Stack | undefined): Promise<void> {
  await stack?.desktop.close();
  await stack?.lanyard.stop();
  await stack?.idp.close();
}

/** Enhanced SSO as a self-hosted desktop writes it: only the sign-in navigation is overridden; the rest is routed. */
function enhancedConfig(stack: Stack, extra: { serviceBaseUrl?: string; sso?: object; oauth?: object } = {}) {
  return {
    ...(extra.serviceBaseUrl ? { serviceBaseUrl: extra.serviceBaseUrl } : {}),
    sso: { accountSid: stack.account.account.sid, ...extra.sso },
    oauth: {
      connection: stack.account.connection.sid,
      clientId: stack.account.connection.clientId,
      redirectUrl: `${stack.desktop.url}/`,
      authorizeUrl: `${stack.lanyard.url}/v1/Flex/Authorize`,
      ...extra.oauth,
    },
  };
}

/** Every request the browser sends to Lanyard, by path (after the service worker re-targets it). */
function lanyardTraffic(context: BrowserContext, lanyardUrl: string) {
  const seen: Array<{ method: string; path: string }> = [];
  context.on('request', (request) => {
    if (request.url().startsWith(lanyardUrl) && request.method() !== 'OPTIONS')
      seen.push({ method: request.method(), path: new URL(request.url()).pathname });
  });
  return { seen, count: (path: RegExp) => seen.filter((r) => path.test(r.path)).length };
}

async function outcome(page: Page): Promise<{ state: string; detail: { identity?: string; roles?: string[]; accountSid?: string } | string }> {
  await page.waitForFunction(() => (window as unknown as { flexOutcome?: unknown }).flexOutcome, null, { timeout: LOAD });
  return page.evaluate(() => (window as unknown as { flexOutcome: never }).flexOutcome);
}

const storedSession = (page: Page) =>
  page.evaluate(() => JSON.parse(localStorage.getItem('TWILIO_FLEX_SSO') ?? 'null') as Record<string, unknown> | null);

async function pickUserIn(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Development identity provider' }).waitFor({ timeout: LOAD });
  await pickUser(page);
}

describe('the real Flex UI 2.17.1 signs in against Lanyard (Chromium)', () => {
  let browser: Browser;
  let stack: Stack;
  let context: BrowserContext;

  beforeAll(async () => {
    // Build (or reuse) the bundle before any timer starts: the first build takes about a minute.
    await flexUiBundle();
    [stack, browser] = await Promise.all([startStack(), launchChromium()]);
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await stopStack(stack);
  });
  afterEach(async () => {
    await context?.close();
  });

  async function freshPage() {
    context = await browser.newContext();
    const traffic = lanyardTraffic(context, stack.lanyard.url);
    return { page: await context.newPage(), traffic };
  }

  it(
    'enhanced, redirect: signs in, Manager.create succeeds once, tokens checked through the routed hosts',
    async () => {
      stack.desktop.setAppConfig(enhancedConfig(stack, { serviceBaseUrl: new URL(stack.lanyard.url).host, sso: { loginPopup: false } }));
      const { page, traffic } = await freshPage();
      await page.goto(`${stack.desktop.url}/`);
      await pickUserIn(page);
      const result = await outcome(page);
      expect(result).toEqual({
        state: 'created',
        detail: { identity: 'ada_40example_2Ecom', roles: ['admin', 'supervisor', 'agent'], accountSid: stack.account.account.sid },
      });
      // No loop back to authorize; the code was exchanged once; the address bar is clean.
      expect(traffic.count(/^\/v1\/Flex\/Authorize$/)).toBe(1);
      expect(traffic.seen.filter((r) => r.path === '/v1/Flex/OAuth/Tokens')).toHaveLength(1);
      expect(page.url()).toBe(`${stack.desktop.url}/`);
      // The checks the real client makes reached Lanyard (routed from flex-api.twilio.com).
      expect(traffic.count(/\/Tokens\/Info$/)).toBeGreaterThan(0);
      expect(traffic.count(/^\/v1\/Configuration$/)).toBeGreaterThan(0);
      // A top-level serviceBaseUrl and a defined sso.loginPopup skip the public configuration.
      expect(traffic.count(/^\/v1\/Configuration\/Public$/)).toBe(0);
      const session = await storedSession(page);
      expect(session).toMatchObject({ identity: 'ada_40example_2Ecom', accountSid: stack.account.account.sid });
      expect(String(session?.refreshToken)).toMatch(/^lrt_/);
    },
    LOAD * 2,
  );

  it(
    'enhanced, pop-up (oauth.loginPopup, honoured by Manager.create): the opener exchanges the code',
    async () => {
      // provideLoginInfo reads sso.loginPopup only; Manager.create also honours oauth.loginPopup.
      stack.desktop.setAppConfig(enhancedConfig(stack, { oauth: { loginPopup: true } }), 'managerCreate');
      const { page, traffic } = await freshPage();
      const popupOpened = page.waitForEvent('popup', { timeout: LOAD });
      await page.goto(`${stack.desktop.url}/`);
      const popup = await popupOpened;
      expect(await popup.evaluate(() => window.name)).toBe('twilioFlexLoginWindow');
      await pickUserIn(popup);
      const result = await outcome(page);
      expect(result).toMatchObject({ state: 'created', detail: { identity: 'ada_40example_2Ecom' } });
      // Without a top-level serviceBaseUrl the client first fetched the public configuration.
      expect(traffic.count(/^\/v1\/Configuration\/Public$/)).toBeGreaterThan(0);
      expect(traffic.count(/^\/v1\/Flex\/Authorize$/)).toBe(1);
      expect(page.url()).toBe(`${stack.desktop.url}/`);
    },
    LOAD * 2,
  );

  it(
    'enhanced, pop-up (sso.loginPopup, through provideLoginInfo)',
    async () => {
      stack.desktop.setAppConfig(enhancedConfig(stack, { sso: { loginPopup: true } }));
      const { page, traffic } = await freshPage();
      const popupOpened = page.waitForEvent('popup', { timeout: LOAD });
      await page.goto(`${stack.desktop.url}/`);
      const popup = await popupOpened;
      await pickUserIn(popup);
      expect(await outcome(page)).toMatchObject({ state: 'created', detail: { identity: 'ada_40example_2Ecom' } });
      expect(traffic.count(/^\/v1\/Flex\/Authorize$/)).toBe(1);
    },
    LOAD * 2,
  );

  it(
    'legacy, redirect: authenticate and public configuration through the routed hosts, token on the URL, Manager.create succeeds',
    async () => {
      stack.desktop.setAppConfig({ sso: { accountSid: stack.account.account.sid } });
      const { page, traffic } = await freshPage();
      await page.goto(`${stack.desktop.url}/legacy/`);
      await pickUserIn(page);
      expect(await outcome(page)).toMatchObject({
        state: 'created',
        detail: { identity: 'ada_40example_2Ecom', accountSid: stack.account.account.sid },
      });
      expect(traffic.count(/\/authenticate$/)).toBe(1);
      expect(traffic.count(/^\/v1\/Configuration\/Public$/)).toBeGreaterThan(0);
      expect(traffic.count(/\/Tokens\/Info$/)).toBeGreaterThan(0);
      // The token was taken off the address bar (the real client leaves flexUserSid, not a secret).
      const address = new URL(page.url());
      expect(address.pathname).toBe('/legacy/');
      expect(['Token', 'Expiration', 'Identity', 'Roles'].filter((name) => address.searchParams.has(name))).toEqual([]);
    },
    LOAD * 2,
  );

  it(
    'legacy, pop-up: the pop-up hands the token to its opener (TWILIO_FLEX_LOGIN_SUCCESSFUL)',
    async () => {
      stack.desktop.setAppConfig({ sso: { accountSid: stack.account.account.sid, loginPopup: true } });
      const { page } = await freshPage();
      const popupOpened = page.waitForEvent('popup', { timeout: LOAD });
      await page.goto(`${stack.desktop.url}/legacy/`);
      const popup = await popupOpened;
      await pickUserIn(popup);
      expect(await outcome(page)).toMatchObject({ state: 'created', detail: { identity: 'ada_40example_2Ecom' } });
      expect(await storedSession(page)).toMatchObject({ identity: 'ada_40example_2Ecom' });
    },
    LOAD * 2,
  );
});

describe('a short shift in the real Flex UI: its own timer refreshes, the session ends at the cap (Chromium)', () => {
  // Access tokens of 60 s are "close to expiry" (≤ 3 min) at once; the shift is 100 s.
  const TTL = 60;
  const SHIFT = 100;
  let browser: Browser;
  let stack: Stack;

  beforeAll(async () => {
    await flexUiBundle();
    [stack, browser] = await Promise.all([startStack({ accessTokenTtlSeconds: TTL, sessionMaxLifetimeSeconds: SHIFT }), launchChromium()]);
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await stopStack(stack);
  });

  it(
    'refreshes by itself, keeps the refresh token once the cap stops the expiry, signs out at the cap: no revocation, no reuse',
    async () => {
      stack.desktop.setAppConfig(enhancedConfig(stack, { serviceBaseUrl: new URL(stack.lanyard.url).host, sso: { loginPopup: false } }));
      const context = await browser.newContext();
      // What the token core answered, recorded at the source (the browser cannot read a
      // response its service worker consumed).
      const refreshes: Array<{ at: number; presented: string; returned?: string; expiresAt?: number; error?: number }> = [];
      const core = stack.lanyard.services.tokens;
      const refresh = core.refresh.bind(core);
      core.refresh = async (request) => {
        const entry: (typeof refreshes)[number] = { at: Date.now(), presented: request.refreshToken };
        refreshes.push(entry);
        try {
          const issued = await refresh(request);
          Object.assign(entry, { returned: issued.refreshToken, expiresAt: issued.accessTokenExpiresAt });
          return issued;
        } catch (error) {
          entry.error = (error as { code?: number }).code;
          throw error;
        }
      };
      const page = await context.newPage();
      await page.goto(`${stack.desktop.url}/`);
      await pickUserIn(page);
      expect(await outcome(page)).toMatchObject({ state: 'created' });
      const first = (await storedSession(page))!;
      const claims = JSON.parse(Buffer.from(String(first.token).split('.')[1]!, 'base64url').toString()) as { sid: string };
      const session = await stack.lanyard.services.storage.find<{ maxExpiresAt: number }>('session', claims.sid);
      const capAt = session!.payload.maxExpiresAt;

      // The client's own timer (every 15-20 s) refreshes: the stored expiry moves to the cap.
      await expect
        .poll(async () => Date.parse(String((await storedSession(page))?.expiration)), { timeout: SHIFT * 1000, interval: 1_000 })
        .toBe(capAt);
      const kept = String((await storedSession(page))!.refreshToken);
      expect(kept).not.toBe(first.refreshToken);

      // Until the cap the client keeps presenting `kept` (it discards answers whose expiry did not
      // move); each is answered 200 with the same refresh token. Then it signs out.
      await page.waitForFunction(() => !JSON.parse(localStorage.getItem('TWILIO_FLEX_SSO') ?? '{}').refreshToken, null, {
        timeout: (SHIFT + 60) * 1000,
        polling: 1_000,
      });
      const signedOutAt = Date.now();
      expect(signedOutAt).toBeGreaterThanOrEqual(capAt);
      await page.waitForTimeout(500);
      const answered = refreshes.filter((r) => r.returned !== undefined);
      const refused = refreshes.filter((r) => r.error !== undefined);
      const moved = answered.findIndex((r) => r.returned === kept);
      expect(moved).toBeGreaterThanOrEqual(0);
      // Then at least one refresh that could not move the expiry: the same refresh token back.
      const atCap = answered.slice(moved + 1);
      expect(atCap.length).toBeGreaterThanOrEqual(1);
      expect(atCap.every((r) => r.presented === kept && r.returned === kept && r.expiresAt === capAt)).toBe(true);
      expect(atCap.every((r) => r.at < capAt)).toBe(true);
      // The only refusal possible is the end of the shift.
      expect(refused.every((r) => r.error === 45210 && r.at >= capAt)).toBe(true);

      // Not revoked and no reuse event: the session simply reached its end.
      const after = await stack.lanyard.services.storage.find<{ revokedAt: number | null; revokedReason: string | null }>('session', claims.sid);
      expect(after!.payload).toMatchObject({ revokedAt: null, revokedReason: null });
      await context.close();
    },
    (SHIFT + 240) * 1000,
  );
});
