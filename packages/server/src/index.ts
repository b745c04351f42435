import { getRequestListener } from '@hono/node-server';
import { adminRoutes } from './admin/routes.ts';
import { consoleRoutes } from './console/routes.ts';
import { RelayStateHandlers } from './login/relay-states.ts';
import { createApp, mounted } from './http/app.ts';
import type { RouteModule } from './http/app-types.ts';
import { flexRoutes } from './flex/routes.ts';
import { desktopApiRoutes } from './flex/desktop-api.ts';
import { legacyRoutes } from './legacy/routes.ts';
import { loginRoutes } from './login/routes.ts';
import { readBodyBytes } from './http/request-body.ts';
import { oidcRoutes } from './oidc/routes.ts';
import { operationsRoutes } from './operations/routes.ts';
import { createServices, type ServiceOptions, type Services } from './services.ts';
import type { LanyardConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { createServer, type Server } from 'node:http';
import { withDirectRoutes, type DirectRoute } from './http/direct-routes.ts';
import { directLookup } from './flex/lookup-direct.ts';
import { LOOKUP_PATH } from './flex/lookup.ts';
import { requestRecorder } from './operations/request-observer.ts';
import { warmUpNode } from './operations/warm-up.ts';

export { loadConfig, type LanyardConfig } from './config.ts';
export * from './errors.ts';
export type { Services } from './services.ts';

/**
 * Every route module of the server, each given only the services it uses: this list is where a
 * reader sees which surface depends on what (the OIDC surface on the login broker, …).
 */
export function routeModules(s: Services): RouteModule[] {
  const { config, logger, storage, accounts, clients, users, keys, accessTokens, tokens, login, legacy, spKeys, audit } = s;
  const { adminKeys, metrics, lifecycle, rateLimits } = s;
  // Features that share the broker's ACSs (the console's test sign-in) register their RelayStates here.
  const relayStates = new RelayStateHandlers();
  return [
    operationsRoutes({ storage, lifecycle, metrics, config }),
    flexRoutes({ accounts, login, tokens, logger, rateLimits }),
    desktopApiRoutes({ accounts, tokens, config, rateLimits }),
    legacyRoutes({ legacy, rateLimits, relayStates }),
    mounted(loginRoutes({ login, accounts, spKeys, config, storage, rateLimits, relayStates, readBody: readBodyBytes })),
    oidcRoutes({ accounts, clients, users, keys, accessTokens, tokens, login, storage, config, rateLimits }),
    adminRoutes({ accounts, clients, users, keys, accessTokens, tokens, spKeys, audit, adminKeys, storage, config, rateLimits }),
    consoleRoutes({ config, logger, storage, adminKeys, rateLimits, accounts, audit, login, relayStates }),
  ];
}

/**
 * The routes answered before the app, by path (http/direct-routes.ts): the public lookup from its
 * cache. `startLanyard` puts them in front of the app; a test can do the same with its own server.
 */
export function directRoutesOf(services: Services, config: Pick<LanyardConfig, 'publicUrl'>): Map<string, DirectRoute> {
  const record = requestRecorder(services);
  return new Map([[LOOKUP_PATH, directLookup({ accounts: services.accounts, config, lifecycle: services.lifecycle, record })]]);
}

export interface Lanyard {
  services: Services;
  app: ReturnType<typeof createApp>;
  /** The public base URL (LANYARD_PUBLIC_URL), its port filled in when listening on port 0; not always where it listens (behind a proxy). */
  url: string;
  close(): Promise<void>;
}

/** Builds the services and the app; `listen` starts the HTTP server. */
export async function createLanyard(config: LanyardConfig, options: ServiceOptions = {}): Promise<Omit<Lanyard, 'url'>> {
  const services = await createServices(config, options);
  const app = createApp(services, routeModules(services));
  return {
    services,
    app,
    async close() {
      await services.samlVerification.close();
      await services.keys.settled();
      await services.storage.close();
    },
  };
}

export async function startLanyard(config: LanyardConfig, options: ServiceOptions = {}): Promise<Lanyard> {
  // Listen first: with port 0 the public URL (issuer, ACS URLs) is known only once bound.
  // Until the services are up (a migration may wait for a long transaction): the process is alive
  // (/healthz 200, so a liveness probe does not restart it) but not ready (503 everywhere else).
  let handle: (request: Request, env: unknown) => Response | Promise<Response> = (request) =>
    new URL(request.url).pathname === '/healthz'
      ? Response.json({ status: 'starting' })
      : Response.json({ status: 'starting' }, { status: 503, headers: { 'Retry-After': '1' } });
  // Answered before the app once the services are up (http/direct-routes.ts).
  const directRoutes = new Map<string, DirectRoute>();
  // Reported through the services' logger once they exist (a route is set only then).
  const directRouteFailures: { report?: (message: string) => void } = {};
  const server: Server = await new Promise((resolve, reject) => {
    // The env carries the Node request (`incoming`): the client's socket address for rate limits.
    const toApp = getRequestListener((request, env) => handle(request, env), { hostname: config.host });
    const s = createServer(
      withDirectRoutes(directRoutes, toApp, (error) => directRouteFailures.report?.((error as Error)?.message ?? String(error))),
    );
    s.keepAliveTimeout = config.keepAliveTimeoutSeconds * 1000;
    s.headersTimeout = config.headersTimeoutSeconds * 1000;
    s.once('error', (error) => reject(listenFailure(error as NodeJS.ErrnoException, config)));
    s.listen(config.port, config.host, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const boundConfig = config.port === 0 ? { ...config, port, publicUrl: config.publicUrl.replace(/:0$/, `:${port}`) } : config;
  // Readiness does not wait for a fresh database's RS256 key (RSA-2048 generation, 50–500 ms):
  // it is created in the background, and ID-token signing and JWKS wait for it.
  const { services, app } = await createLanyard(boundConfig, { deferredSigningKeys: ['RS256'], ...options }).catch(async (error: unknown) => {
    server.close();
    throw error;
  });
  // Serving from here; ready for a balancer once warm (operations/warm-up.ts): the workers and
  // modules load after start-up, which stays short, and before a balancer sends sign-ins, which
  // otherwise queue behind the loading (a shift change's first seconds).
  services.lifecycle.startWarmUp();
  handle = app.fetch;
  directRouteFailures.report = (message) => services.logger.warn('a direct route failed; the app answered', { error: message });
  for (const [path, route] of directRoutesOf(services, boundConfig)) directRoutes.set(path, route);
  setImmediate(() => void warmUpNode(services));
  const sweeper = setInterval(() => {
    services.rateLimits.sweep();
    void services.storage.sweepExpired().catch(() => undefined);
  }, 60_000);
  sweeper.unref();
  const metadataRefresher =
    boundConfig.metadataRefreshMinutes > 0
      ? setInterval(() => void refreshMetadata(services), boundConfig.metadataRefreshMinutes * 60_000)
      : undefined;
  metadataRefresher?.unref();
  let closing: Promise<void> | undefined;
  return {
    services,
    app,
    url: boundConfig.publicUrl,
    /** Graceful: stop accepting, let in-flight requests finish (bounded), then close storage. */
    close() {
      closing ??= shutdown();
      return closing;
    },
  };

  async function shutdown(): Promise<void> {
    clearInterval(sweeper);
    if (metadataRefresher) clearInterval(metadataRefresher);
    const { lifecycle, logger } = services;
    lifecycle.startDraining();
    // Stops accepting connections and closes idle kept-alive ones; busy ones close after their response.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const inFlight = lifecycle.inFlight;
    const deadline = Date.now() + boundConfig.shutdownTimeoutSeconds * 1000;
    const drained = await lifecycle.idle(deadline - Date.now());
    if (inFlight > 0) {
      const message = drained ? 'drained in-flight requests' : 'shutdown timeout reached; cutting requests still in flight';
      logger.info(message, { in_flight: drained ? inFlight : lifecycle.inFlight });
    }
    // Handlers are done; their responses (sent with Connection: close) may still be on the wire.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))]);
    clearTimeout(timer);
    server.closeAllConnections();
    await closed;
    // A key still being created (a stop right after start) is stored before storage closes,
    // within what is left of the shutdown timeout.
    await Promise.race([services.keys.settled(), new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))]);
    clearTimeout(timer);
    await services.samlVerification.close();
    await services.storage.close();
  }
}

async function refreshMetadata(services: Services): Promise<void> {
  try {
    for (const result of await services.accounts.refreshMetadata()) {
      if (result.error)
        services.logger.warn('IdP metadata refresh failed; keeping the last good settings', {
          connectionSid: result.connectionSid,
          error: result.error,
        });
      else if (result.changed) services.logger.info('IdP metadata changed; connection updated', { connectionSid: result.connectionSid });
    }
  } catch (error) {
    services.logger.warn('IdP metadata refresh failed', { error: (error as Error).message });
  }
}

/** Why the server could not listen, in terms of the variable that decides it (exit 2 in the CLI). */
function listenFailure(error: NodeJS.ErrnoException, config: LanyardConfig): Error {
  const at = `${config.host}:${config.port}`;
  if (error.code === 'EADDRINUSE')
    return new ConfigError(`Invalid configuration:\n  LANYARD_PORT: ${at} is already in use; choose another port or stop what listens there`);
  if (error.code === 'EACCES')
    return new ConfigError(
      `Invalid configuration:\n  LANYARD_PORT: listening on ${at} needs privileges; use a port above 1023 behind a reverse proxy`,
    );
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN')
    return new ConfigError(
      `Invalid configuration:\n  LANYARD_HOST: ${config.host} is not an address of this machine (${error.code}); use 127.0.0.1, 0.0.0.0 or one of its addresses`,
    );
  return error;
}
