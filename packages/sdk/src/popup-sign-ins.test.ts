import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EnhancedConfig, LegacyConfig } from './app-config.ts';
import { ENHANCED_POPUP_MESSAGE } from './enhanced-sso.ts';
import { LEGACY_POPUP_MESSAGE } from './legacy-sso.ts';
import { LanyardClient } from './lanyard-client.ts';
import { codeChallengeS256 } from './pkce.ts';
import { handoverFor } from './popup-handover.ts';

/**
 * "Sign in" pressed again while a pop-up sign-in waits, in the races a real browser cannot be
 * made to hit on cue: a result on its way to the first sign-in, a second one that fails to start,
 * the first window finishing after the second took over. The desktop's window, its pop-ups and
 * the server are played here (the browser runs are in test/browser/popup-coop.test.ts and
 * enhanced-sso.test.ts); the SDK's code, storage marker and BroadcastChannel are the real ones.
 */

const ORIGIN = 'https://desk.example.com';
const AC = 'AC' + '1'.repeat(32);
const common = { accountSid: AC, loginPopup: true, loginPopupFeatures: undefined, redirectUrl: `${ORIGIN}/` };
const ENHANCED: EnhancedConfig = {
  ...common,
  mode: 'enhanced',
  connection: 'JQ' + '2'.repeat(32),
  clientId: 'desktop',
  authorizeUrl: 'https://sso.example.com/v1/Flex/Authorize',
  tokenUrl: 'https://sso.example.com/v1/Flex/OAuth/Tokens',
  revokeUrl: 'https://sso.example.com/oauth2/revoke',
};
const LEGACY: LegacyConfig = {
  ...common,
  mode: 'legacy',
  loginUrl: 'https://sso.example.com/v1/Accounts/x/authenticate',
  tokenRefreshUrl: 'https://sso.example.com/r',
  idpUrl: undefined,
};

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
/** Waits until `condition` holds (each sign-in's start is asynchronous: PKCE, a fetch). */
async function until(condition: () => boolean, what: string) {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 5_000) throw new Error(`timed out waiting until ${what}`);
    await tick(5);
  }
}
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A pop-up window as the desktop's handle sees it. */
interface FakePopup {
  name: string;
  closed: boolean;
  url: string;
  location: { replace(url: string): void; readonly href: string };
  close(): void;
}

/** The desktop page: `window.open` by name, `postMessage` from a pop-up, `localStorage`. */
function desktopWindow() {
  const popups: FakePopup[] = [];
  const target = new EventTarget();
  const storage = new Map<string, string>();
  const open = (_url: string, name: string): FakePopup => {
    const linked = popups.find((p) => p.name === name && !p.closed);
    if (linked) return linked;
    const popup: FakePopup = {
      name,
      closed: false,
      url: 'about:blank',
      location: {
        replace: (url) => void (popup.url = url),
        get href() {
          if (popup.url !== 'about:blank') throw new DOMException('cross-origin', 'SecurityError');
          return popup.url;
        },
      },
      close: () => void (popup.closed = true),
    };
    popups.push(popup);
    return popup;
  };
  Object.defineProperty(globalThis, 'window', {
    configurable: true,
    value: Object.assign(target, { location: { origin: ORIGIN, href: `${ORIGIN}/` }, open }),
  });
  // Legacy SSO looks for the page's referrer policy (address-bar.ts): this page has one.
  Object.defineProperty(globalThis, 'document', {
    configurable: true,
    value: { querySelector: () => ({ content: 'no-referrer' }) },
  });
  Object.defineProperty(globalThis, 'localStorage', {
    configurable: true,
    value: {
      getItem: (key: string) => storage.get(key) ?? null,
      setItem: (key: string, value: string) => void storage.set(key, String(value)),
      removeItem: (key: string) => void storage.delete(key),
    },
  });
  return {
    popups,
    storage,
    /** The callback page in `popup`, its opener link intact: postMessage, then it closes itself. */
    report(popup: FakePopup, message: unknown) {
      const event = Object.assign(new Event('message'), { source: popup, origin: ORIGIN, data: message });
      target.dispatchEvent(event);
      popup.closed = true;
    },
    /** A page with Cross-Origin-Opener-Policy cuts `popup` off: the handle reads closed. */
    cut(popup: FakePopup) {
      popup.closed = true;
      popup.name = '';
    },
  };
}

