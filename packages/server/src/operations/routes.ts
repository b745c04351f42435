import type { RouteModule } from '../http/app.ts';

/** Liveness and readiness for load balancers and orchestrators. */
export const operationsRoutes: RouteModule = (app, { storage }) => {
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const database = await storage.ping();
    return c.json({ status: database ? 'ready' : 'unavailable', database: { backend: storage.backend, reachable: database } }, database ? 200 : 503, database ? {} : { 'Retry-After': '5' });
  });
};
