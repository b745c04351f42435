import type { Hono } from 'hono';

/** What the app's middleware records on each request, for the routes and the error page. */
export interface AppVariables {
  requestId: string;
  browserFacing: boolean;
  oauthErrors: boolean;
}

/** The one Hono app every surface registers its routes on. */
export type App = Hono<{ Variables: AppVariables }>;

/**
 * A surface's routes, ready to register: its factory (`flexRoutes(deps)`, …) received the
 * services it uses from the composition root (`index.ts`), so a route module never sees the
 * whole services bag.
 */
export type RouteModule = (app: App) => void;
