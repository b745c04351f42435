import { Hono, type Env } from 'hono';
import { randomIdBytes } from '../crypto/random.ts';
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

/**
 * The headers every answer carries besides its request id, as a flat `[name, value, …]` list
 * (the form `ServerResponse.writeHead` takes): no sniffing, no referrer, the default CSP, no
 * framing, and HSTS when the public URL is https (RFC 6797 §7.2: never over plain http).
 */
export function baseResponseHeaders(config: Pick<LanyardConfig, 'publicUrl'>): readonly string[] {
  return [
    'X-Content-Type-Options',
    'nosniff',
    'Referrer-Policy',
    'no-referrer',
    'Content-Security-Policy',
    DEFAULT_CSP,
    'X-Frame-Options',
    'DENY',
    ...(config.publicUrl.startsWith('https:') ? ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] : []),
  ];
}

/**
 * The request id an answer and its log line carry: the client's `X-Request-Id` (its first 64
 * characters) when it sent one, else 16 random hex digits from the pooled CSPRNG
 * (crypto/random.ts): `randomBytes(8)` was 6 % of a lookup's profile.
 */
export function requestIdFrom(header: string | undefined): string {
  return header?.slice(0, 64) || randomIdBytes(8).toString('hex');
}

/** One Hono app for every surface; route modules register themselves on it. */
export function createApp(services: AppDependencies, modules: RouteModule[]): App {
  const app: App = new Hono<{ Variables: AppVariables }>();

  // On the Node response, not through Hono (http/response-headers.ts): the answer stays a plain
  // header object to the socket. A route that needs another CSP (the console) sets its own
  // through Hono, which replaces this one.
  const baseHeaders = baseResponseHeaders(services.config);
  app.use('*', async (c, next) => {
    const requestId = requestIdFrom(requestHeader(c, 'x-request-id'));
    c.set('requestId', requestId);
    setResponseHeader(c, 'X-Request-Id', requestId);
    for (let i = 0; i < baseHeaders.length; i += 2) setResponseHeader(c, baseHeaders[i]!, baseHeaders[i + 1]!);
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
