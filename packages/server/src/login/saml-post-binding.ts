import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import type { IdpRequest } from '../connections/saml-request-signing.ts';
import { randomToken } from '../crypto/random.ts';
import { InvalidParameterError, LanyardError, SamlResponseError } from '../errors.ts';
import type { Storage } from '../storage/port.ts';

const POST_REQUEST = 'saml_post_request';
/** Path of the page that POSTs a staged AuthnRequest to the IdP. */
export const SAML_POST_PATH = '/login/saml/post';

interface StagedPost {
  action: string;
  fields: Record<string, string>;
}

/**
 * Where to send the browser for `request`. HTTP-Redirect: the IdP URL itself. HTTP-POST: our own
 * page that submits the form, because every caller (Flex and OIDC authorize, legacy
 * `authenticate`, console test) hands the browser a URL; the form waits in storage for one use.
 */
export async function browserLocation(storage: Storage, publicUrl: string, request: IdpRequest, ttlMs: number): Promise<string> {
  if (request.binding === 'redirect') return request.url;
  const id = randomToken('sp_');
  await storage.insert<StagedPost>({
    kind: POST_REQUEST,
    id,
    payload: { action: request.action, fields: request.fields },
    expiresAt: Date.now() + ttlMs,
  });
  return `${publicUrl}${SAML_POST_PATH}?request=${encodeURIComponent(id)}`;
}

const escapeHtml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The auto-submitting form (SAML bindings §3.5.4) and the CSP that allows exactly it: its one
 * script by nonce, and form submission only to the IdP's origin. Without JavaScript a button does it.
 */
export async function postBindingPage(storage: Storage, id: string): Promise<{ html: string; csp: string }> {
  const consumed = await storage.consume<StagedPost>(POST_REQUEST, id);
  if (!consumed) throw new SamlResponseError('the sign-in request has expired or is unknown; start the sign-in again');
  if (!consumed.consumedNow) throw new SamlResponseError('this sign-in request was already sent to the identity provider; start the sign-in again');
  const { action, fields } = consumed.record.payload;
  const nonce = randomBytes(16).toString('base64');
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing in…</title></head><body>' +
    `<form method="post" action="${escapeHtml(action)}">${inputs}<noscript><p>JavaScript is off: continue to your identity provider.</p><button type="submit">Continue</button></noscript></form>` +
    `<script nonce="${nonce}">document.forms[0].submit();</script></body></html>`;
  const csp = `default-src 'none'; script-src 'nonce-${nonce}'; form-action ${new URL(action).origin}; frame-ancestors 'none'; base-uri 'none'`;
  return { html, csp };
}

/**
 * How an endpoint reads its request body, limits included (http/request-body.ts `readBodyBytes`
 * fits): handed to the broker by the composition root, so that it depends on no surface.
 */
export type RequestBodyReader = (c: Context) => Promise<Buffer>;

/**
 * The HTTP-POST binding's form (SAML Bindings §3.5): URL-encoded, or multipart as some browsers
 * and proxies send it. Anything unreadable is the sender's fault: 400 in the SPEC's shape (an
 * HTML page for browsers), never a 500. A body over the size limit keeps its 413.
 */
export async function readSamlPost(
  c: Context,
  readBody: RequestBodyReader,
): Promise<{ SAMLResponse: string | undefined; RelayState: string | undefined }> {
  const contentType = c.req.header('content-type') ?? '';
  const type = contentType.toLowerCase();
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) {
    throw new InvalidParameterError(
      'The IdP must POST the SAML response as an HTML form (application/x-www-form-urlencoded), with SAMLResponse and RelayState.',
    );
  }
  let form: URLSearchParams | FormData;
  try {
    form = type.startsWith('multipart/form-data')
      ? await new Response(new Uint8Array(await readBody(c)), { headers: { 'content-type': contentType } }).formData()
      : new URLSearchParams((await readBody(c)).toString('utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    if (error instanceof LanyardError) throw error;
    throw new InvalidParameterError(
      'The form body could not be read (malformed multipart/form-data or encoding); post SAMLResponse and RelayState as a URL-encoded form.',
    );
  }
  const field = (name: string) => {
    const values = form.getAll(name);
    if (values.length > 1) throw new InvalidParameterError(`${name} must be sent once in the form.`);
    return typeof values[0] === 'string' ? values[0] : undefined;
  };
  return { SAMLResponse: field('SAMLResponse'), RelayState: field('RelayState') };
}
