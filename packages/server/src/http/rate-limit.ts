import type { Context, MiddlewareHandler } from 'hono';
import type { LanyardConfig } from '../config.ts';
import { RateLimitedError } from '../errors.ts';
import { nodeRequestOf, requestHeader } from './request-headers.ts';

/**
 * The per-address budgets a route can declare, beside itself (`app.post(path, limits.route('token'), …)`).
 * Login: where a sign-in starts or an IdP answer lands. Token: grants, refreshes and everything
 * that checks a token or an account auth token. Admin: the admin API and console sign-in.
 */
export type RouteGroup = 'login' | 'token' | 'admin';

/** Budgets keyed by something other than the address: they stop guessing and runaway clients. */
export type KeyedBudget = 'accountSignIns' | 'userSignIns' | 'refreshFamily';

export type Budget = RouteGroup | KeyedBudget;

/** Requests per minute and node for each budget; 0 turns one off. */
export type RateLimitSettings = Record<Budget, number>;

const WHY: Record<KeyedBudget, string> = {
  accountSignIns: 'Too many sign-ins started for this account in a minute (LANYARD_RATE_LIMIT_ACCOUNT_SIGN_INS).',
  userSignIns: 'This user signed in too many times in a minute (LANYARD_RATE_LIMIT_USER_SIGN_INS).',
  refreshFamily:
    "This session's refresh token was presented too many times in a minute; refresh once per access-token lifetime (LANYARD_RATE_LIMIT_REFRESH_FAMILY).",
};

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Keys kept per budget at most; the oldest untouched key goes first (it then starts full). */
const MAX_KEYS = 100_000;

/**
 * A token bucket per key, in this process's memory: `perMinute` requests refill evenly over a
 * minute, and a full bucket allows that many at once. No database write per request.
 *
 * Across nodes each process counts alone: a client spread over N nodes gets at most N × the
 * budget (each node's share is the whole configured budget). That is the documented bound.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
  }

  private level(key: string, now: number): Bucket {
    const bucket = this.buckets.get(key);
    if (!bucket) return { tokens: this.perMinute, updatedAt: now };
    const tokens = Math.min(this.perMinute, bucket.tokens + Math.max(0, now - bucket.updatedAt) * this.perMs);
    return { tokens, updatedAt: now };
  }

  /** Seconds until one request is allowed again (0: allowed now). */
  waitSeconds(key: string, now = this.now()): number {
    if (this.perMinute <= 0) return 0;
    const { tokens } = this.level(key, now);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000));
  }

  /** Spends one request of `key`'s budget; returns the seconds to wait instead when there is none left. */
  take(key: string, now = this.now()): number {
    if (this.perMinute <= 0) return 0;
    const bucket = this.level(key, now);
    if (bucket.tokens < 1) return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000));
    bucket.tokens -= 1;
    // Re-inserted, so the Map's order is least recently used first.
    this.buckets.delete(key);
    if (this.buckets.size >= MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(key, bucket);
    return 0;
  }

  /** Forgets buckets that have refilled: they behave exactly like absent ones. */
  sweep(now = this.now()): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * this.perMs >= this.perMinute) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** Every budget of one node, and the route middleware that charges the per-address ones. */
export class RateLimits {
  private readonly budgets: Map<Budget, TokenBuckets>;

  constructor(
    readonly settings: RateLimitSettings,
    private readonly trustProxy: boolean,
    now: () => number = Date.now,
  ) {
    this.budgets = new Map(Object.entries(settings).map(([budget, perMinute]) => [budget as Budget, new TokenBuckets(perMinute, now)]));
  }

  /** The budgets of a validated configuration (`LANYARD_RATE_LIMIT_*`), per minute and node. */
  static fromConfig(config: LanyardConfig): RateLimits {
    return new RateLimits(
      {
        login: config.rateLimitLoginPerMinute,
        token: config.rateLimitTokenPerMinute,
        admin: config.rateLimitAdminPerMinute,
        accountSignIns: config.rateLimitAccountSignInsPerMinute,
        userSignIns: config.rateLimitUserSignInsPerMinute,
        refreshFamily: config.rateLimitRefreshFamilyPerMinute,
      },
      config.trustProxy,
    );
  }

  private bucketsOf(budget: Budget): TokenBuckets {
    return this.budgets.get(budget)!;
  }

  /** Charges one request to `key` under `budget`; throws RateLimitedError (429, Retry-After) when spent. */
  take(budget: Budget, key: string, now?: number): void {
    const wait = this.bucketsOf(budget).take(key, now);
    if (wait > 0) throw new RateLimitedError(wait, budget in WHY ? WHY[budget as KeyedBudget] : undefined);
  }

  /** A route's per-address budget, as Hono middleware placed in the route's own registration. */
  route(group: RouteGroup): MiddlewareHandler {
    if (this.settings[group] <= 0) return (_c, next) => next();
    return async (c, next) => {
      // CORS preflights carry no credentials and do no work.
      if (c.req.method !== 'OPTIONS') this.take(group, clientAddress(c, this.trustProxy));
      await next();
    };
  }

  sweep(now?: number): void {
    for (const buckets of this.budgets.values()) buckets.sweep(now);
  }
}

/**
 * The client a request counts against. The socket's address, unless LANYARD_TRUST_PROXY says a
 * reverse proxy is in front: then the last X-Forwarded-For entry, the one our proxy appended
 * (entries before it are whatever the client chose to send). IPv6 clients count per /64, the
 * block one subscriber usually holds.
 */
export function clientAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = requestHeader(c, 'x-forwarded-for')
      ?.split(',')
      .map((part) => part.trim())
      .filter(Boolean)
      .at(-1);
    if (forwarded) return normalizeAddress(forwarded);
  }
  return normalizeAddress(nodeRequestOf(c)?.socket?.remoteAddress ?? 'unknown');
}

export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
