import type { Context, MiddlewareHandler } from 'hono';

export type OriginPolicy = (origin: string, c: Context) => boolean | Promise<boolean>;

/**
 * CORS for endpoints a desktop on another origin calls with fetch. No cookies cross origins here
 * (tokens travel in bodies and headers), so credentials are never allowed.
 */
export function cors(policy: OriginPolicy | '*'): MiddlewareHandler {
  return async (c, next) => {
    const origin = c.req.header('origin');
    const allowed = origin !== undefined && (policy === '*' || (await policy(origin, c)));
    if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method')) {
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
    if (allowed) {
      // Through `c.header`, not `c.res.headers`: a later `c.header` (security headers) rebuilds
      // the response and would drop headers set on the old object directly (@hono/node-server).
      c.header('Access-Control-Allow-Origin', policy === '*' ? '*' : origin!);
      c.header('Vary', 'Origin', { append: true });
    }
  };
}