/** Lanyard's endpoints: /authenticate (legacy) and the token endpoint (enhanced), recorded. */
function server(options: { failAuthenticate?: () => boolean; authenticateMs?: () => number } = {}) {
  const grants: Array<Record<string, unknown>> = [];
  let authenticated = 0;
  const fetch = async (url: string, init: RequestInit) => {
    await tick(url === LEGACY.loginUrl ? (options.authenticateMs?.() ?? 30) : 30);
    if (url === LEGACY.loginUrl) {
      if (options.failAuthenticate?.()) throw new TypeError('fetch failed');
      return Response.json({ location: `https://idp.example.com/sso?n=${++authenticated}` });
    }
    const body = JSON.parse(String(init.body)) as Record<string, unknown>;
    grants.push(body);
    const now = Date.now();
    return Response.json({
      access_token: `${b64({ alg: 'ES256' })}.${b64({ iat: Math.floor(now / 1000) })}.sig`,
      refresh_token: `rt-${grants.length}`,
      token_info: { account_sid: AC, identity: 'grace', roles: ['agent'] },
      access_token_expires_at: new Date(now + 3600_000).toISOString(),
      session_expires_at: new Date(now + 8 * 3600_000).toISOString(),
    });
  };
  return { fetch, grants };
}

function settled(promise: Promise<unknown>) {
  const outcome: { value?: unknown; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(outcome, { value, done: true }),
    (error: unknown) => Object.assign(outcome, { error, done: true }),
  );
  return outcome;
}

const stateOf = (popup: FakePopup) => new URL(popup.url).searchParams.get('state');
const enhancedResult = (state: string | null, code: string) => ({
  type: ENHANCED_POPUP_MESSAGE,
  params: { code, state, error: null, error_description: null, error_code: null },
});
const legacyResult = () => ({
  messageId: LEGACY_POPUP_MESSAGE,
  tokenPayload: {
    token: 'legacy-token',
    expiration: new Date(Date.now() + 3600_000).toISOString(),
    identity: 'grace',
    roles: ['agent'],
    flexUserSid: null,
  },
});

