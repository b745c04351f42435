import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EnhancedConfig } from './app-config.ts';
import { systemClock } from './clock.ts';
import { createLeaseLock, createMemoryChannelHub, createMemoryLock, type LockLike } from './cross-tab.ts';
import { refreshEnhanced, revokeEnhanced, sessionFromTokens } from './enhanced-sso.ts';
import { NetworkError, ServerError } from './errors.ts';
import { RefreshCoordinator, refreshAt, type RefreshCoordinatorOptions, type SignOutReason } from './refresh-coordinator.ts';
import { createMemoryStore, type SessionStore, type StoredSession } from './session-store.ts';

const AC = 'AC' + '1'.repeat(32);
const HOUR = 3600_000;
const CONFIG = {
  mode: 'enhanced',
  accountSid: AC,
  connection: 'JQ' + '2'.repeat(32),
  clientId: 'c',
  tokenUrl: 'https://sso.example.com/v1/Flex/OAuth/Tokens',
  revokeUrl: 'https://sso.example.com/oauth2/revoke',
} as EnhancedConfig;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** An unsigned JWT is enough here: the SDK reads `iat` to line its clock up with the server's. */
const jwt = (iat: number, n: number) => `${b64({ alg: 'ES256' })}.${b64({ iat: Math.floor(iat / 1000), n })}.sig`;

/**
 * The token endpoint, played by a fetch stub that counts refresh requests and rotates tokens; its
 * revocation endpoint (RFC 7009) records the tokens revoked.
 */
function tokenEndpoint(options: { lifetimeMs?: number; sessionEnd?: number } = {}) {
  const requests: Array<Record<string, unknown>> = [];
  const revoked: string[] = [];
  let answer: ((body: Record<string, unknown>) => Response) | null = null;
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    if (url === CONFIG.revokeUrl) {
      revoked.push(new URLSearchParams(String(init.body)).get('token') ?? '');
      return new Response(null, { status: 200 });
    }
    const body = JSON.parse(String(init.body)) as Record<string, unknown>;
    requests.push(body);
    // A real round trip takes time: long enough for another tab's timer to fire meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (answer) return answer(body);
    const now = Date.now();
    const n = requests.length;
    return Response.json({
      access_token: jwt(now, n),
      refresh_token: `rt-${n}`,
      token_info: { account_sid: AC, identity: 'ada', roles: ['agent'] },
      access_token_expires_at: new Date(now + (options.lifetimeMs ?? HOUR)).toISOString(),
      session_expires_at: new Date(options.sessionEnd ?? now + 12 * HOUR).toISOString(),
    });
  });
  return { fetch, requests, revoked, answerWith: (f: typeof answer) => (answer = f) };
}

/** A sign-in; `signIn` > 0 for a later one (its own tokens, `rt-s<n>`). */
function signedIn(lifetimeMs = HOUR, signIn = 0): StoredSession {
  const now = Date.now();
  return sessionFromTokens(
    {
      access_token: jwt(now, signIn === 0 ? 0 : 1000 + signIn),
      refresh_token: signIn === 0 ? 'rt-0' : `rt-s${signIn}`,
      token_info: { account_sid: AC, identity: 'ada', roles: ['agent'] },
      access_token_expires_at: new Date(now + lifetimeMs).toISOString(),
      session_expires_at: new Date(now + 12 * HOUR).toISOString(),
    },
    now,
  );
}

/** One "tab": a coordinator with its own channel end, sharing the store and lock given. */
function tab(
  store: SessionStore,
  lock: LockLike,
  hub: ReturnType<typeof createMemoryChannelHub>,
  fetch: ReturnType<typeof tokenEndpoint>['fetch'],
  overrides: Partial<RefreshCoordinatorOptions> = {},
) {
  const events: Array<[string, unknown]> = [];
  const coordinator = new RefreshCoordinator({
    accountSid: AC,
    store,
    lock,
    channel: hub(),
    clock: systemClock,
    refresh: (session) => refreshEnhanced(CONFIG, fetch, systemClock, session),
    // As LanyardClient wires it: the strategy's revoke (enhanced: RFC 7009 at `revokeUrl`).
    revoke: (refreshToken) => revokeEnhanced(CONFIG, fetch, refreshToken),
    onUpdate: (session, source) => events.push([source, session.refreshToken]),
    onSignedOut: (reason: SignOutReason) => events.push(['signedOut', reason]),
    onError: (error) => events.push(['error', error]),
    onLifetimeReached: () => events.push(['lifetimeReached', null]),
    ...overrides,
  });
  return { coordinator, events };
}

