import type { OAuthClient } from '../clients/model.ts';
import { sha256 } from '../crypto/random.ts';
import { InvalidTokenError } from '../errors.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { Storage } from '../storage/port.ts';
import type { TokenService } from '../tokens/token-service.ts';

/** What introspection reads: access tokens through the token core, refresh tokens from storage. */
export interface IntrospectionDependencies {
  tokens: TokenService;
  storage: Storage;
  accounts: AccountService;
}
import type { RefreshTokenRecord, Session } from '../tokens/model.ts';
import { assertIssuedFor } from '../tokens/token-scope.ts';

const INACTIVE = { active: false } as const;

/**
 * RFC 7662 §2.2: what an authenticated client may learn about a token. RFC 7662 §2.1/§4 leave
 * the choice of who may introspect what to the server; Lanyard's (docs/security.md):
 *
 * - access tokens: any confidential client of the token's account. The token's `aud` is the
 *   account (RFC 9068), so every resource server of the account is its audience: an API called
 *   by an SPA introspects the SPA's tokens. What it learns is what the JWT already says to
 *   whoever holds it, plus whether the session is still alive;
 * - refresh tokens: only the client they were issued to (a credential of that client alone);
 * - only tokens of the standard surface; public clients cannot introspect (no authentication).
 *
 * Everything else (unknown, expired, revoked, another account's, another client's refresh
 * token) is just `{"active": false}` (§2.2: no reason is given, so introspection reveals nothing).
 */
export async function introspect(
  services: IntrospectionDependencies,
  client: OAuthClient,
  token: string,
  hint: string | undefined,
): Promise<Record<string, unknown>> {
  const asJwt = token.split('.').length === 3;
  // §2.1: the hint is only an optimisation; a wrong hint still finds the token.
  const order = hint === 'refresh_token' || !asJwt ? [refreshToken, accessToken] : [accessToken, refreshToken];
  for (const read of order) {
    const answer = await read(services, client, token);
    if (answer) return answer;
  }
  return INACTIVE;
}

async function accessToken({ tokens }: IntrospectionDependencies, client: OAuthClient, token: string) {
  if (token.split('.').length !== 3) return undefined;
  try {
    // The token core's one gate: standard-surface tokens of this client's account only.
    const { claims, session } = await tokens.verifyAccessTokenFor('oidc', token, { accountSid: client.accountSid });
    return {
      active: true,
      token_type: 'Bearer',
      // The token's own grant: a refresh that narrowed the scope issued it with the narrower one.
      scope: claims.scope ?? session.scope ?? 'openid',
      client_id: claims.client_id,
      username: claims.identity,
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      sid: claims.sid,
    };
  } catch (error) {
    if (error instanceof InvalidTokenError) return undefined;
    throw error;
  }
}

/** Reads the token core's records without changing them: introspection never spends a token. */
async function refreshToken({ storage, accounts }: IntrospectionDependencies, client: OAuthClient, token: string) {
  const record = await storage.find<RefreshTokenRecord>('refresh_token', sha256(token));
  if (!record || record.consumedAt !== null || record.payload.usableUntil <= Date.now()) return undefined;
  const session = (await storage.find<Session>('session', record.payload.sessionId))?.payload;
  if (!session || session.revokedAt !== null || Date.now() >= session.maxExpiresAt) return undefined;
  const account = await accounts.findAccount(session.accountSid);
  if (!account) return undefined;
  try {
    // The same gate as access tokens: standard surface, this client, a mode that allows it.
    assertIssuedFor('oidc', session, account, { accountSid: client.accountSid, clientId: client.clientId });
  } catch (error) {
    if (error instanceof InvalidTokenError) return undefined;
    throw error;
  }
  return {
    active: true,
    token_type: 'refresh_token',
    scope: session.scope ?? 'openid',
    client_id: session.clientId,
    sub: session.userSid,
    exp: Math.floor(record.payload.usableUntil / 1000),
    iat: Math.floor(record.createdAt / 1000),
    sid: session.id,
  };
}