describe('"Sign in" pressed again during a pop-up sign-in', () => {
  const saved = ['window', 'document', 'localStorage'].map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
  let desktop: ReturnType<typeof desktopWindow>;
  const warnings: string[] = [];
  const clients: LanyardClient[] = [];
  const client = (config: EnhancedConfig | LegacyConfig, fetch: ReturnType<typeof server>['fetch']) => {
    const c = new LanyardClient(config, { storage: 'memory', channel: null, fetch });
    c.on('warning', (w) => warnings.push(w.code));
    clients.push(c);
    return c;
  };
  beforeEach(() => {
    desktop = desktopWindow();
    warnings.length = 0;
  });
  /** Presses "Sign in" and waits until its window is sent on (after PKCE, or a fetch). */
  async function pressSignIn(c: LanyardClient) {
    const first = settled(c.signIn());
    const popup = desktop.popups.at(-1)!;
    await until(() => popup.url !== 'about:blank', 'the sign-in sent its window on');
    return { first, popup };
  }
  /** Presses "Sign in" again and waits until it took the still-linked window over. */
  async function pressAgainInSameWindow(c: LanyardClient, popup: FakePopup) {
    const state = stateOf(popup);
    const second = settled(c.signIn());
    await until(() => stateOf(popup) !== state, 'the second sign-in took the window over');
    return second;
  }
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
    for (const [name, descriptor] of saved) {
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
      else delete (globalThis as Record<string, unknown>)[name];
    }
  });

  it("finishes with the first sign-in's verifier when its result arrives after the second took over its window", async () => {
    const api = server();
    const c = client(ENHANCED, api.fetch);
    const { first, popup } = await pressSignIn(c);
    const firstState = stateOf(popup);
    const firstChallenge = new URL(popup.url).searchParams.get('codeChallenge');
    const second = await pressAgainInSameWindow(c, popup);
    expect(desktop.popups).toHaveLength(1);
    // The IdP had already sent the window back with the first sign-in's state.
    desktop.report(popup, enhancedResult(firstState, 'code-1'));
    await until(() => first.done && second.done, 'both finished');
    expect(first).toMatchObject({ done: true, value: { user: { identity: 'grace' } } });
    expect(second).toEqual(first);
    expect(api.grants).toHaveLength(1);
    await expect(codeChallengeS256(String(api.grants[0]!.code_verifier))).resolves.toBe(firstChallenge);
    expect(warnings).toEqual([]);
  });

  it('keeps the first sign-in when its result arrives while the second is still starting (legacy)', async () => {
    const api = server();
    const c = client(LEGACY, api.fetch);
    const { first, popup } = await pressSignIn(c);
    // The second asks /authenticate (30 ms here) before it can take the window over.
    const second = settled(c.signIn());
    await tick(5);
    desktop.report(popup, legacyResult());
    await tick(100);
    expect(first).toMatchObject({ done: true, value: { user: { identity: 'grace' } } });
    expect(second).toEqual(first);
    // The second did not send the closed window on, nor take its closing for a cut.
    expect(popup.url).toBe('https://idp.example.com/sso?n=1');
    expect(warnings).toEqual([]);
    expect(desktop.storage.get(`lanyard:${AC}:popup`)).toBeUndefined();
  });

  it('leaves the first sign-in waiting when the second fails to start; the first then finishes', async () => {
    let failing = false;
    const api = server({ failAuthenticate: () => failing });
    const c = client(LEGACY, api.fetch);
    const { first, popup } = await pressSignIn(c);
    desktop.cut(popup);
    await until(() => warnings.length > 0, 'the desktop saw the cut');
    expect(warnings).toEqual(['popup_opener_cut']);
    failing = true;
    const second = settled(c.signIn());
    await until(() => second.done, 'the second sign-in failed');
    expect(second).toMatchObject({ done: true, error: { code: 'network_error' } });
    expect(first.done).toBe(false);
    // The cut-off window finishes: its callback page finds the marker and hands the result over.
    const handOver = handoverFor(AC, { mode: 'legacy' }, Date.now());
    expect(handOver).not.toBeNull();
    handOver!(legacyResult());
    await until(() => first.done, 'the first sign-in finished');
    expect(first).toMatchObject({ done: true, value: { user: { identity: 'grace' } } });
    // The second's blank window was closed; the marker is gone.
    expect(desktop.popups.map((p) => p.closed)).toEqual([true, true]);
    expect(desktop.storage.get(`lanyard:${AC}:popup`)).toBeUndefined();
  });

  it('signs in from the cut-off first window after the second opened its own, and closes the second', async () => {
    const api = server();
    const c = client(ENHANCED, api.fetch);
    const { first, popup: firstWindow } = await pressSignIn(c);
    const firstState = stateOf(firstWindow)!;
    desktop.cut(firstWindow);
    await until(() => warnings.length > 0, 'the desktop saw the cut');
    const second = settled(c.signIn());
    const secondWindow = desktop.popups[1]!;
    await until(() => secondWindow.url !== 'about:blank', 'the second sign-in sent its own window on');
    expect(secondWindow.url).toContain('/v1/Flex/Authorize');
    // The agent finishes in the first window anyway: the marker still names its state.
    const handOver = handoverFor(AC, { mode: 'enhanced', state: firstState }, Date.now());
    expect(handOver).not.toBeNull();
    handOver!(enhancedResult(firstState, 'code-1'));
    await until(() => first.done, 'the first sign-in finished');
    expect(first).toMatchObject({ done: true, value: { user: { identity: 'grace' } } });
    expect(second).toEqual(first);
    expect(api.grants).toHaveLength(1);
    expect(secondWindow.closed).toBe(true);
  });

  it('still refuses a state this tab never issued (login CSRF), for both callers, with no code exchange', async () => {
    const api = server();
    const c = client(ENHANCED, api.fetch);
    const { first, popup } = await pressSignIn(c);
    const second = await pressAgainInSameWindow(c, popup);
    expect(handoverFor(AC, { mode: 'enhanced', state: 'attacker-state' }, Date.now())).toBeNull();
    desktop.report(popup, enhancedResult('attacker-state', 'attacker-code'));
    await until(() => first.done && second.done, 'both finished');
    expect(first).toMatchObject({ done: true, error: { code: 'state_mismatch' } });
    expect(second).toEqual(first);
    expect(api.grants).toEqual([]);
  });

  it('never closes a window an earlier sign-in still waits in when the new one fails to start', async () => {
    let failing = false;
    const api = server({ failAuthenticate: () => failing });
    const c = client(LEGACY, api.fetch);
    const { first, popup } = await pressSignIn(c);
    failing = true;
    const second = settled(c.signIn());
    await until(() => second.done, 'the second sign-in failed');
    expect(second).toMatchObject({ error: { code: 'network_error' } });
    expect(desktop.popups).toHaveLength(1);
    expect(popup.closed).toBe(false);
    desktop.report(popup, legacyResult());
    await until(() => first.done, 'the first sign-in finished');
    expect(first).toMatchObject({ value: { user: { identity: 'grace' } } });
  });

  it('ends both with "closed" when the agent closes the shared window while the second starts', async () => {
    let slow = false;
    const api = server({ authenticateMs: () => (slow ? 1_500 : 30) });
    const c = client(LEGACY, api.fetch);
    const { first, popup } = await pressSignIn(c);
    slow = true;
    const second = settled(c.signIn());
    // The agent reads the IdP's page for over a second, then closes the window.
    await tick(1_200);
    popup.closed = true;
    await until(() => first.done && second.done, 'both ended');
    expect(first).toMatchObject({ error: { code: 'popup_closed', reason: 'closed' } });
    expect(second).toMatchObject({ error: { code: 'popup_closed', reason: 'closed' } });
    // Not taken for a cut, and nothing left waiting for a hand-over.
    expect(warnings).toEqual([]);
    expect(desktop.storage.get(`lanyard:${AC}:popup`)).toBeUndefined();
  });

  it('starts afresh after a result came, even while a sign-in of that group is still starting', async () => {
    let slow = false;
    const api = server({ authenticateMs: () => (slow ? 400 : 30) });
    const c = client(LEGACY, api.fetch);
    const { first, popup: firstWindow } = await pressSignIn(c);
    desktop.cut(firstWindow);
    await until(() => warnings.length > 0, 'the desktop saw the cut');
    slow = true;
    const second = settled(c.signIn());
    await tick(5);
    // The cut-off window finishes while the second still waits for /authenticate.
    handoverFor(AC, { mode: 'legacy' }, Date.now())!(legacyResult());
    await until(() => first.done, 'the first sign-in finished');
    slow = false;
    await c.signOut();
    // A third press after that result: its own sign-in, not the first one's (signed-out) session.
    const third = settled(c.signIn());
    const thirdWindow = desktop.popups.at(-1)!;
    await until(() => thirdWindow.url !== 'about:blank', 'the third sign-in sent its window on');
    expect(third.done).toBe(false);
    await until(() => second.done, 'the second sign-in ended');
    expect(second).toEqual(first);
    // The browser gave the third the second's window (same name): the second left it open.
    expect(desktop.popups).toHaveLength(2);
    expect(thirdWindow.closed).toBe(false);
    desktop.report(thirdWindow, legacyResult());
    await until(() => third.done, 'the third sign-in finished');
    expect(third).toMatchObject({ value: { user: { identity: 'grace' } } });
    expect(c.getSession()).not.toBeNull();
  });
});