describe('RefreshCoordinator', () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.parse('2030-01-01T08:00:00Z') }));
  afterEach(() => vi.useRealTimers());

  it('refreshes at expiry minus five minutes, or at half the lifetime for short tokens', () => {
    const now = Date.now();
    expect(refreshAt({ receivedAt: now, expiresAt: now + HOUR })).toBe(now + 55 * 60_000);
    expect(refreshAt({ receivedAt: now, expiresAt: now + 4 * 60_000 })).toBe(now + 2 * 60_000);
  });

  for (const [name, makeLock] of [
    ['navigator.locks stand-in', () => createMemoryLock()],
    ['localStorage lease', () => createLeaseLock(mapStorage())],
  ] as const) {
    it(`two tabs sharing a store and a lock (${name}) send exactly one refresh per expiry window`, async () => {
      const endpoint = tokenEndpoint();
      const store = createMemoryStore();
      const lock = makeLock();
      const hub = createMemoryChannelHub();
      const a = tab(store, lock, hub, endpoint.fetch);
      const b = tab(store, lock, hub, endpoint.fetch);
      a.coordinator.start();
      b.coordinator.start();
      a.coordinator.publish(signedIn());
      expect(b.coordinator.session?.refreshToken).toBe('rt-0');

      await vi.advanceTimersByTimeAsync(55 * 60_000 - 1000);
      expect(endpoint.requests).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(2000);
      expect(endpoint.requests).toEqual([{ grant_type: 'RefreshToken', refresh_token: 'rt-0', sso_profile_sid: CONFIG.connection }]);
      expect(a.coordinator.session?.refreshToken).toBe('rt-1');
      expect(b.coordinator.session?.refreshToken).toBe('rt-1');

      // The next window: again one request between the two tabs, presenting the rotated token.
      await vi.advanceTimersByTimeAsync(56 * 60_000);
      expect(endpoint.requests.map((r) => r.refresh_token)).toEqual(['rt-0', 'rt-1']);
      expect(store.read()?.refreshToken).toBe('rt-2');
      expect([...a.events, ...b.events].filter(([source]) => source === 'refresh')).toHaveLength(2);
      expect(b.coordinator.session?.accessToken).toBe(a.coordinator.session?.accessToken);
    });
  }

  for (const [name, notes, expected] of [
    ['with notes, the late tab waits for storage and sends nothing', true, ['rt-0']],
    ['without notes, it refreshes the spent token again (what the notes prevent)', false, ['rt-0', 'rt-0']],
  ] as const) {
    it(`two tabs whose storage copies lag 500 ms behind each other: ${name}`, async () => {
      const endpoint = tokenEndpoint();
      const [storeA, storeB] = laggingStores(2, 500);
      const shared = createMemoryLock();
      const lock: LockLike = notes ? shared : { request: (lockName, callback) => shared.request(lockName, callback) };
      const hub = createMemoryChannelHub();
      const a = tab(storeA!, lock, hub, endpoint.fetch);
      const b = tab(storeB!, lock, hub, endpoint.fetch);
      a.coordinator.start();
      b.coordinator.start();
      a.coordinator.publish(signedIn());
      await vi.advanceTimersByTimeAsync(1000);
      expect(b.coordinator.session?.refreshToken).toBe('rt-0');

      await vi.advanceTimersByTimeAsync(55 * 60_000);
      expect(endpoint.requests.map((r) => r.refresh_token)).toEqual(expected);
      if (notes) {
        // B adopted A's refresh once its copy of storage caught up.
        expect(b.coordinator.session?.refreshToken).toBe('rt-1');
        expect(b.events).toContainEqual(['otherTab', 'rt-1']);
      }
    });
  }

  it('without a shared lock both tabs refresh (what the lock prevents)', async () => {
    const endpoint = tokenEndpoint();
    const store = createMemoryStore();
    const hub = createMemoryChannelHub();
    const a = tab(store, createMemoryLock(), hub, endpoint.fetch);
    const b = tab(store, createMemoryLock(), hub, endpoint.fetch);
    a.coordinator.start();
    b.coordinator.start();
    a.coordinator.publish(signedIn());
    await vi.advanceTimersByTimeAsync(56 * 60_000);
    expect(endpoint.requests.map((r) => r.refresh_token)).toEqual(['rt-0', 'rt-0']);
  });

  it('on 45210 stops refreshing, reports it, and signs out when the last token expires', async () => {
    const endpoint = tokenEndpoint();
    endpoint.answerWith(() =>
      Response.json({ code: 45210, message: 'The session has reached its maximum lifetime; sign in again.', status: 400 }, { status: 400 }),
    );
    const store = createMemoryStore();
    const a = tab(store, createMemoryLock(), createMemoryChannelHub(), endpoint.fetch);
    a.coordinator.start();
    a.coordinator.publish(signedIn());
    await vi.advanceTimersByTimeAsync(56 * 60_000);
    expect(endpoint.requests).toHaveLength(1);
    expect(a.events.map(([kind]) => kind)).toEqual(['error', 'lifetimeReached']);
    expect((a.events[0]![1] as ServerError).server.code).toBe(45210);
    await vi.advanceTimersByTimeAsync(4 * 60_000 - 1000);
    expect(a.coordinator.session).not.toBeNull();
    await vi.advanceTimersByTimeAsync(2000);
    expect(endpoint.requests).toHaveLength(1);
    expect(a.events.at(-1)).toEqual(['signedOut', 'expired']);
    expect(store.read()).toBeNull();
  });

  it('a refused refresh (revoked session) signs out every tab', async () => {
    const endpoint = tokenEndpoint();
    endpoint.answerWith(() =>
      Response.json({ code: 45200, message: 'The session of this refresh token has been revoked; sign in again.', status: 400 }, { status: 400 }),
    );
    const store = createMemoryStore();
    const hub = createMemoryChannelHub();
    const lock = createMemoryLock();
    const a = tab(store, lock, hub, endpoint.fetch);
    const b = tab(store, lock, hub, endpoint.fetch);
    a.coordinator.start();
    b.coordinator.start();
    a.coordinator.publish(signedIn());
    await vi.advanceTimersByTimeAsync(56 * 60_000);
    expect(endpoint.requests).toHaveLength(1);
    expect(a.events.find(([kind]) => kind === 'signedOut')).toEqual(['signedOut', 'revoked']);
    expect(b.events.find(([kind]) => kind === 'signedOut')).toEqual(['signedOut', 'revoked']);
  });

  it('retries with backoff while the network is down, then succeeds', async () => {
    const endpoint = tokenEndpoint();
    let down = true;
    const flaky = vi.fn((url: string, init: RequestInit) => (down ? Promise.reject(new TypeError('Failed to fetch')) : endpoint.fetch(url, init)));
    const store = createMemoryStore();
    const a = tab(store, createMemoryLock(), createMemoryChannelHub(), flaky);
    a.coordinator.start();
    a.coordinator.publish(signedIn());
    await vi.advanceTimersByTimeAsync(55 * 60_000 + 1);
    // Retries 1 s after the first network failure, then 10 s, then 20 s: at 1 s and 11 s, the next at 31 s.
    await vi.advanceTimersByTimeAsync(1_000 + 10_000);
    expect(flaky).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(19_000);
    expect(flaky).toHaveBeenCalledTimes(3);
    expect(a.events.filter(([kind]) => kind === 'error').every(([, e]) => e instanceof NetworkError)).toBe(true);
    down = false;
    await vi.advanceTimersByTimeAsync(1_000 + 500);
    expect(a.coordinator.session?.refreshToken).toBe('rt-1');
  });

  it('gives a server that answered 503 the full 5 s before the first retry (the quick retry is for lost answers)', async () => {
    const endpoint = tokenEndpoint();
    let busy = true;
    const answering = vi.fn((url: string, init: RequestInit) =>
      busy
        ? Promise.resolve(new Response(JSON.stringify({ code: 20503, message: 'The database is unavailable', status: 503 }), { status: 503 }))
        : endpoint.fetch(url, init),
    );
    const a = tab(createMemoryStore(), createMemoryLock(), createMemoryChannelHub(), answering);
    a.coordinator.start();
    a.coordinator.publish(signedIn());
    await vi.advanceTimersByTimeAsync(55 * 60_000 + 1);
    expect(answering).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(answering).toHaveBeenCalledTimes(1);
    busy = false;
    await vi.advanceTimersByTimeAsync(1_500);
    expect(answering).toHaveBeenCalledTimes(2);
    expect(a.coordinator.session?.refreshToken).toBe('rt-1');
  });

  it('a sign-out in one tab reaches the other, which sends nothing more', async () => {
    const endpoint = tokenEndpoint();
    const store = createMemoryStore();
    const hub = createMemoryChannelHub();
    const lock = createMemoryLock();
    const a = tab(store, lock, hub, endpoint.fetch);
    const b = tab(store, lock, hub, endpoint.fetch);
    a.coordinator.start();
    b.coordinator.start();
    a.coordinator.publish(signedIn());
    a.coordinator.signOut('user');
    await vi.advanceTimersByTimeAsync(0);
    expect(a.events).toEqual([['signedOut', 'user']]);
    expect(b.events).toEqual([
      ['otherTab', 'rt-0'],
      ['signedOut', 'otherTab'],
    ]);
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(endpoint.requests).toHaveLength(0);
  });
});

