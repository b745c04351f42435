import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import type { LanyardConfig } from '../../../packages/server/src/index.ts';
import { startDemo, type Demo, type DemoOptions } from '../../../packages/demo/src/demo.ts';
import { startTestLanyard, type TestLanyard } from '../../support/lanyard.ts';

/**
 * What `npm start` runs, in this process on free ports: Lanyard (SQLite), the development SAML
 * IdP, the demo account wired to it and the demo agent desktop on its own origin.
 */
export interface DemoStack {
  lanyard: TestLanyard;
  demo: Demo;
  /** The enhanced-SSO desktop (`/`) and the legacy one (`/legacy/`). */
  desktopUrl: string;
  legacyUrl: string;
  close(): Promise<void>;
}

export async function startDemoStack(
  overrides: Partial<LanyardConfig> = {},
  demoOptions: Pick<DemoOptions, 'crossOriginOpenerPolicy'> = {},
): Promise<DemoStack> {
  const lanyard = await startTestLanyard('sqlite', overrides);
  const demo = await startDemo({ lanyard, ...demoOptions }).catch(async (error: unknown) => {
    await lanyard.stop();
    throw error;
  });
  return {
    lanyard,
    demo,
    desktopUrl: `${demo.desktop.url}/`,
    legacyUrl: `${demo.desktop.url}/legacy/`,
    close: async () => {
      await demo.close();
      await lanyard.stop();
    },
  };
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium, driven by playwright-core. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.LANYARD_CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** On the development IdP's sign-in page: picks the test user by name. */
export async function pickUser(page: Page, fullName = 'Ada Lovelace'): Promise<void> {
  await page.getByRole('heading', { name: 'Development identity provider' }).waitFor();
  await page.getByRole('button', { name: new RegExp(fullName) }).click();
}

/** What the desktop shows once signed in (waits for it). */
export async function signedInView(page: Page) {
  await page.locator('#signed-in').waitFor({ state: 'visible' });
  return {
    name: await page.locator('#full-name').textContent(),
    email: await page.locator('#email').textContent(),
    roles: await page.locator('#roles li').allTextContents(),
    identity: await page.locator('#identity').textContent(),
    expiresAt: Date.parse((await page.locator('#token-expiry').getAttribute('datetime')) ?? ''),
    sessionEndsAt: Date.parse((await page.locator('#session-end').getAttribute('datetime')) ?? ''),
    countdown: await page.locator('#countdown').textContent(),
  };
}

/** Whether the desktop has finished starting up (handleCallback settled). */
export async function desktopReady(page: Page): Promise<void> {
  await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
}

/** Every POST a context makes to Lanyard's token endpoints, with its grant type. */
export function tokenRequests(context: BrowserContext) {
  const seen: Array<{ url: string; grant: string | null; origin: string | null }> = [];
  context.on('request', (request: Request) => {
    if (request.method() !== 'POST') return;
    const url = new URL(request.url());
    if (!/\/v1\/Flex\/OAuth\/Tokens$|\/Tokens\/refresh$|\/oauth2\/revoke$/.test(url.pathname)) return;
    let grant: string | null = null;
    try {
      grant = (JSON.parse(request.postData() ?? '{}') as { grant_type?: string }).grant_type ?? null;
    } catch {
      grant = new URLSearchParams(request.postData() ?? '').get('token_type_hint');
    }
    const entry = { url: url.pathname, grant, origin: null as string | null };
    seen.push(entry);
    // Origin is not among the provisional headers: read the ones actually sent.
    void request.headerValue('origin').then(
      (origin) => (entry.origin = origin),
      () => undefined,
    );
  });
  return {
    all: seen,
    grants: (grant: string) => seen.filter((r) => r.grant === grant),
    to: (path: RegExp) => seen.filter((r) => path.test(r.url)),
  };
}

/** Collects uncaught page errors, to assert none happened. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}
