import { Hono, type Env } from 'hono';
import { randomUUID } from 'node:crypto';
import type { LanyardConfig } from '../config.ts';
import { NotFoundError } from '../errors.ts';
import { respondWithError } from './error-response.ts';
import { limitRequestBody } from './request-body.ts';
import { observeRequests } from '../operations/request-observer.ts';
import type { Lifecycle } from '../operations/lifecycle.ts';
import type { Metrics } from '../operations/metrics.ts';
import type { Logger } from './logger.ts';
import type { App, AppVariables, RouteModule } from './app-types.ts';
import { setResponseHeader } from './response-headers.ts';
import { requestHeader } from './request-headers.ts';

export type { App, AppVariables, RouteModule } from './app-types.ts';

/** What the app's own middleware uses: the public URL (HSTS), logs, metrics and draining state. */
export interface AppDependencies {
  config: Pick<LanyardConfig, 'publicUrl'>;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
}

/**
 * A route module made of a Hono app of its own (the broker's, which may not name the surfaces'
 * `App` type): its routes join the app's, behind the same middleware and error pages.
 */
export function mounted<E extends Env>(routes: Hono<E>): RouteModule {
  return (app) => {
    app.route('/', routes);
  };
}

/** The assertion consumer services and the upstream OIDC callback: browsers post forms to them. */
const BROWSER_POSTS = [/^\/login\/callback$/, /^\/login\/oidc\/callback$/, /^\/v1\/Accounts\/[^/]+\/saml2$/];

const DEFAULT_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'; base-uri 'none'";

/** One Hono app for every surface; route modules register themselves on it. */
export function createApp(services: AppDependencies, modules: RouteModule[]): App {
  const app: App = new Hono<{ Variables: AppVariables }>();
  const https = services.config.publicUrl.startsWith('https:');

  // On the Node response, not through Hono (http/response-headers.ts): the answer stays a plain
  // header object to the socket. A route that needs another CSP (the console) sets its own
  // through Hono, which replaces this one.
  app.use('*', async (c, next) => {
    // randomUUID draws from a pooled entropy buffer; randomBytes(8) was 6 % of a lookup's profile.
    const requestId = requestHeader(c, 'x-request-id')?.slice(0, 64) || randomUUID().replace(/-/g, '').slice(0, 16);
    c.set('requestId', requestId);
    setResponseHeader(c, 'X-Request-Id', requestId);
    setResponseHeader(c, 'X-Content-Type-Options', 'nosniff');
    setResponseHeader(c, 'Referrer-Policy', 'no-referrer');
    setResponseHeader(c, 'Content-Security-Policy', DEFAULT_CSP);
    setResponseHeader(c, 'X-Frame-Options', 'DENY');
    if (https) setResponseHeader(c, 'Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
  });
  app.use('*', observeRequests(services));
  // Pages a browser posts to: marked before the body limit, so that its 413 is a page too.
  app.use('*', async (c, next) => {
    if (c.req.method === 'POST' && BROWSER_POSTS.some((path) => path.test(c.req.path))) c.set('browserFacing', true);
    await next();
  });
  // SAML responses are the largest bodies we accept; nothing legitimate is near 1 MB.
  app.use('*', limitRequestBody());

  for (const register of modules) register(app);

  app.notFound((c) => {
    // The standard surface never quotes the client's text back (RFC 6749 error_description).
    const message = c.req.path.startsWith('/oauth2/')
      ? 'No such OAuth endpoint: the endpoints are listed in /.well-known/openid-configuration.'
      : `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`;
    return respondWithError(c, new NotFoundError(message), services.logger);
  });
  app.onError((error, c) => respondWithError(c, error, services.logger));
  return app;
}
