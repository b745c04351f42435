/**
 * Routing the real Flex UI's fixed hosts to Lanyard (SPEC "Endpoints the real client calls on
 * fixed hosts"). `@twilio/flex-ui` and `@twilio/flex-sdk` build some URLs themselves
 * (`flex-api…twilio.com`, `services…twilio.com`, `iam.twilio.com`, `preview.twilio.com`,
 * `flex.twilio.com`); appConfig cannot point those at another server. On the internet such a
 * desktop therefore sends Lanyard's tokens to Twilio's hosts unless they are routed.
 *
 * This module is the one table of what goes where. It is used by the service worker
 * (`flex-hosts-worker.ts`, for desktops in a browser) and by the fetch hook
 * (`flex-hosts-node.ts`, for Node users of `@twilio/flex-sdk`). It is meant for offline
 * development, CI, rehearsing a legacy → enhanced migration, and desktops built on the Flex
 * contract; see docs/flex-ui.md.
 */

/** What to do with one request. */
export type FlexHostRoute =
  /** Send it to Lanyard at this URL (same method, headers and body). */
  | { action: 'lanyard'; url: string }
  /** Answer here, without any network: Lanyard has no such service (feature flags). */
  | { action: 'answer'; status: number; body: unknown }
  /** A Twilio host with nothing Lanyard serves (fonts, sounds, assets, status, telemetry): answer empty, never send. */
  | { action: 'block' }
  /** Not a Twilio host: leave it alone. */
  | { action: 'pass' };

const TWILIO_DOMAINS = [/(^|\.)twilio\.com$/i, /(^|\.)twilio\.net$/i, /(^|\.)twiliocdn\.com$/i, /(^|\.)twil\.io$/i, /(^|\.)ytica\.com$/i];
/** `name`, `name.region`, `name.edge.region`, as flex-sdk builds them (`[region]` placeholders). */
const host = (name: string) => new RegExp(`^${name}(\\.[a-z0-9-]+){0,2}\\.twilio\\.com$`, 'i');
const FLEX_API = host('flex-api');
const SERVICES = host('services');
const IAM = host('iam');
const PREVIEW = host('preview');
const FLEX = /^flex(\.stage)?\.twilio\.com$/i;

/**
 * Decides where a request for `url` goes. `lanyardUrl` is Lanyard's public base URL
 * (`https://sso.example.com`, optionally with a path prefix).
 */
export function routeFlexHost(url: string | URL, lanyardUrl: string | URL): FlexHostRoute {
  const target = new URL(String(url));
  const hostname = target.hostname;
  if (!TWILIO_DOMAINS.some((domain) => domain.test(hostname))) return { action: 'pass' };
  const to = (path: string) => ({ action: 'lanyard' as const, url: lanyardBase(lanyardUrl) + path + target.search });
  if (FLEX_API.test(hostname) && target.pathname.startsWith('/v1/')) return to(target.pathname);
  if (SERVICES.test(hostname) && target.pathname.startsWith('/v1/Flex/')) return to(target.pathname);
  if (IAM.test(hostname) && target.pathname.startsWith('/v1/Accounts/')) return to(target.pathname);
  // The "Twilio-hosted" form exchange (oauth without redirectUrl on localhost).
  if (PREVIEW.test(hostname) && target.pathname === '/Flex/Tokens') return to('/v1/Flex/OAuth/Tokens');
  // Feature flags: Lanyard has none. Answered "off" here, so the token never leaves the page.
  if (FLEX.test(hostname) && target.pathname.startsWith('/api/v1/Features/')) return { action: 'answer', status: 200, body: { enabled: false } };
  return { action: 'block' };
}

/** Lanyard's base URL without a trailing slash; only https, or http on loopback (tokens travel there). */
export function lanyardBase(lanyardUrl: string | URL): string {
  const url = new URL(String(lanyardUrl));
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new TypeError(`Lanyard's URL must use https:// (http:// only on localhost, 127.0.0.1 or [::1]); got ${url.origin}.`);
  }
  if (url.username || url.password || url.search || url.hash)
    throw new TypeError("Lanyard's URL must be a plain base URL such as https://sso.example.com.");
  return (url.origin + url.pathname).replace(/\/+$/, '');
}

/** The Response a route stands for, when it is answered without Lanyard. */
export function localAnswer(route: FlexHostRoute): Response | undefined {
  if (route.action === 'answer') return Response.json(route.body, { status: route.status });
  if (route.action === 'block') return new Response(null, { status: 204, headers: { 'X-Lanyard-Blocked': 'Twilio host not routed by Lanyard' } });
  return undefined;
}

/** Re-targets a request at Lanyard: same method, headers and body; no cookies. */
export async function retarget(request: Request, url: string): Promise<Request> {
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  return new Request(url, {
    method: request.method,
    headers: request.headers,
    body: hasBody ? await request.arrayBuffer() : undefined,
    credentials: 'omit',
    mode: 'cors',
    redirect: 'follow',
    signal: request.signal,
  });
}

/** Where the routing service worker sends the real Flex UI's calls to Twilio's hosts (docs/flex-ui.md). */
export interface FlexHostRoutingOptions {
  /** Lanyard's public base URL, e.g. `https://sso.example.com`. */
  lanyardUrl: string;
  /** Where the desktop serves the worker script (`dist/lanyard-flex-hosts-worker.js`); default `/lanyard-flex-hosts-worker.js`. */
  workerUrl?: string;
  /** Service worker scope; default the worker's directory. */
  scope?: string;
}

/**
 * Browser: registers the routing service worker and resolves once it controls this page, so that
 * the Flex UI's first request is already routed. Load the Flex bundle after this resolves.
 *
 * @throws TypeError when service workers are unavailable (not a secure context) or the URL is not allowed.
 */
export async function routeFlexHostsToLanyard(options: FlexHostRoutingOptions): Promise<ServiceWorkerRegistration> {
  const base = lanyardBase(options.lanyardUrl);
  const container = typeof navigator === 'undefined' ? undefined : navigator.serviceWorker;
  if (!container) throw new TypeError('Service workers are unavailable here: serve the desktop over https:// (or http://localhost).');
  const script = new URL(options.workerUrl ?? '/lanyard-flex-hosts-worker.js', location.href);
  script.searchParams.set('lanyard', base);
  const registration = await container.register(script.href, options.scope ? { scope: options.scope } : undefined);
  if (container.controller?.scriptURL === script.href) return registration;
  // The worker claims open pages when it activates; wait for it to take this one.
  await new Promise<void>((resolve) => {
    const done = () => {
      if (container.controller?.scriptURL !== script.href) return;
      container.removeEventListener('controllerchange', done);
      resolve();
    };
    container.addEventListener('controllerchange', done);
    done();
  });
  return registration;
}
