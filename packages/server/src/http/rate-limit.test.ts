import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { RateLimitedError } from '../errors.ts';
import { respondWithError } from './error-response.ts';
import { jsonLogger } from './logger.ts';
import { normalizeAddress, RateLimits, TokenBuckets } from './rate-limit.ts';
import type { App } from './app.ts';

const off = { login: 0, token: 0, admin: 0, accountSignIns: 0, userSignIns: 0, refreshFamily: 0 };

describe('TokenBuckets', () => {
  it('allows a full minute at once, then one request per refill interval, with the seconds to wait', () => {
    const buckets = new TokenBuckets(6); // one request every 10 s
    const t0 = 1_000_000;
    for (let i = 0; i < 6; i++) expect(buckets.take('192.0.2.1', t0)).toBe(0);
    expect(buckets.take('192.0.2.1', t0)).toBe(10);
    expect(buckets.take('192.0.2.1', t0 + 4_000)).toBe(6);
    expect(buckets.take('192.0.2.2', t0)).toBe(0); // another key
    expect(buckets.take('192.0.2.1', t0 + 10_000)).toBe(0); // refilled one
    expect(buckets.take('192.0.2.1', t0 + 10_001)).toBe(10);
    // A quiet minute refills the whole budget, never more.
    for (let i = 0; i < 6; i++) expect(buckets.take('192.0.2.1', t0 + 600_000)).toBe(0);
    expect(buckets.take('192.0.2.1', t0 + 600_000)).toBeGreaterThan(0);
  });

  it('counts concurrent requests exactly (no lost updates: one process, no await between read and write)', async () => {
    const buckets = new TokenBuckets(20);
    const now = Date.now();
    const results = await Promise.all(Array.from({ length: 30 }, async () => buckets.take('198.51.100.7', now)));
    expect(results.filter((wait) => wait === 0)).toHaveLength(20);
  });

  it('forgets refilled buckets on sweep (memory stays bounded by active clients)', () => {
    const buckets = new TokenBuckets(60);
    buckets.take('a', 0);
    buckets.take('b', 59_500);
    buckets.sweep(60_000);
    expect(buckets.size).toBe(1); // 'a' refilled long ago; 'b' is still half a request short
  });

  it('0 turns a budget off', () => {
    const buckets = new TokenBuckets(0);
    for (let i = 0; i < 100; i++) expect(buckets.take('x', 0)).toBe(0);
  });
});

describe('RateLimits', () => {
  it('refuses with RateLimitedError naming the budget that ran out', () => {
    const limits = new RateLimits({ ...off, refreshFamily: 2, accountSignIns: 1 }, false);
    limits.take('refreshFamily', 'ses_1', 0);
    limits.take('refreshFamily', 'ses_1', 0);
    const refused = (() => {
      try {
        limits.take('refreshFamily', 'ses_1', 0);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfterSeconds).toBe(30);
    expect((refused as Error).message).toMatch(/^Too many requests; retry after 30 seconds\. This session's refresh token/);
    // Budgets and keys are separate: another session, or another budget of the same key, is untouched.
    limits.take('refreshFamily', 'ses_2', 0);
    limits.take('accountSignIns', 'ses_1', 0);
    expect(() => limits.take('accountSignIns', 'ses_1', 0)).toThrow(/sign-ins started for this account.*LANYARD_RATE_LIMIT_ACCOUNT_SIGN_INS/);
  });

  it('charges the per-address budget a route declares, skips preflights, and reads the address the proxy appended', async () => {
    const limits = new RateLimits({ ...off, admin: 2 }, true);
    const app: App = new Hono();
    app.on(['POST', 'OPTIONS'], '/console/test-sign-in', limits.route('admin'), (c) => c.text('ok'));
    app.get('/free', limits.route('login'), (c) => c.text('ok')); // login: 0, no limit
    app.onError((error, c) => respondWithError(c, error, jsonLogger('silent')));
    const call = (path: string, method = 'POST', forwarded = '10.0.0.1, 192.0.2.50') =>
      app.request(path, { method, headers: { 'x-forwarded-for': forwarded } });
    expect((await call('/console/test-sign-in')).status).toBe(200);
    expect((await call('/console/test-sign-in', 'OPTIONS')).status).toBe(200);
    expect((await call('/console/test-sign-in')).status).toBe(200);
    const refused = await call('/console/test-sign-in');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({
      code: 20429,
      status: 429,
      message: expect.stringMatching(/^Too many requests; retry after \d+ seconds\.$/),
    });
    // The client is the proxy's last entry, not what the client wrote in front of it.
    expect((await call('/console/test-sign-in', 'POST', '192.0.2.50, 192.0.2.51')).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await call('/free', 'GET')).status).toBe(200);
  });
});

describe('the default configuration', () => {
  const config = loadConfig({});
  const defaults = () => RateLimits.fromConfig({ ...config, trustProxy: false });

  it('lets a shift change through: 2,000 agents from one address in 60 s, on one node or three behind round robin', () => {
    for (const nodes of [1, 3]) {
      const cluster = Array.from({ length: nodes }, defaults);
      let request = 0;
      const at = (node: number) => cluster[node % nodes]!;
      for (let agent = 0; agent < 2_000; agent++) {
        const now = 1_000_000 + agent * 30; // evenly over 60 s
        // authorize (login, account), ACS (login, user), token (token, and later its refreshes).
        at(request++).take('login', '203.0.113.7', now);
        at(request - 1).take('accountSignIns', 'AC1', now);
        at(request++).take('login', '203.0.113.7', now);
        at(request - 1).take('userSignIns', `FU${agent}`, now);
        at(request++).take('token', '203.0.113.7', now);
      }
    }
  });

  it('still stops a flood from one address and a session hammering refresh', () => {
    const limits = defaults();
    const refused = (take: () => void) => {
      try {
        take();
        return false;
      } catch {
        return true;
      }
    };
    let passed = 0;
    while (!refused(() => limits.take('token', '198.51.100.1', 0)) && passed < 1_000_000) passed++;
    expect(passed).toBe(config.rateLimitTokenPerMinute);
    passed = 0;
    while (!refused(() => limits.take('refreshFamily', 'ses_x', 0)) && passed < 1_000) passed++;
    expect(passed).toBe(config.rateLimitRefreshFamilyPerMinute);
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
