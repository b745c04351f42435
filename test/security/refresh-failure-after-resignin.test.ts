import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EnhancedConfig } from '../../packages/sdk/src/app-config.ts';
import { systemClock } from '../../packages/sdk/src/clock.ts';
import { createMemoryChannelHub, createMemoryLock } from '../../packages/sdk/src/cross-tab.ts';
import { refreshEnhanced, revokeEnhanced, sessionFromTokens } from '../../packages/sdk/src/enhanced-sso.ts';
import { RefreshCoordinator, type SignOutReason } from '../../packages/sdk/src/refresh-coordinator.ts';
import { createMemoryStore, type SessionStore, type StoredSession } from '../../packages/sdk/src/session-store.ts';

/**
 * The success path of a refresh checks `superseded` (endings counter, sign-out note, storage)
 * before it stores anything; the failure path (`refreshFailed`) does not. A refresh of session S1
 * that is refused (the server answers 400 because the sign-out revoked S1) after the agent has
 * signed out and signed in again (S2) ends S2 as "revoked" and clears it in every tab.
 */

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
const jwt = (iat: number, n: number) => `${b64({ alg: 'ES256' })}.${b64({ iat: Math.floor(iat / 1000), n })}.padding-padding-sig-${n}`;

function session(n: number): StoredSession {
  const now = Date.now();
  return sessionFromTokens(
    {
      access_token: jwt(now, n),
      refresh_token: `rt-s${n}`,
      token_info: { account_sid: AC, identity: 'ada', roles: ['agent'] },
      access_token_expires_at: new Date(now + HOUR).toISOString(),
      session_expires_at: new Date(now + 12 * HOUR).toISOString(),
    },
    now,
  );
}

/** The token endpoint after the sign-out revoked S1: every refresh is refused, after 200 ms. */
const refused = vi.fn(async (url: string) => {
  if (url === CONFIG.revokeUrl) return new Response(null, { status: 200 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  return Response.json({ code: 45200, message: 'The session has been revoked.', status: 400 }, { status: 400 });
});

function tab(store: SessionStore, lock = createMemoryLock(), hub = createMemoryChannelHub()) {
  const events: Array<[string, unknown]> = [];
  const coordinator = new RefreshCoordinator({
    accountSid: AC,
    store,
    lock,
    channel: hub(),
    clock: systemClock,
    refresh: (s) => refreshEnhanced(CONFIG, refused as never, systemClock, s),
    revoke: (rt) => revokeEnhanced(CONFIG, refused as never, rt),
    onUpdate: (s, source) => events.push([source, s.refreshToken]),
    onSignedOut: (reason: SignOutReason) => events.push(['signedOut', reason]),
    onError: () => undefined,
  });
  return { coordinator, events };
}

describe('a refused refresh of an ended session must not end the next one', () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.parse('2030-01-01T08:00:00Z') }));
  afterEach(() => vi.useRealTimers());

  it('same tab: sign out and sign in again while the old refresh is in flight', async () => {
    const store = createMemoryStore();
    const a = tab(store);
    a.coordinator.start();
    a.coordinator.publish(session(1));
    const refreshing = a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    a.coordinator.signOut('user');
    const s2 = session(2);
    a.coordinator.publish(s2); // signed in again (popup sign-in, same page)
    await vi.advanceTimersByTimeAsync(500);
    await refreshing;
    expect(store.read()?.refreshToken).toBe('rt-s2');
    expect(a.coordinator.session?.refreshToken).toBe('rt-s2');
    expect(a.events.filter(([k]) => k === 'signedOut')).toEqual([['signedOut', 'user']]);
  });

  it('other tab: B signs out and in again while A refreshes the old session', async () => {
    const store = createMemoryStore();
    const lock = createMemoryLock();
    const hub = createMemoryChannelHub();
    const a = tab(store, lock, hub);
    const b = tab(store, lock, hub);
    a.coordinator.start();
    b.coordinator.start();
    a.coordinator.publish(session(1));
    const refreshing = a.coordinator.refreshNow(true);
    await vi.advanceTimersByTimeAsync(50);
    b.coordinator.signOut('user');
    b.coordinator.publish(session(2));
    await vi.advanceTimersByTimeAsync(500);
    await refreshing;
    expect(store.read()?.refreshToken).toBe('rt-s2');
    expect(b.coordinator.session?.refreshToken).toBe('rt-s2');
  });
});
