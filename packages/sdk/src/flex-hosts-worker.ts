/**
 * The routing service worker (see flex-hosts.ts and docs/flex-ui.md). Registered by
 * `routeFlexHostsToLanyard()` on the desktop's own origin as
 * `/lanyard-flex-hosts-worker.js?lanyard=<Lanyard's base URL>`. A service worker sees the fetches
 * of the pages it controls, cross-origin ones included, so the Flex UI's calls to Twilio's fixed
 * hosts are sent to Lanyard instead (or answered here) and never leave for Twilio. Navigations to
 * other origins and WebSockets are not seen by a service worker: appConfig's overrides point the
 * sign-in navigation at Lanyard, and a Content-Security-Policy `connect-src` stops the rest.
 */
import { lanyardBase, localAnswer, retarget, routeFlexHost } from './flex-hosts.ts';

interface FetchEventLike extends Event {
  request: Request;
  respondWith(response: Promise<Response> | Response): void;
}
interface ExtendableEventLike extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface WorkerScope {
  location: Location;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEventLike) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEventLike) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
const lanyard = lanyardBase(new URL(scope.location.href).searchParams.get('lanyard') ?? '');

// Take over open pages at once: the desktop waits for this before loading the Flex UI.
scope.addEventListener('install', (event) => event.waitUntil(scope.skipWaiting()));
scope.addEventListener('activate', (event) => event.waitUntil(scope.clients.claim()));

scope.addEventListener('fetch', (event) => {
  const route = routeFlexHost(event.request.url, lanyard);
  if (route.action === 'pass') return;
  const answer = localAnswer(route);
  if (answer) return event.respondWith(answer);
  if (route.action === 'lanyard') event.respondWith(retarget(event.request, route.url).then((request) => fetch(request)));
});
