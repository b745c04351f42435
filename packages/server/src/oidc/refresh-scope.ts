import { sha256 } from '../crypto/random.ts';
import { LanyardError } from '../errors.ts';
import type { Storage } from '../storage/port.ts';
import type { RefreshTokenRecord, Session } from '../tokens/model.ts';

/**
 * RFC 6749 §6: a refresh request may ask for `scope`, which must not include anything the
 * session was not granted; omitted, it is the original grant. Checked before the refresh token
 * is spent, so a refused request leaves the client's token usable. Returns the scope of this
 * response (the session and its refresh token keep the original grant), or undefined when the
 * request names none, or the token is unknown or another client's: the refresh itself then
 * answers invalid_grant, and nothing about another client's grant shows in the answer.
 */
export async function requestedRefreshScope(
  storage: Storage,
  refreshToken: string,
  requested: string | undefined,
  clientId: string,
): Promise<string | undefined> {
  if (requested === undefined) return undefined;
  const record = await storage.find<RefreshTokenRecord>('refresh_token', sha256(refreshToken));
  const session = record ? (await storage.find<Session>('session', record.payload.sessionId))?.payload : undefined;
  if (!session?.scope || session.surface !== 'oidc' || session.clientId !== clientId) return undefined;
  const granted = new Set(session.scope.split(' '));
  const asked = [...new Set(requested.split(' ').filter(Boolean))];
  if (asked.length === 0 || asked.some((s) => !granted.has(s))) {
    throw new LanyardError({
      code: 20001,
      status: 400,
      oauthError: 'invalid_scope',
      message: 'scope may only narrow the original grant on a refresh (RFC 6749 section 6); omit it to keep the original scope.',
    });
  }
  return asked.join(' ');
}
