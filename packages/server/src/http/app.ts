import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { randomBytes } from 'node:crypto';
import type { Services } from '../services.ts';
import { NotFoundError } from '../errors.ts';
import { respondWithError } from './error-response.ts';
import { registerRateLimits } from './rate-limit.ts';
import { observeRequests } from '../operations/request-observer.ts';

export interface AppVariables {
  requestId: string;
  browserFacing: boolean;
  oauthErrors: boolean;
}

export type App = Hono<{ Variables: AppVariables }>;
export type RouteModule = (app: App, services: Services) => void;

/** One Hono app for every surface; route modules register themselves on it. */
export function createApp(services: Services, modules: RouteModule[]): App {
  const app: App = new Hono<{ Variables: AppVariables }>();
  const https = services.config.publicUrl.startsWith('https:');

  app.use('*', async (c, next) => {
    c.set('requestId', c.req.header('x-request-id')?.slice(0, 64) || randomBytes(8).toString('hex'));
    await next();
    c.header('X-Request-Id', c.get('requestId'));
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    if (!c.res.headers.has('Content-Security-Policy')) {
      c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'; base-uri 'none'");
    }
    c.header('X-Frame-Options', 'DENY');
    if (https) c.header('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  });
  app.use('*', observeRequests(services));
  // SAML responses are the largest bodies we accept; nothing legitimate is near 1 MB.
  app.use('*', bodyLimit({ maxSize: 1024 * 1024, onError: () => { throw Object.assign(new Error('too large'), { status: 413 }); } }));

  const { config } = services;
  registerRateLimits(app, services.storage, {
    limits: { login: config.rateLimitLoginPerMinute, token: config.rateLimitTokenPerMinute, admin: config.rateLimitAdminPerMinute },
    trustProxy: config.trustProxy,
  });

  for (const register of modules) register(app, services);

  app.notFound((c) => respondWithError(c, new NotFoundError(`No route for ${c.req.method} ${new URL(c.req.url).pathname}.`), services.logger));
  app.onError((error, c) => respondWithError(c, error, services.logger));
  return app;
}
