import { AuthenticationError } from '../errors.ts';
import { safeEqual } from '../crypto/random.ts';
import type { LanyardConfig } from '../config.ts';
import type { RouteModule } from '../http/app-types.ts';
import type { Storage } from '../storage/port.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Metrics } from './metrics.ts';

export interface OperationsRouteDependencies {
  storage: Storage;
  lifecycle: Lifecycle;
  metrics: Metrics;
  config: Pick<LanyardConfig, 'metricsToken'>;
}

/** Liveness, readiness and Prometheus metrics for load balancers, orchestrators and monitoring. */
export const operationsRoutes =
  ({ storage, lifecycle, metrics, config }: OperationsRouteDependencies): RouteModule =>
  (app) => {
    app.get('/healthz', (c) => c.json({ status: 'ok' }));
    app.get('/readyz', async (c) => {
      // Draining (SIGTERM): tell the load balancer to stop sending before the listener closes.
      if (lifecycle.isDraining) return c.json({ status: 'draining', database: { backend: storage.backend } }, 503, { 'Retry-After': '5' });
      // Serving, but still loading what sign-ins need (operations/warm-up.ts): a second or less.
      if (lifecycle.isWarmingUp) return c.json({ status: 'warming', database: { backend: storage.backend } }, 503, { 'Retry-After': '1' });
      const database = await storage.ping();
      return c.json(
        { status: database ? 'ready' : 'unavailable', database: { backend: storage.backend, reachable: database } },
        database ? 200 : 503,
        database ? {} : { 'Retry-After': '5' },
      );
    });
    app.get('/metrics', async (c) => {
      if (config.metricsToken !== undefined) {
        const header = c.req.header('authorization') ?? '';
        if (!header.startsWith('Bearer ') || !safeEqual(header.slice(7).trim(), config.metricsToken)) {
          c.header('WWW-Authenticate', 'Bearer realm="lanyard-metrics"');
          throw new AuthenticationError('Send LANYARD_METRICS_TOKEN as "Authorization: Bearer <token>" to read metrics.');
        }
      }
      c.header('Cache-Control', 'no-store');
      return c.body(await metrics.render(), 200, { 'Content-Type': metrics.contentType });
    });
  };
