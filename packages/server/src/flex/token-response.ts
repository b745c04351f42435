import type { IssuedTokens } from '../tokens/model.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** SPEC step 4: the Flex token response shape, field names exact. */
export function flexTokenResponse(issued: IssuedTokens) {
  return {
    access_token: issued.accessToken,
    refresh_token: issued.refreshToken,
    token_info: {
      expiration: iso(issued.accessTokenExpiresAt),
      account_sid: issued.account.sid,
      flex_instance_sid: issued.account.instanceSid,
      flex_user_sid: issued.user.sid,
      identity: issued.user.identity,
      name_id: issued.user.uniqueId,
      realm_user_id: issued.user.uniqueId,
      roles: issued.user.roles,
      worker_sid: issued.user.workerSid,
      full_name: issued.user.fullName,
      email: issued.user.email,
    },
    access_token_expires_at: iso(issued.accessTokenExpiresAt),
    refresh_token_expires_at: iso(issued.refreshTokenExpiresAt),
    /** The end of the shift: no refresh goes past it. */
    session_expires_at: iso(issued.session.maxExpiresAt),
    session_capped: issued.sessionCapped,
  };
}
