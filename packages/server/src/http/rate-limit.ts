import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { RateLimitedError } from '../errors.ts';
import type { Storage } from '../storage/port.ts';
import type { App } from './app.ts';

export type RateLimitGroup = 'login' | 'token' | 'admin';

/**
 * The routes each limit covers (Hono patterns). Login: where a sign-in starts or an IdP answer
 * lands. Token: grants, refreshes and everything that checks a token or an account auth token.
 * Admin: the admin API and console sign-in (admin key guessing).
 */
export const RATE_LIMITED_ROUTES: Record<RateLimitGroup, string[]> = {
  login: [
    '/v1/Flex/Authorize',
    '/login/callback',
    '/login/oidc/callback',
    '/oauth2/authorize',
    '/v1/Accounts/:accountSid/authenticate',
    '/v1/Accounts/:accountSid/saml2',
  ],
  token: [
    '/v1/Flex/OAuth/Tokens',
    '/oauth2/token',
    '/oauth2/revoke',
    '/oauth2/introspect',
    '/oauth2/userinfo',
    '/v1/Accounts/:accountSid/Tokens/refresh',
    '/v1/Accounts/:accountSid/Tokens/validate',
    '/v1/Accounts/:accountSid/Tokens/Info',
    '/v1/Configuration',
  ],
  admin: ['/admin/v1/*', '/console/session', '/console/test-sign-in', '/console/test-sign-in/*'],
};

const KIND = 'rate_limit';
const WINDOW_MS = 60_000;

interface Counter {
  count: number;
}

/**
 * Fixed one-minute windows per client address and route group, counted in storage: every node
 * behind a load balancer shares one count, so adding nodes does not multiply an attacker's
 * budget. A counter is one row per client, group and minute, expiring with its window. Each
 * counted request is one short transaction; once a client is over its limit, refusals are a
 * single read and write nothing.
 */
export class RateLimiter {
  constructor(
    private readonly storage: Storage,
    /** Requests per minute per client; 0 turns a group's limit off. */
    private readonly limits: Record<RateLimitGroup, number>,
  ) {}

  /** Counts one request of `client` to `group`; throws RateLimitedError (429) beyond the limit. */
  async hit(group: RateLimitGroup, client: string, now = Date.now()): Promise<void> {
    const limit = this.limits[group];
    if (limit <= 0) return;
    const windowStart = now - (now % WINDOW_MS);
    const id = `${group}|${client}|${windowStart}`;
    const expiresAt = windowStart + WINDOW_MS;
    const refuse = () => new RateLimitedError(Math.max(1, Math.ceil((expiresAt - now) / 1000)));

    const seen = await this.storage.find<Counter>(KIND, id);
    if (seen && seen.payload.count >= limit) throw refuse();
    const count = await this.storage.transaction(async (tx) => {
      // The insert settles a race for the first request of a window; later ones lock the row.
      if (await tx.insert<Counter>({ kind: KIND, id, payload: { count: 1 }, expiresAt })) return 1;
      const current = await tx.find<Counter>(KIND, id, { forUpdate: true });
      const next = (current?.payload.count ?? 0) + 1;
      if (next <= limit) await tx.upsert<Counter>({ kind: KIND, id, payload: { count: next }, expiresAt });
      return next;
    });
    if (count > limit) throw refuse();
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
    const forwarded = c.req
      .header('x-forwarded-for')
      ?.split(',')
      .map((part) => part.trim())
      .filter(Boolean)
      .at(-1);
    if (forwarded) return normalizeAddress(forwarded);
  }
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return normalizeAddress(incoming?.socket?.remoteAddress ?? 'unknown');
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

/** Puts each group's limit in front of its routes (registered before the route modules). */
export function registerRateLimits(app: App, storage: Storage, options: { limits: Record<RateLimitGroup, number>; trustProxy: boolean }): void {
  const limiter = new RateLimiter(storage, options.limits);
  for (const group of Object.keys(RATE_LIMITED_ROUTES) as RateLimitGroup[]) {
    if (options.limits[group] <= 0) continue;
    // `/x/*` also matches `/x`: a request that matches two patterns of a group counts once.
    const counted = new WeakSet<Request>();
    const middleware: MiddlewareHandler = async (c, next) => {
      // CORS preflights carry no credentials and do no work.
      if (c.req.method !== 'OPTIONS' && !counted.has(c.req.raw)) {
        counted.add(c.req.raw);
        await limiter.hit(group, clientAddress(c, options.trustProxy));
      }
      await next();
    };
    for (const path of RATE_LIMITED_ROUTES[group]) app.use(path, middleware);
  }
}
