import { InvalidTokenError, LanyardError } from '../errors.ts';
import type { AccessTokens } from '../tokens/access-tokens.ts';
import type { AccessTokenClaims } from '../tokens/model.ts';
import type { TokenService } from '../tokens/token-service.ts';
import type { UserService } from '../users/user-service.ts';
import type * as Wire from './responses.ts';

/**
 * `POST /admin/v1/tokens/verify`: the wire shape, once (responses.ts `TokenInspection`), with the
 * claims typed as the token core verified them (the CLI reads them). `code` is 0 when valid,
 * otherwise the error code a relying party would have been given; `claims` is null when the
 * signature, issuer or expiry check failed; `session.active` is null when it could not be told.
 */
export type TokenInspection = Omit<Wire.TokenInspection, 'claims'> & { claims: AccessTokenClaims | null };

export interface TokenInspectionServices {
  tokens: TokenService;
  accessTokens: AccessTokens;
  users: UserService;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * An administrator's view of a token: the same full validation relying parties get (signature,
 * expiry, live session, enabled user), plus the claims, session and user state behind the
 * verdict, so "why was this agent signed out" has an answer.
 */
export async function inspectToken(services: TokenInspectionServices, token: string, accountSid?: string): Promise<TokenInspection> {
  let claims: AccessTokenClaims;
  try {
    claims = await services.accessTokens.verify(token);
  } catch (error) {
    return refused(error, null);
  }
  const found = await services.users.find(claims.sub);
  const user = { sid: claims.sub, exists: found !== undefined, disabled: found?.disabled ?? false };
  const base = { claims, expires_at: iso(claims.exp * 1000), user };
  if (accountSid !== undefined && claims.aud !== accountSid) {
    return { ...refused(new InvalidTokenError(`The token was issued for account ${claims.aud}, not ${accountSid}.`), base), session: null };
  }
  try {
    const { session } = await services.tokens.validateAccessToken(token, accountSid);
    return {
      valid: true,
      code: 0,
      message: null,
      ...base,
      session: {
        id: session.id,
        active: true,
        surface: session.surface,
        auth_time: iso(session.authTime),
        max_expires_at: iso(session.maxExpiresAt),
      },
    };
  } catch (error) {
    // Signature and account matched, so a refusal for an enabled user means the session is over.
    const active = user.exists && !user.disabled ? false : null;
    return { ...refused(error, base), session: { id: claims.sid, active, surface: null, auth_time: null, max_expires_at: null } };
  }
}

function refused(error: unknown, known: Pick<TokenInspection, 'claims' | 'expires_at' | 'user'> | null): TokenInspection {
  if (!(error instanceof LanyardError) || error.status !== 401) throw error;
  return { valid: false, code: error.code, message: error.message, claims: null, expires_at: null, user: null, ...known, session: null };
}
