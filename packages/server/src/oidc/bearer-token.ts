import type { Context } from 'hono';
import { readBodyText } from '../http/request-body.ts';
import { requestHeader } from '../http/request-headers.ts';

export type BearerPresentation = { token: string } | { status: 400 | 401; error?: 'invalid_request'; description: string };

/**
 * The access token of a protected-resource request (RFC 6750 §2): the `Authorization: Bearer`
 * header, or `access_token` in a form-encoded POST body (§2.2). Using both is refused (§2: at
 * most one method); the query string (§2.3) is not accepted, since URLs end up in logs.
 */
export async function presentedBearerToken(c: Context): Promise<BearerPresentation> {
  const header = requestHeader(c, 'authorization');
  const fromHeader = header !== undefined && /^Bearer /i.test(header) ? header.slice(7).trim() : undefined;
  let fromBody: string | undefined;
  if (c.req.method === 'POST' && (requestHeader(c, 'content-type') ?? '').includes('application/x-www-form-urlencoded')) {
    fromBody = new URLSearchParams(await readBodyText(c)).get('access_token') ?? undefined;
  }
  if (fromHeader !== undefined && fromBody !== undefined)
    return {
      status: 400,
      error: 'invalid_request',
      description: 'Send the access token once: in the Authorization header or in the form body, not both.',
    };
  if (new URL(c.req.url).searchParams.has('access_token'))
    return {
      status: 400,
      error: 'invalid_request',
      description: 'Send the access token in the Authorization header or a POST form body, not in the URL.',
    };
  const token = fromHeader ?? fromBody;
  // RFC 6750 §3.1: a request without credentials gets a challenge but no error code.
  if (!token) return { status: 401, description: "Send the access token as 'Authorization: Bearer <token>' or as access_token in a POST form body." };
  return { token };
}
