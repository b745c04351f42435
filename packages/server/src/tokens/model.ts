import type { AccountIdentity } from '../accounts/model.ts';
import type { User } from '../users/user-service.ts';

/** Which wire surface a login came through. One set of rules governs all of them. */
export type Surface = 'flex' | 'oidc' | 'legacy';

/** What an authorization code stands for, bound at the end of a successful IdP login. */
export interface CodeGrant {
  surface: Surface;
  accountSid: string;
  connectionSid: string;
  clientId: string;
  userSid: string;
  redirectUrl: string;
  /** PKCE S256 challenge (RFC 7636). */
  codeChallenge: string;
  nonce: string | null;
  scope: string | null;
  authTime: number;
  /** The IdP's authentication context class (ID token `acr`), when it stated one. */
  acr?: string;
  /** Authentication methods (ID token `amr`, RFC 8176), when known. */
  amr?: string[];
}

export interface CodeRecord extends CodeGrant {
  /**
   * The session this code will create, fixed before the code is handed out, so that a replayed
   * code can revoke it even while the first exchange is still running (RFC 9700 §4.2.4 note).
   */
  sessionId: string;
}

/** A login session: the root of one refresh-token family. */
export interface Session {
  id: string;
  surface: Surface;
  accountSid: string;
  connectionSid: string;
  clientId: string;
  userSid: string;
  nonce: string | null;
  scope: string | null;
  authTime: number;
  /** From the code grant; absent on sessions stored before it was recorded (then no claim). */
  acr?: string;
  amr?: string[];
  createdAt: number;
  /** End of the shift: refreshes never extend past this. */
  maxExpiresAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
}

export interface RefreshTokenRecord {
  sessionId: string;
  /** The session's user, so that a refresh reads both at once. Absent on older records. */
  userSid?: string;
  /** When this token stops being usable (the stored record lives a little longer for reuse detection). */
  usableUntil: number;
  /** Expiry of the access token issued with it: at the session cap, refreshes stop rotating. Absent on older records. */
  accessTokenExpiresAt?: number;
}

export interface IssuedTokens {
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string;
  refreshTokenExpiresAt: number;
  idToken: string | null;
  session: Session;
  /**
   * The scope of this grant: the session's, or the narrower one a refresh asked for (RFC 6749
   * §6). What the access token (`scope` claim, standard surface), ID token and response carry.
   */
  scope: string | null;
  user: User;
  account: AccountIdentity;
  /** True once the access token's expiry has been cut to the session's maximum lifetime. */
  sessionCapped: boolean;
}

/** Claims of Lanyard's access token (a JWT, RFC 9068 `at+jwt`). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  sid: string;
  /** The surface that issued the token; endpoints of other surfaces refuse it (`token-scope.ts`). */
  surface: Surface;
  client_id: string;
  account_sid: string;
  flex_instance_sid: string;
  identity: string;
  name_id: string;
  roles: string[];
  worker_sid: string;
  full_name: string;
  email: string;
  /** RFC 9068 §2.2.3: the scope of the grant that issued it; standard surface only. */
  scope?: string;
}
