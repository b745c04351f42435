/**
 * Node: the same routing as the service worker, as a `fetch` for `@twilio/flex-sdk` (which calls
 * the global `fetch` with Twilio's fixed hosts). See flex-hosts.ts and docs/flex-ui.md.
 *
 * @example
 * const restore = installFlexHostRouting('https://sso.example.com');
 * try { await validateToken(accountSid, token); } finally { restore(); }
 */
import { localAnswer, retarget, routeFlexHost, lanyardBase } from './flex-hosts.ts';

type Fetch = typeof globalThis.fetch;

/** A `fetch` that sends Twilio fixed-host requests to Lanyard, answers or blocks the rest of Twilio's, and passes everything else to `baseFetch`. */
export function createFlexHostFetch(lanyardUrl: string, baseFetch: Fetch = globalThis.fetch): Fetch {
  const lanyard = lanyardBase(lanyardUrl);
  return async (input, init) => {
    const request = new Request(input, init);
    const route = routeFlexHost(request.url, lanyard);
    if (route.action === 'pass') return baseFetch(request);
    const answer = localAnswer(route);
    if (answer) return answer;
    return baseFetch(await retarget(request, (route as { url: string }).url));
  };
}

/** Replaces `globalThis.fetch` with `createFlexHostFetch`; returns a function that puts the original back. */
export function installFlexHostRouting(lanyardUrl: string): () => void {
  const original = globalThis.fetch;
  globalThis.fetch = createFlexHostFetch(lanyardUrl, original);
  return () => {
    globalThis.fetch = original;
  };
}
