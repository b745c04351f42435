import { NetworkError, ServerError, type ServerErrorBody } from './errors.ts';

/** `fetch`, injectable for tests. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export const defaultFetch: FetchLike = (url, init) => globalThis.fetch(url, init);

/**
 * Default limit of one request to Lanyard, whole answer included (ms): past it the answer is not
 * coming (a proxy or balancer that holds the connection and says nothing). Two bounds: long
 * enough for a slow answer (a refresh is two database round trips), and short enough that a
 * refresh whose answer was lost after Lanyard rotated the token is retried (1 s later) within
 * Lanyard's grace window (LANYARD_REFRESH_GRACE_SECONDS, 10 s by default), which gives the same
 * successor back instead of refusing the retry as token reuse.
 */
export const REQUEST_TIMEOUT_MS = 8_000;

/**
 * `fetchFn` whose requests fail with a `TimeoutError` when the whole answer has not come within
 * `ms`: the caller then sees a `NetworkError` and retries as for any network trouble, instead of
 * waiting for ever (holding the refresh lock every tab waits for, while the session runs out).
 */
export const withTimeout =
  (fetchFn: FetchLike, ms: number): FetchLike =>
  (url, init) =>
    // A browser without AbortSignal.timeout (before Safari 16 and Chrome 103) sends without a limit.
    fetchFn(url, { ...init, signal: AbortSignal.timeout?.(ms) });

/** POSTs JSON to Lanyard; a non-2xx answer becomes a `ServerError` carrying the server's body. */
export function postJson<T>(fetchFn: FetchLike, url: string, body: unknown): Promise<T> {
  return send<T>(fetchFn, url, { 'content-type': 'application/json' }, JSON.stringify(body));
}

/** POSTs an HTML form body (RFC 7009 revocation speaks form encoding). */
export function postForm(fetchFn: FetchLike, url: string, fields: Record<string, string>): Promise<unknown> {
  return send(fetchFn, url, { 'content-type': 'application/x-www-form-urlencoded' }, new URLSearchParams(fields).toString());
}

async function send<T>(fetchFn: FetchLike, url: string, headers: Record<string, string>, body: string): Promise<T> {
  let response: Response;
  try {
    // No cookies: tokens travel in bodies; `no-store` keeps them out of every cache.
    response = await fetchFn(url, { method: 'POST', headers, body, credentials: 'omit', cache: 'no-store' });
  } catch (error) {
    throw new NetworkError(url, error);
  }
  const text = await response.text().catch((error: unknown) => {
    // The answer stopped halfway (the timeout, a dropped connection): a success cannot be read.
    if (response.ok) throw new NetworkError(url, error);
    return '';
  });
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (a proxy's error page): described below from the status.
  }
  if (!response.ok) throw new ServerError(errorBody(data, response.status));
  return data as T;
}

function errorBody(data: unknown, status: number): ServerErrorBody {
  const body = (typeof data === 'object' && data !== null ? data : {}) as Partial<ServerErrorBody> & { error?: string; error_description?: string };
  return {
    code: typeof body.code === 'number' ? body.code : 0,
    message: typeof body.message === 'string' ? body.message : (body.error_description ?? `The sign-in server answered HTTP ${status}.`),
    status: typeof body.status === 'number' ? body.status : status,
    ...(typeof body.more_info === 'string' ? { more_info: body.more_info } : {}),
  };
}

/** Reads a JWT's claims for display and clock alignment. Never a validation: backends validate. */
export function readJwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const binary = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const claims: unknown = JSON.parse(json);
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Below this, the device's clock and the server's are taken to agree. */
const SKEW_TOLERANCE_MS = 10_000;

/**
 * How far this device's clock is ahead of the server's, from the token's `iat`. Agent PCs with
 * a wrong clock would otherwise see fresh tokens as expired (and refresh in a loop) or expired
 * ones as fresh. Re-measured on every token, like keycloak-js does.
 */
export function clockSkew(accessToken: string, receivedAt: number): number {
  const iat = readJwtClaims(accessToken).iat;
  if (typeof iat !== 'number') return 0;
  const skew = receivedAt - iat * 1000;
  return Math.abs(skew) < SKEW_TOLERANCE_MS ? 0 : skew;
}

/** An ISO date from the server, moved onto this device's clock. */
export function localTime(iso: unknown, skew: number): number | null {
  if (typeof iso !== 'string') return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms + skew;
}
