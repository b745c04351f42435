import { LanyardError } from '../errors.ts';

/**
 * RFC 6749 §6: a refresh request may ask for `scope`, which must not include anything the
 * session was not granted; omitted, it is the original grant. The token core calls this only
 * once the refresh token is known to be live and this client's (after reuse detection), inside
 * the refresh's transaction: a refusal rolls back, so the token stays usable, and a spent,
 * revoked, expired or foreign token answers invalid_grant whatever scope it asks for.
 *
 * @param granted the session's scope (space-separated; null on the Flex surface, which has none)
 * @param requested the request's `scope`, undefined when absent
 * @returns the scope of this grant: `requested` deduplicated in request order, or `granted`
 * @throws LanyardError 20001 / 400 `invalid_scope` when `requested` is empty or wider than `granted`
 */
export function narrowScope(granted: string | null, requested: string | undefined): string | null {
  if (requested === undefined) return granted;
  const allowed = new Set((granted ?? '').split(' ').filter(Boolean));
  const asked = [...new Set(requested.split(' ').filter(Boolean))];
  if (asked.length === 0 || asked.some((s) => !allowed.has(s))) {
    throw new LanyardError({
      code: 20001,
      status: 400,
      oauthError: 'invalid_scope',
      message: 'scope may only narrow the original grant on a refresh (RFC 6749 section 6); omit it to keep the original scope.',
    });
  }
  return asked.join(' ');
}
