import type { Context } from 'hono';
import { LanyardError, RateLimitedError, StorageUnavailableError, oauthDescription } from '../errors.ts';
import type { Logger } from './logger.ts';
import { requestHeader } from './request-headers.ts';

/** Routes a person's browser lands on answer with a page; API callers get JSON. */
export function wantsHtml(c: Context): boolean {
  return c.get('browserFacing') === true && (requestHeader(c, 'accept') ?? '').includes('text/html');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** What an administrator should do about each error code, shown on browser-facing pages. */
const ADMIN_HINTS: Record<number, string> = {
  70002: "An administrator must add this page's address to the account's Trusted URLs (lanyard trusted-urls add).",
  70003:
    "An administrator must register this exact redirect URI on the client: lanyard clients update <client_id> --redirect-uri <uri>, the console's OpenID Connect clients section, or the admin API (PATCH /admin/v1/clients/<client_id>). This holds for a connection's built-in client too. Trusted URLs do not apply to OpenID Connect clients.",
  70251: "An administrator must fix the account's single sign-on settings (IdP certificate, SSO URL, Domain redirect URL).",
  45050: 'An administrator must configure the identity provider to send this attribute.',
  // The message above names the cause and its fix (signature, status, clocks, URLs…): no generic guess here.
  45010:
    'Try signing in again. If it keeps failing, show this page to an administrator: the reason above says what to change, and the account audit log keeps it.',
  20404: 'Check the link you followed; the configuration it names does not exist.',
  20530: 'Start the sign-in again from the agent desktop in a moment. If it keeps happening, the server log says why (LANYARD_SAML_WORKERS).',
};

export function errorPage(error: LanyardError): string {
  const hint = ADMIN_HINTS[error.code] ?? 'Check the request and try again.';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Sign-in failed</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2328}h1{font-size:1.4rem}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:3px}</style>
</head><body><main><h1>Sign-in could not continue</h1>
<p role="alert">${escapeHtml(error.message)}</p>
${error.moreInfo ? `<p>${escapeHtml(error.moreInfo)}</p>` : ''}
<p>${escapeHtml(hint)}</p>
<p>Error code <code>${error.code}</code></p></main></body></html>`;
}

/** The single place that turns failures into responses. Unknown errors never show internals. */
export function respondWithError(c: Context, error: unknown, logger: Logger): Response {
  const known = asLanyardError(error);
  if (!known) {
    logger.error('unhandled error', { request_id: c.get('requestId'), error: error instanceof Error ? error.stack : String(error) });
    const internal = new LanyardError({
      code: 20500,
      status: 500,
      message: `Internal error; quote request id ${c.get('requestId') ?? 'unknown'} to the administrator.`,
    });
    return c.json(internal.toJSON(), 500, { 'Cache-Control': 'no-store' });
  }
  if (known.status >= 500) logger.warn('request failed', { request_id: c.get('requestId'), code: known.code, error: known.message });
  // An error is never kept by a cache: a route may have marked its answer public before it
  // failed (the Flex lookup), and a shared cache would then serve a 503 or 429 to everyone.
  const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
  if (known instanceof RateLimitedError) headers['Retry-After'] = String(known.retryAfterSeconds);
  if (known instanceof StorageUnavailableError) headers['Retry-After'] = '5';
  // The unread rest of an oversized body would be taken for the next request on a kept-alive
  // connection: end the connection with this answer (RFC 9110 §15.5.14).
  if (known.status === 413) headers['Connection'] = 'close';
  if (wantsHtml(c)) return c.html(errorPage(known), known.status as 400, headers);
  // The standard surface answers in RFC 6749 §5.2's shape wherever the error arose, also before
  // a route ran (a 413 from the body limit) and on its browser routes asked for JSON (authorize,
  // logout): `error` always, `error_description` in RFC 6749's character set.
  if (c.get('oauthErrors') === true || isOAuthPath(c.req.path)) {
    return c.json({ error: known.oauthError, error_description: oauthDescription(known.message), code: known.code }, known.status as 400, headers);
  }
  return c.json(known.toJSON(), known.status as 400, headers);
}

function asLanyardError(error: unknown): LanyardError | undefined {
  if (error instanceof LanyardError) return error;
  // Hono's own HTTPException (e.g. body limit) carries a status we can trust.
  const status = (error as { status?: number }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new LanyardError({
      code: 20000 + status,
      status,
      message: status === 413 ? 'The request body is too large.' : (error as Error).message || 'Bad request.',
    });
  }
  return undefined;
}

/** The standard OAuth 2.0 / OpenID Connect surface (oidc/routes.ts): every error is RFC 6749-shaped. */
function isOAuthPath(path: string): boolean {
  return path.startsWith('/oauth2/');
}
