import type { Context, MiddlewareHandler } from 'hono';
import { setResponseHeader } from './response-headers.ts';
import { requestHeader } from './request-headers.ts';

export type OriginPolicy = (origin: string, c: Context) => boolean | Promise<boolean>;

/**
 * CORS for endpoints a desktop on another origin calls with fetch. No cookies cross origins here
 * (tokens travel in bodies and headers), so credentials are never allowed. `'*'`: every answer
 * carries `Access-Control-Allow-Origin: *`; a policy: an allowed Origin is echoed, with
 * `Vary: Origin`.
 */
export function cors(policy: OriginPolicy | '*'): MiddlewareHandler {
  return async (c, next) => {
    const origin = requestHeader(c, 'origin');
    const allowed = origin !== undefined && (policy === '*' || (await policy(origin, c)));
    if (c.req.method === 'OPTIONS' && requestHeader(c, 'access-control-request-method')) {
      if (!allowed) return c.body(null, 403);
      return c.body(null, 204, {
        'Access-Control-Allow-Origin': policy === '*' ? '*' : origin!,
        'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, Authorization',
        'Access-Control-Max-Age': '600',
        Vary: 'Origin',
      });
    }
    await next();
    if (policy === '*') {
      // The same for every request, with an Origin or without: a shared cache may keep a public
      // answer (the lookup's `max-age=60`) fetched without one and serve it to a browser.
      setResponseHeader(c, 'Access-Control-Allow-Origin', '*');
    } else if (allowed) {
      setResponseHeader(c, 'Access-Control-Allow-Origin', origin!);
      setResponseHeader(c, 'Vary', 'Origin', { append: true });
    }
  };
}