/**
 * Sign-out does not take the refresh lock, so a refresh can be in flight when the session ends:
 * its result must not bring the session back (security review: the agent signs out in tab B
 * while tab A refreshes, A then stored the fresh tokens and every tab, B included, adopted them).
 */
describe('RefreshCoordinator: a sign-out while a refresh is in flight', () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.parse('2030-01-01T08:00:00Z') }));
  afterEach(() => vi.useRealTimers());

  const summary = (store: SessionStore, ...tabs: Array<ReturnType<typeof tab>>) => ({
    stored: store.read()?.refreshToken ?? null,
    tabs: tabs.map((t) => t.coordinator.session?.refreshToken ?? null),
  });
  const refreshEvents = (...tabs: Array<ReturnType<typeof tab>>) => tabs.flatMap((t) => t.events).filter(([kind]) => kind === 'refresh');

  function twoTabs(endpoint = tokenEndpoint(), stores: SessionStore[] = [createMemoryStore()]) {
    const lock = createMemoryLock();
    const hub = createMemoryChannelHub();
    const a = tab(stores[0]!, lock, hub, endpoint.fetch);
    const b = tab(stores[1] ?? stores[0]!, lock, hub, endpoint.fetch);
    a.coordinator.start();
    b.coordinator.start();
    a.coordinator.publish(signedIn());
    return { endpoint, a, b };
  }

  it('in another tab: stays signed out in every tab, and the refreshed token is revoked', async () => {
    const store = createMemoryStore();
    const { endpoint, a, b } = twoTabs(tokenEndpoint(), [store]);

    // A's refresh starts (the request takes 200 ms); the agent signs out in B meanwhile.
    const refreshing = a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    expect(endpoint.requests).toHaveLength(1);
    b.coordinator.signOut('user');
    expect(store.read()).toBeNull();
    await vi.advanceTimersByTimeAsync(500);
    expect(await refreshing).toBeNull();

    expect(summary(store, a, b)).toEqual({ stored: null, tabs: [null, null] });
    expect(endpoint.revoked).toEqual(['rt-1']);
    expect(refreshEvents(a, b)).toEqual([]);
    expect(a.events.at(-1)).toEqual(['signedOut', 'otherTab']);
    expect(store.signOutReason()).toBe('user');
  });

  it('in another tab, when the server then refuses the refresh: the sign-out reason stands, not "revoked"', async () => {
    const store = createMemoryStore();
    const endpoint = tokenEndpoint();
    // What the server answers once the sign-out revoked the session.
    endpoint.answerWith(() => Response.json({ code: 45200, message: 'The session has been revoked.', status: 400 }, { status: 400 }));
    const { a, b } = twoTabs(endpoint, [store]);
    const refreshing = a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    b.coordinator.signOut('user');
    await vi.advanceTimersByTimeAsync(500);
    expect(await refreshing).toBeNull();
    expect(store.signOutReason()).toBe('user');
    expect(a.events.filter(([kind]) => kind === 'signedOut')).toEqual([['signedOut', 'otherTab']]);

    // The same while A's copy of storage lags behind B's sign-out (a real browser's renderers).
    const lagging = tokenEndpoint();
    lagging.answerWith(() => Response.json({ code: 45200, message: 'The session has been revoked.', status: 400 }, { status: 400 }));
    const [storeA, storeB] = laggingStores(2, 500);
    const late = twoTabs(lagging, [storeA!, storeB!]);
    await vi.advanceTimersByTimeAsync(1000);
    const again = late.a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    late.b.coordinator.signOut('user');
    await vi.advanceTimersByTimeAsync(2000);
    expect(await again).toBeNull();
    expect(late.a.events.filter(([kind]) => kind === 'signedOut')).toEqual([['signedOut', 'otherTab']]);
    expect([storeA!.signOutReason(), storeB!.signOutReason()]).not.toContain('revoked');
  });

  // A refused refresh of a session that has since ended must not end the session after it.
  const refusing = () => {
    const endpoint = tokenEndpoint();
    endpoint.answerWith(() => Response.json({ code: 45200, message: 'The session has been revoked.', status: 400 }, { status: 400 }));
    return endpoint;
  };

  it('then a new sign-in in the same tab: the old refresh refused later leaves the new session alone', async () => {
    const store = createMemoryStore();
    const { a } = twoTabs(refusing(), [store]);
    const refreshing = a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    a.coordinator.signOut('user');
    a.coordinator.publish(signedIn(HOUR, 2)); // signed in again (pop-up sign-in, same page)
    await vi.advanceTimersByTimeAsync(500);
    await refreshing;
    expect(store.read()?.refreshToken).toBe('rt-s2');
    expect(a.coordinator.session?.refreshToken).toBe('rt-s2');
    expect(a.events.filter(([kind]) => kind === 'signedOut')).toEqual([['signedOut', 'user']]);
  });

  it('then a new sign-in in another tab: the old refresh refused later leaves the new session alone', async () => {
    const store = createMemoryStore();
    const { a, b } = twoTabs(refusing(), [store]);
    const refreshing = a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    b.coordinator.signOut('user');
    b.coordinator.publish(signedIn(HOUR, 2));
    await vi.advanceTimersByTimeAsync(500);
    await refreshing;
    expect(store.read()?.refreshToken).toBe('rt-s2');
    expect(b.coordinator.session?.refreshToken).toBe('rt-s2');
  });

  it('in the refreshing tab itself: the result is thrown away and revoked', async () => {
    const store = createMemoryStore();
    const { endpoint, a, b } = twoTabs(tokenEndpoint(), [store]);
    const refreshing = a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    a.coordinator.signOut('user');
    await vi.advanceTimersByTimeAsync(500);
    expect(await refreshing).toBeNull();

    expect(summary(store, a, b)).toEqual({ stored: null, tabs: [null, null] });
    expect(endpoint.revoked).toEqual(['rt-1']);
    expect(a.events).toEqual([['signedOut', 'user']]);
    expect(refreshEvents(a, b)).toEqual([]);
  });

  it('during a retry after a network failure: nothing is stored, the token is revoked', async () => {
    const endpoint = tokenEndpoint();
    let down = true;
    const flaky = vi.fn((url: string, init: RequestInit) => (down ? Promise.reject(new TypeError('Failed to fetch')) : endpoint.fetch(url, init)));
    const store = createMemoryStore();
    const lock = createMemoryLock();
    const hub = createMemoryChannelHub();
    const a = tab(store, lock, hub, flaky);
    const b = tab(store, lock, hub, flaky);
    a.coordinator.start();
    b.coordinator.start();
    a.coordinator.publish(signedIn());
    await vi.advanceTimersByTimeAsync(55 * 60_000 + 1);
    expect(flaky).toHaveBeenCalled();
    expect(endpoint.requests).toHaveLength(0);
    down = false;
    // The first retry comes 1 s later; the agent signs out while it is in flight.
    await vi.advanceTimersByTimeAsync(1_000 + 50);
    expect(endpoint.requests).toHaveLength(1);
    a.coordinator.signOut('user');
    await vi.advanceTimersByTimeAsync(HOUR);

    expect(summary(store, a, b)).toEqual({ stored: null, tabs: [null, null] });
    expect(endpoint.revoked).toEqual(['rt-1']);
    expect(endpoint.requests).toHaveLength(1);
    expect(refreshEvents(a, b)).toEqual([]);
  });

  it('while the refreshing tab’s copy of storage lags behind: the sign-out note stops it storing', async () => {
    const [storeA, storeB] = laggingStores(2, 500);
    const { endpoint, a, b } = twoTabs(tokenEndpoint(), [storeA!, storeB!]);
    await vi.advanceTimersByTimeAsync(1000);
    const refreshing = a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    b.coordinator.signOut('user');
    // A's request returns at 200 ms, before B's sign-out reaches A's copy of storage (at 550 ms):
    // A found B's note, and stored the sign-out itself.
    await vi.advanceTimersByTimeAsync(200);
    expect(await refreshing).toBeNull();
    expect(storeA!.signOutReason()).toBe('otherTab');
    await vi.advanceTimersByTimeAsync(2000);

    expect({ a: summary(storeA!, a), b: summary(storeB!, b) }).toEqual({
      a: { stored: null, tabs: [null] },
      b: { stored: null, tabs: [null] },
    });
    expect(endpoint.revoked).toEqual(['rt-1']);
    expect(refreshEvents(a, b)).toEqual([]);
  });

  it('followed by a new sign-in: the late refresh is revoked and the new session kept', async () => {
    const store = createMemoryStore();
    const { endpoint, a, b } = twoTabs(tokenEndpoint(), [store]);
    const refreshing = a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    b.coordinator.signOut('user');
    b.coordinator.publish({ ...signedIn(), accessToken: jwt(Date.now(), 99), refreshToken: 'rt-new' });
    await vi.advanceTimersByTimeAsync(500);
    expect((await refreshing)?.refreshToken).toBe('rt-new');

    expect(summary(store, a, b)).toEqual({ stored: 'rt-new', tabs: ['rt-new', 'rt-new'] });
    expect(endpoint.revoked).toEqual(['rt-1']);
    expect(refreshEvents(a, b)).toEqual([]);
  });

  it('in legacy SSO (nothing to revoke): the refreshed token is neither stored nor reported', async () => {
    const legacy = (session: StoredSession): StoredSession => ({ ...session, mode: 'legacy', refreshToken: null });
    const refreshed: string[] = [];
    const refresh = async (session: StoredSession) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const now = Date.now();
      const token = jwt(now, refreshed.push(session.accessToken));
      return legacy({ ...session, accessToken: token, receivedAt: now, expiresAt: now + HOUR });
    };
    const revoke = vi.fn(async () => {});
    const store = createMemoryStore();
    const lock = createMemoryLock();
    const hub = createMemoryChannelHub();
    const a = tab(store, lock, hub, tokenEndpoint().fetch, { refresh, revoke });
    const b = tab(store, lock, hub, tokenEndpoint().fetch, { refresh, revoke });
    a.coordinator.start();
    b.coordinator.start();
    a.coordinator.publish(legacy(signedIn()));
    const refreshing = a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    b.coordinator.signOut('user');
    await vi.advanceTimersByTimeAsync(500);

    expect(await refreshing).toBeNull();
    expect(refreshed).toHaveLength(1);
    expect([store.read(), a.coordinator.session, b.coordinator.session]).toEqual([null, null, null]);
    expect(refreshEvents(a, b)).toEqual([]);
    expect(revoke).not.toHaveBeenCalled();
  });
});

/**
 * One store per tab, each a copy that sees the other tabs' writes `lagMs` late: how Chromium's
 * renderer processes each cache `localStorage`.
 */
function laggingStores(count: number, lagMs: number): SessionStore[] {
  const copies = Array.from({ length: count }, () => createMemoryStore());
  const elsewhere = (i: number, apply: (copy: SessionStore) => void) => copies.forEach((copy, j) => j !== i && setTimeout(() => apply(copy), lagMs));
  return copies.map((own, i) => ({
    ...own,
    write(session) {
      own.write(session);
      elsewhere(i, (copy) => copy.write(session));
    },
    clear(reason) {
      own.clear(reason);
      elsewhere(i, (copy) => copy.clear(reason));
    },
  }));
}

function mapStorage(): Storage {
  const map = new Map<string, string>();
  return {
    get length() {
      return map.size;
    },
    clear: () => map.clear(),
    getItem: (key) => map.get(key) ?? null,
    key: (i) => [...map.keys()][i] ?? null,
    removeItem: (key) => void map.delete(key),
    setItem: (key, value) => void map.set(key, value),
  };
}
