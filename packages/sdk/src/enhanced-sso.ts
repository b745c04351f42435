import type { EnhancedConfig } from './app-config.ts';
import type { Clock } from './clock.ts';
import { ServerError } from './errors.ts';
import { clockSkew, localTime, postForm, postJson, type FetchLike } from './lanyard-api.ts';
import { createPkcePair, randomString } from './pkce.ts';
import type { PendingLogin, StoredSession } from './session-store.ts';

/** Enhanced SSO (SPEC): authorization code + PKCE against `/v1/Flex/Authorize` and `/v1/Flex/OAuth/Tokens`. */

/** The token endpoint's answer (SPEC step 4, plus Lanyard's session fields). */
export interface FlexTokenResponse {
  access_token: string;
  refresh_token: string;
  token_info: {
    expiration?: string;
    account_sid: string;
    flex_instance_sid?: string;
    flex_user_sid?: string;
    identity: string;
    name_id?: string;
    realm_user_id?: string;
    roles?: string[];
    worker_sid?: string;
    full_name?: string;
    email?: string;
  };
  access_token_expires_at: string;
  refresh_token_expires_at?: string;
  session_expires_at?: string;
  session_capped?: boolean;
}

/** The parameters a sign-in comes back with on `redirectUrl`. */
export interface CallbackParams {
  code: string | null;
  state: string | null;
  error: string | null;
  error_description: string | null;
  error_code: string | null;
}

export const CALLBACK_PARAMS = ['code', 'state', 'error', 'error_description', 'error_code'] as const;

/** The `type` of the message an enhanced sign-in pop-up posts to its opener: `{ type, params }`. */
export const ENHANCED_POPUP_MESSAGE = 'lanyard:callback';

/** Builds the authorize URL and the secrets this tab must keep until the code comes back. */
export async function beginEnhanced(config: EnhancedConfig, clock: Clock): Promise<{ url: string; pending: PendingLogin }> {
  const { verifier, challenge } = await createPkcePair();
  const pending: PendingLogin = { mode: 'enhanced', state: randomString(24), nonce: randomString(24), verifier, startedAt: clock.now() };
  const url = new URL(config.authorizeUrl);
  const params = {
    ssoProfileSid: config.connection,
    state: pending.state,
    nonce: pending.nonce,
    redirectUrl: config.redirectUrl,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    clientId: config.clientId,
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return { url: url.toString(), pending };
}

export function readCallback(url: URL): CallbackParams | null {
  const get = (name: string) => url.searchParams.get(name);
  if (get('state') === null || (get('code') === null && get('error') === null)) return null;
  return { code: get('code'), state: get('state'), error: get('error'), error_description: get('error_description'), error_code: get('error_code') };
}

/** The IdP or Lanyard refused the sign-in and said so on the redirect (`?error=…`). */
export function callbackError(params: CallbackParams): ServerError | null {
  if (params.error === null && params.code !== null) return null;
  return new ServerError({
    code: Number(params.error_code) || 0,
    message: params.error_description ?? params.error ?? 'The sign-in came back without a code.',
    status: 400,
  });
}

export async function exchangeCode(
  config: EnhancedConfig,
  fetchFn: FetchLike,
  clock: Clock,
  pending: PendingLogin,
  code: string,
): Promise<StoredSession> {
  const response = await postJson<FlexTokenResponse>(fetchFn, config.tokenUrl, {
    grant_type: 'AuthorizationCode',
    app_type: 'SinglePageApp',
    sso_profile_sid: config.connection,
    code,
    code_verifier: pending.verifier,
    nonce: pending.nonce,
  });
  return sessionFromTokens(response, clock.now());
}

export async function refreshEnhanced(config: EnhancedConfig, fetchFn: FetchLike, clock: Clock, session: StoredSession): Promise<StoredSession> {
  const response = await postJson<FlexTokenResponse>(fetchFn, config.tokenUrl, {
    grant_type: 'RefreshToken',
    refresh_token: session.refreshToken,
    sso_profile_sid: config.connection,
  });
  return sessionFromTokens(response, clock.now());
}

/** RFC 7009, best effort: ends the session at the server too, so a copied refresh token is useless. */
export async function revokeEnhanced(config: EnhancedConfig, fetchFn: FetchLike, refreshToken: string): Promise<void> {
  await postForm(fetchFn, config.revokeUrl, { token: refreshToken, token_type_hint: 'refresh_token', client_id: config.clientId });
}

export function sessionFromTokens(response: FlexTokenResponse, receivedAt: number): StoredSession {
  if (typeof response?.access_token !== 'string' || typeof response.token_info !== 'object') {
    throw new ServerError({ code: 0, message: 'The token endpoint answered without an access token.', status: 502 });
  }
  const skew = clockSkew(response.access_token, receivedAt);
  const info = response.token_info;
  const expiresAt = localTime(response.access_token_expires_at ?? info.expiration, skew) ?? receivedAt;
  const sessionExpiresAt = localTime(response.session_expires_at, skew);
  return {
    version: 1,
    mode: 'enhanced',
    accessToken: response.access_token,
    refreshToken: response.refresh_token ?? null,
    expiresAt,
    sessionExpiresAt,
    sessionCapped: response.session_capped === true || (sessionExpiresAt !== null && expiresAt >= sessionExpiresAt),
    receivedAt,
    user: {
      identity: info.identity,
      fullName: info.full_name ?? null,
      email: info.email ?? null,
      roles: Array.isArray(info.roles) ? info.roles : [],
      flexUserSid: info.flex_user_sid ?? null,
      workerSid: info.worker_sid ?? null,
      nameId: info.name_id ?? info.realm_user_id ?? null,
      accountSid: info.account_sid,
      instanceSid: info.flex_instance_sid ?? null,
    },
  };
}
