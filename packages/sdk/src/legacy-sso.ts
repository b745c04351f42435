import type { LegacyConfig } from './app-config.ts';
import type { Clock } from './clock.ts';
import { ServerError, SessionExpiredError } from './errors.ts';
import { clockSkew, localTime, postJson, readJwtClaims, type FetchLike } from './lanyard-api.ts';
import type { StoredSession } from './session-store.ts';

/** Legacy SSO (SPEC): authenticate → IdP → token back on the page's URL; refresh by token. */

/** What a legacy sign-in hands back, as the popup posts it to its opener. */
export interface LegacyTokenPayload {
  token: string;
  expiration: string;
  identity: string;
  roles: string[];
  flexUserSid: string | null;
}

/** The address-bar parameters of a legacy sign-in: each is removed once read. */
export const LEGACY_PARAMS = ['Token', 'Expiration', 'Identity', 'Roles', 'flexUserSid'] as const;

/** The message a legacy sign-in pop-up posts to its opener (SPEC: same origin only). */
export const LEGACY_POPUP_MESSAGE = 'TWILIO_FLEX_LOGIN_SUCCESSFUL';

/** `POST …/authenticate`: Lanyard checks the resource is trusted and answers the IdP's URL. */
export async function authenticate(config: LegacyConfig, fetchFn: FetchLike): Promise<string> {
  const answer = await postJson<{ location?: unknown }>(fetchFn, config.loginUrl, { products: ['flex'], resource: config.redirectUrl });
  if (typeof answer?.location !== 'string')
    throw new ServerError({ code: 0, message: 'The authenticate endpoint answered without a location.', status: 502 });
  return answer.location;
}

export function readLegacyCallback(url: URL): LegacyTokenPayload | null {
  const token = url.searchParams.get('Token');
  if (!token) return null;
  return {
    token,
    expiration: url.searchParams.get('Expiration') ?? '',
    identity: url.searchParams.get('Identity') ?? '',
    roles: url.searchParams.getAll('Roles'),
    flexUserSid: url.searchParams.get('flexUserSid'),
  };
}

export function sessionFromLegacy(payload: LegacyTokenPayload, accountSid: string, receivedAt: number, sessionEnd?: string): StoredSession {
  const skew = clockSkew(payload.token, receivedAt);
  // Name and email are not on the URL: the token's own claims give them, for display only.
  const claims = readJwtClaims(payload.token);
  const claim = (name: string) => (typeof claims[name] === 'string' ? (claims[name] as string) : null);
  const expiresAt = localTime(payload.expiration, skew) ?? (typeof claims.exp === 'number' ? claims.exp * 1000 + skew : receivedAt);
  const sessionExpiresAt = localTime(sessionEnd, skew);
  return {
    version: 1,
    mode: 'legacy',
    accessToken: payload.token,
    refreshToken: null,
    expiresAt,
    sessionExpiresAt,
    sessionCapped: sessionExpiresAt !== null && expiresAt >= sessionExpiresAt,
    receivedAt,
    user: {
      identity: payload.identity,
      fullName: claim('full_name'),
      email: claim('email'),
      roles: payload.roles,
      flexUserSid: payload.flexUserSid,
      workerSid: claim('worker_sid'),
      nameId: claim('name_id'),
      accountSid,
      instanceSid: claim('flex_instance_sid'),
    },
  };
}

/** A token handed over by a sign-in; one that has already run out (an old link) cannot be used. */
export function acceptLegacyToken(payload: LegacyTokenPayload, accountSid: string, now: number): StoredSession {
  const session = sessionFromLegacy(payload, accountSid, now);
  if (now >= session.expiresAt) throw new SessionExpiredError('This sign-in link has expired. Sign in again to continue.');
  return session;
}

/** `POST …/Tokens/refresh {token}` → `{token, expiration, identity, roles, session_expires_at}`. */
export async function refreshLegacy(config: LegacyConfig, fetchFn: FetchLike, clock: Clock, session: StoredSession): Promise<StoredSession> {
  const answer = await postJson<{ token: string; expiration: string; identity: string; roles: string[]; session_expires_at?: string }>(
    fetchFn,
    config.tokenRefreshUrl,
    {
      token: session.accessToken,
    },
  );
  if (typeof answer?.token !== 'string') throw new ServerError({ code: 0, message: 'The refresh endpoint answered without a token.', status: 502 });
  const payload = {
    token: answer.token,
    expiration: answer.expiration,
    identity: answer.identity,
    roles: answer.roles ?? session.user.roles,
    flexUserSid: session.user.flexUserSid,
  };
  const next = sessionFromLegacy(payload, session.user.accountSid, clock.now(), answer.session_expires_at);
  if (next.sessionExpiresAt !== null || session.sessionExpiresAt === null) return next;
  // A server that does not say when the shift ends: keep what it said before.
  return { ...next, sessionExpiresAt: session.sessionExpiresAt, sessionCapped: next.expiresAt >= session.sessionExpiresAt };
}
