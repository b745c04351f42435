import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Logger } from '../http/logger.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Metrics } from './metrics.ts';
import { setResponseHeader } from '../http/response-headers.ts';

/**
 * One structured log line and one latency observation per request. The route is the registered
 * pattern (`/v1/Accounts/:accountSid/saml2`), never the URL: query strings carry codes, states
 * and SAML payloads, and bodies carry tokens, so neither is ever logged.
 */
export function observeRequests(deps: { logger: Logger; metrics: Metrics; lifecycle: Lifecycle }): MiddlewareHandler {
  const { lifecycle } = deps;
  const record = requestRecorder(deps);
  return async (c, next) => {
    const started = performance.now();
    lifecycle.requestStarted();
    try {
      await next();
    } finally {
      lifecycle.requestFinished();
      // While draining, kept-alive clients are told to reconnect (to another node).
      if (lifecycle.isDraining) setResponseHeader(c, 'Connection', 'close');
      record(c.get('requestId') as string, c.req.method, routeOf(c), c.res.status, started);
    }
  };
}

/**
 * Records one finished request: its latency in `lanyard_http_request_duration_seconds` and one
 * `request` log line (only failures for the probes). Shared by the app's middleware and the
 * routes answered before the app (http/direct-routes.ts), so both observe alike.
 *
 * @param route the registered pattern, never the URL
 * @param startedMs `performance.now()` when the request arrived, in milliseconds
 */
export type RequestRecorder = (requestId: string, method: string, route: string, status: number, startedMs: number) => void;

export function requestRecorder(deps: { logger: Logger; metrics: Metrics }): RequestRecorder {
  const { logger, metrics } = deps;
  return (requestId, method, route, status, startedMs) => {
    const seconds = (performance.now() - startedMs) / 1000;
    metrics.httpDuration.observe({ route, method, status: `${Math.floor(status / 100)}xx` }, seconds);
    // Balancers and Prometheus poll these every few seconds: log them only when they fail.
    if (status >= 400 || !PROBES.has(route)) {
      logger.info('request', { request_id: requestId, method, route, status, duration_ms: Math.round(seconds * 100_000) / 100 });
    }
  };
}

const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

/** The pattern of the handler that answered; middleware-only matches (404s) are `unmatched`. */
function routeOf(c: Context): string {
  const handlers = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return handlers.at(-1)?.path ?? 'unmatched';
}
