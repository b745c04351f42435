import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EnhancedConfig } from './app-config.ts';
import { systemClock } from './clock.ts';
import { createLeaseLock, createMemoryChannelHub, createMemoryLock, type LockLike } from './cross-tab.ts';
import { refreshEnhanced, sessionFromTokens } from './enhanced-sso.ts';
import { NetworkError, ServerError } from './errors.ts';
import { RefreshCoordinator, refreshAt, type SignOutReason } from './refresh-coordinator.ts';
import { createMemoryStore, type SessionStore, type StoredSession } from './session-store.ts';

const AC = 'AC' + '1'.repeat(32);
const HOUR = 3600_000;
const CONFIG = {
  mode: 'enhanced',
  accountSid: AC,
  connection: 'JQ' + '2'.repeat(32),
  clientId: 'c',
  tokenUrl: 'https://sso.example.com/v1/Flex/OAuth/Tokens',
} as EnhancedConfig;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** An unsigned JWT is enough here: the SDK reads `iat` to line its clock up with the server's. */
const jwt = (iat: number, n: number) => `${b64({ alg: 'ES256' })}.${b64({ iat: Math.floor(iat / 1000), n })}.sig`;

/** The token endpoint, played by a fetch stub that counts refresh requests and rotates tokens. */
function tokenEndpoint(options: { lifetimeMs?: number; sessionEnd?: number } = {}) {
  const requests: Array<Record<string, unknown>> = [];
  let answer: ((body: Record<string, unknown>) => Response) | null = null;
  const fetch = vi.fn(async (_url: string, init: RequestInit) => {
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
  return { fetch, requests, answerWith: (f: typeof answer) => (answer = f) };
}

function signedIn(lifetimeMs = HOUR): StoredSession {
  const now = Date.now();
  return sessionFromTokens(
    {
      access_token: jwt(now, 0),
      refresh_token: 'rt-0',
      token_info: { account_sid: AC, identity: 'ada', roles: ['agent'] },
      access_token_expires_at: new Date(now + lifetimeMs).toISOString(),
      session_expires_at: new Date(now + 12 * HOUR).toISOString(),
    },
    now,
  );
}

/** One "tab": a coordinator with its own channel end, sharing the store and lock given. */
function tab(store: SessionStore, lock: LockLike, hub: ReturnType<typeof createMemoryChannelHub>, fetch: ReturnType<typeof tokenEndpoint>['fetch']) {
  const events: Array<[string, unknown]> = [];
  const coordinator = new RefreshCoordinator({
    accountSid: AC,
    store,
    lock,
    channel: hub(),
    clock: systemClock,
    refresh: (session) => refreshEnhanced(CONFIG, fetch, systemClock, session),
    onUpdate: (session, source) => events.push([source, session.refreshToken]),
    onSignedOut: (reason: SignOutReason) => events.push(['signedOut', reason]),
    onError: (error) => events.push(['error', error]),
    onLifetimeReached: () => events.push(['lifetimeReached', null]),
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
    await vi.advanceTimersByTimeAsync(5_000 + 10_000);
    expect(flaky).toHaveBeenCalledTimes(3);
    expect(a.events.filter(([kind]) => kind === 'error').every(([, e]) => e instanceof NetworkError)).toBe(true);
    down = false;
    await vi.advanceTimersByTimeAsync(20_000 + 500);
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
