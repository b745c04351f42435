import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/**
 * A route answered in Node's request listener, before the Hono app, from what the process
 * already holds in memory. It answers (and returns `true`) only when it can do so completely and
 * at once; otherwise it returns `false` without touching the request, and the app answers —
 * every error, cache miss, other method or unusual query goes the one way all routes go.
 *
 * Reserved for hot, public, read-only answers whose cost is mostly the framework's: the public
 * lookup (flex/lookup-direct.ts; docs/benchmarks.md, eighth round).
 */
export type DirectRoute = (incoming: IncomingMessage, outgoing: ServerResponse) => boolean;

/**
 * `app`'s listener with `routes` (by exact path, the query string aside) tried first. A route
 * may be added or replaced later (the services start after the server listens): the map is read
 * on every request. A route that throws is reported to `onError`; the app then answers unless
 * the route had begun its answer (then the connection is closed).
 */
export function withDirectRoutes(
  routes: ReadonlyMap<string, DirectRoute>,
  app: RequestListener,
  onError: (error: unknown) => void = () => undefined,
): RequestListener {
  return (incoming, outgoing) => {
    if (routes.size > 0) {
      const url = incoming.url ?? '';
      const queryStart = url.indexOf('?');
      const route = routes.get(queryStart === -1 ? url : url.slice(0, queryStart));
      try {
        if (route?.(incoming, outgoing)) return;
      } catch (error) {
        onError(error);
        // Thrown here, it would end the process (the listener runs outside any handler). Before
        // anything was sent the app answers, with its own error page if it fails the same way.
        if (outgoing.headersSent) {
          outgoing.destroy();
          return;
        }
      }
    }
    app(incoming, outgoing);
  };
}
