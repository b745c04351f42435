import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../errors.ts';
import { SqliteStorage } from '../storage/sqlite.ts';
import { respondWithError } from './error-response.ts';
import { jsonLogger } from './logger.ts';
import { normalizeAddress, RateLimiter, registerRateLimits } from './rate-limit.ts';
import type { App } from './app.ts';

/** The start of a minute shortly ahead of the clock, so counters are not expired on arrival. */
const nextMinute = () => (Math.floor(Date.now() / 60_000) + 2) * 60_000;

describe('RateLimiter', () => {
  const storage = new SqliteStorage(':memory:');
  afterEach(() => storage.sweepExpired(Number.MAX_SAFE_INTEGER));

  it('allows the limit within a window, refuses beyond it with the seconds left, and starts again next window', async () => {
    const limiter = new RateLimiter(storage, { login: 3, token: 0, admin: 1 });
    const start = nextMinute() + 40_000; // 40 s into a minute (a future one: records expire in real time)
    for (let i = 0; i < 3; i++) await limiter.hit('login', '192.0.2.1', start + i);
    const refused = await limiter.hit('login', '192.0.2.1', start + 10).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfterSeconds).toBe(20);
    await limiter.hit('login', '192.0.2.2', start + 11); // another client
    await limiter.hit('admin', '192.0.2.1', start + 12); // another group
    await limiter.hit('login', '192.0.2.1', start + 20_000); // the next minute
    await expect(limiter.hit('login', '192.0.2.1', start + 11)).rejects.toThrow(/retry after 20 seconds/);
    for (let i = 0; i < 50; i++) await limiter.hit('token', '192.0.2.1', start + i); // 0: no limit
  });

  it('counts concurrent requests exactly (no lost updates)', async () => {
    const limiter = new RateLimiter(storage, { login: 20, token: 0, admin: 0 });
    const now = nextMinute() + 120_000;
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => limiter.hit('login', '198.51.100.7', now)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
  });
});

describe('normalizeAddress', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6 and counts IPv6 per /64', () => {
    expect(normalizeAddress('203.0.113.9')).toBe('203.0.113.9');
    expect(normalizeAddress('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(normalizeAddress('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(normalizeAddress('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(normalizeAddress('::1')).toBe('0:0:0:0::/64');
  });
});

describe('registerRateLimits', () => {
  it('counts a request once even where two patterns of a group match, and skips preflights', async () => {
    const storage = new SqliteStorage(':memory:');
    const app: App = new Hono();
    registerRateLimits(app, storage, { limits: { login: 0, token: 0, admin: 2 }, trustProxy: true });
    app.all('*', (c) => c.text('ok'));
    app.onError((error, c) => respondWithError(c, error, jsonLogger('silent')));
    const call = (path: string, method = 'POST') => app.request(path, { method, headers: { 'x-forwarded-for': '10.0.0.1, 192.0.2.50' } });
    expect((await call('/console/test-sign-in')).status).toBe(200);
    expect((await call('/console/test-sign-in', 'OPTIONS')).status).toBe(200);
    expect((await call('/console/test-sign-in')).status).toBe(200);
    const refused = await call('/console/test-sign-in');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ code: 20429, status: 429, message: expect.stringMatching(/Too many requests/) });
    // The client is the proxy's last entry, not what the client wrote in front of it.
    const other = await app.request('/console/test-sign-in', { method: 'POST', headers: { 'x-forwarded-for': '10.0.0.1, 192.0.2.51' } });
    expect(other.status).toBe(200);
  });
});
