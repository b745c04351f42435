import type { Context } from 'hono';
import { auth } from 'hono/utils/basic-auth';
import { AuthenticationError, InvalidParameterError } from '../errors.ts';

/**
 * The user ID and password of an HTTP Basic `Authorization` header (RFC 7617), parsed by Hono's
 * own helper: scheme case-insensitive, base64 checked, UTF-8 decoded, split at the first colon.
 *
 * @throws AuthenticationError (401, code 20003) when no Basic credentials are sent, naming what to send.
 * @throws InvalidParameterError (400, code 20001) when a Basic header is sent but cannot be decoded.
 */
export function basicCredentials(c: Context, expected: string): { username: string; password: string } {
  const credentials = auth(c.req.raw);
  if (credentials) return credentials;
  if (/^ *basic(?: |$)/i.test(c.req.header('authorization') ?? '')) {
    throw new InvalidParameterError('Malformed Basic credentials: send base64("user:password") after "Basic ".');
  }
  throw new AuthenticationError(`Send ${expected} with HTTP Basic authentication.`);
}
