import type { AccountService } from '../accounts/account-service.ts';
import type { AuthConfigEntry } from '../accounts/public-lookup.ts';
import type { LanyardConfig } from '../config.ts';
import { baseResponseHeaders, requestIdFrom } from '../http/app.ts';
import type { DirectRoute } from '../http/direct-routes.ts';
import type { Lifecycle } from '../operations/lifecycle.ts';
import type { RequestRecorder } from '../operations/request-observer.ts';
import { getQueryParam } from 'hono/utils/url';
import { canFindAny, LOOKUP_CACHE_CONTROL, LOOKUP_PATH, lookupQuery, matching, type LookupQuery } from './lookup.ts';

/** Query strings whose parsed parameters and last answer are kept, as many as the lookup cache keeps accounts. */
const KEPT_QUERIES = 10_000;
/** The longest query string kept, in characters. */
const KEPT_QUERY_LENGTH = 256;

/** A query string's parameters, and the body last sent for it with the cached entries it was made from. */
interface KeptAnswer {
  query: LookupQuery;
  /** The lookup cache's entries for the account when `body` was made (compared by identity), or `NOTHING`. */
  madeFrom: AuthConfigEntry[] | typeof NOTHING;
  body: string;
}
const NOTHING = Symbol('finds nothing');

/**
 * The public lookup answered from the lookup cache (accounts/public-lookup.ts) straight from
 * Node's request listener (http/direct-routes.ts): a `GET` with valid parameters for an account
 * whose answer this process holds gets the answer the app would give (flex/routes.ts) — the same
 * body, security headers and request id (http/app.ts), `Cache-Control`, CORS for any origin,
 * latency metric and log line — at about half the cost (docs/benchmarks.md, eighth round).
 * Anything else (a cache miss, a 400, `HEAD`, `OPTIONS`, a Host the adapter refuses, a draining
 * node) is left to the app.
 *
 * Desktops send the same query string on every page load: its parsed parameters and the JSON
 * body are kept by query string, the body remade whenever the cache's entries change.
 */
export function directLookup(deps: {
  accounts: AccountService;
  config: Pick<LanyardConfig, 'publicUrl'>;
  lifecycle: Lifecycle;
  record: RequestRecorder;
}): DirectRoute {
  const { accounts, lifecycle, record } = deps;
  const baseHeaders = baseResponseHeaders(deps.config);
  const keptAnswers = new Map<string, KeptAnswer>();
  const hosts = new HostCheck();

  /** The body for this query string, or `undefined` when the app must answer. */
  function answerTo(queryString: string): string | undefined {
    const kept = keptAnswers.get(queryString);
    const query = kept?.query ?? parsedQuery(queryString);
    if (!query) return undefined;
    const entries = canFindAny(query) ? accounts.cachedLookupConfig(query.accountSid) : NOTHING;
    if (entries === undefined) return undefined;
    if (kept?.madeFrom === entries) return kept.body;
    const body = JSON.stringify({ config_list: entries === NOTHING ? [] : matching(entries, query) });
    // Only answers, and only short query strings (a desktop's is under 200 characters): what a
    // client can make this keep is bounded by KEPT_QUERIES × KEPT_QUERY_LENGTH.
    if (queryString.length <= KEPT_QUERY_LENGTH) {
      if (!kept && keptAnswers.size >= KEPT_QUERIES) keptAnswers.delete(keptAnswers.keys().next().value!);
      keptAnswers.set(queryString, { query, madeFrom: entries, body });
    }
    return body;
  }

  return (incoming, outgoing) => {
    // Draining answers carry `Connection: close` (operations/request-observer.ts): the app's.
    if (incoming.method !== 'GET' || lifecycle.isDraining) return false;
    // A Host the app's adapter refuses (400, @hono/node-server) is left to it.
    if (!hosts.accepts(incoming.headers.host)) return false;
    const started = performance.now();
    const url = incoming.url ?? '';
    const queryStart = url.indexOf('?');
    const body = answerTo(queryStart === -1 ? '' : url.slice(queryStart + 1));
    if (body === undefined) return false;
    const requestId = requestIdFrom(incoming.headers['x-request-id'] as string | undefined);
    const headers: string[] = [
      'X-Request-Id',
      requestId,
      ...baseHeaders,
      'Cache-Control',
      LOOKUP_CACHE_CONTROL,
      'Content-Type',
      'application/json',
      'Content-Length',
      String(Buffer.byteLength(body)),
      'Access-Control-Allow-Origin',
      '*',
    ];
    outgoing.writeHead(200, headers);
    outgoing.end(body);
    record(requestId, 'GET', LOOKUP_PATH, 200, started);
    return true;
  };
}

/**
 * The lookup's parameters as the app reads them — Hono's own query parser over the URL the way
 * the app sees it (first value of each, cut at `#`) — or `undefined` where the app answers 400.
 */
function parsedQuery(queryString: string): LookupQuery | undefined {
  const values = getQueryParam(`http://lookup${LOOKUP_PATH}?${queryString}`) as Record<string, string>;
  try {
    return lookupQuery(values);
  } catch {
    return undefined;
  }
}

/**
 * Whether the app's adapter (@hono/node-server) takes a request with this Host: it builds the
 * request's URL from it and answers 400 when that fails or names another host (`u@x`,
 * `x:99999`, `1.2.3`). Without a Host it uses the address the server listens on: such requests
 * are left to it. Remembered for the last 64 hosts seen.
 */
class HostCheck {
  private readonly known = new Map<string, boolean>();

  accepts(host: string | undefined): boolean {
    // No Host (HTTP/1.0) or an empty one: the adapter builds the URL from the listening address,
    // which an IPv6 literal makes fail. Rare: left to it.
    if (host === undefined || host === '') return false;
    let accepted = this.known.get(host);
    if (accepted === undefined) {
      accepted = URL.canParse(`http://${host}/`) && sameHost(new URL(`http://${host}/`).hostname, host);
      if (this.known.size >= 64) this.known.delete(this.known.keys().next().value!);
      this.known.set(host, accepted);
    }
    return accepted;
  }
}

const sameHost = (hostname: string, host: string) => hostname.length === host.length || hostname === host.replace(/:\d+$/, '');
