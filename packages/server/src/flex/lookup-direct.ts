import type { AccountService } from '../accounts/account-service.ts';
import type { AuthConfigEntry } from '../accounts/public-lookup.ts';
import type { LanyardConfig } from '../config.ts';
import { baseResponseHeaders, requestIdFrom } from '../http/app.ts';
import type { DirectRoute } from '../http/direct-routes.ts';
import type { Lifecycle } from '../operations/lifecycle.ts';
import type { RequestRecorder } from '../operations/request-observer.ts';
import { canFindAny, lookupQuery, matching, type LookupQuery } from './lookup.ts';

/** The public lookup's path (SPEC "Lookup"). */
export const LOOKUP_PATH = '/v1/Flex/Authentication/Config';

/** Query strings whose parsed parameters and last answer are kept, as many as the lookup cache keeps accounts. */
const KEPT_QUERIES = 10_000;

/** A query string's parameters, and the body last sent for it with the cached entries it was made from. */
interface KeptAnswer {
  query: LookupQuery;
  /** The lookup cache's entries for the account when `body` was made (compared by identity), or `NOTHING`. */
  madeFrom: AuthConfigEntry[] | typeof NOTHING | undefined;
  body: string;
}
const NOTHING = Symbol('finds nothing');

/**
 * The public lookup answered from the lookup cache (accounts/public-lookup.ts) straight from
 * Node's request listener (http/direct-routes.ts): a `GET` with valid parameters for an account
 * whose answer this process holds gets the answer the app would give (flex/routes.ts) — the same
 * body, security headers and request id (http/app.ts), `Cache-Control`, CORS for any origin,
 * latency metric and log line — at about half the cost (docs/benchmarks.md, eighth round).
 * Anything else (a cache miss, a 400, `HEAD`, `OPTIONS`, a draining node) is left to the app.
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
  const kept = new Map<string, KeptAnswer>();

  /** The body for this query string, or `undefined` when the app must answer. */
  function answerTo(queryString: string): string | undefined {
    let answer = kept.get(queryString);
    if (!answer) {
      const query = parsedQuery(queryString);
      if (!query) return undefined;
      if (kept.size >= KEPT_QUERIES) kept.delete(kept.keys().next().value!);
      answer = { query, madeFrom: undefined, body: '' };
      kept.set(queryString, answer);
    }
    const { query } = answer;
    const entries = canFindAny(query) ? accounts.cachedLookupConfig(query.accountSid) : NOTHING;
    if (entries === undefined) return undefined;
    if (entries !== answer.madeFrom) {
      answer.body = JSON.stringify({ config_list: entries === NOTHING ? [] : matching(entries, query) });
      answer.madeFrom = entries;
    }
    return answer.body;
  }

  return (incoming, outgoing) => {
    // Draining answers carry `Connection: close` (operations/request-observer.ts): the app's.
    if (incoming.method !== 'GET' || lifecycle.isDraining) return false;
    const started = performance.now();
    const url = incoming.url ?? '';
    const queryStart = url.indexOf('?');
    const body = answerTo(queryStart === -1 ? '' : url.slice(queryStart + 1));
    if (body === undefined) return false;
    const requestId = requestIdFrom(incoming.headers['x-request-id'] as string | undefined);
    const headers = [
      'X-Request-Id',
      requestId,
      ...baseHeaders,
      'Cache-Control',
      'public, max-age=60',
      'Content-Type',
      'application/json',
      'Content-Length',
      String(Buffer.byteLength(body)),
    ];
    if (incoming.headers.origin !== undefined) headers.push('Access-Control-Allow-Origin', '*', 'Vary', 'Origin');
    outgoing.writeHead(200, headers);
    outgoing.end(body);
    record(requestId, 'GET', LOOKUP_PATH, 200, started);
    return true;
  };
}

/** The lookup's parameters as the app reads them (the first value of each), or `undefined` where the app answers 400. */
function parsedQuery(queryString: string): LookupQuery | undefined {
  const values: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(queryString)) if (!Object.hasOwn(values, name)) values[name] = value;
  try {
    return lookupQuery(values);
  } catch {
    return undefined;
  }
}
