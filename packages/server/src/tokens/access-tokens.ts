import { SignJWT, compactVerify, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { randomIdBytes } from '../crypto/random.ts';
import { ExpiredTokenError, InvalidTokenError } from '../errors.ts';
import type { AccountIdentity } from '../accounts/model.ts';
import type { User } from '../users/user-service.ts';
import { hasScope, userClaims } from '../users/claims.ts';
import { authenticationClaims } from '../connections/authentication-context.ts';
import { signEs256 } from './compact-jws.ts';
import { VerifiedTokens } from './verified-tokens.ts';
import { ID_TOKEN_ALGS, SIGNING_ALG, type SigningAlg, type SigningKeys } from './signing-keys.ts';
import type { AccessTokenClaims, Session } from './model.ts';

/** Which algorithm signs a client's ID tokens (its `id_token_signed_response_alg`). */
export type IdTokenAlgResolver = (clientId: string) => Promise<SigningAlg>;

/**
 * Signs and verifies JWTs. Access tokens are ES256 only; ID tokens RS256 or ES256 per client.
 * `alg: none`, HMAC and any algorithm other than the key's own are refused.
 */
export class AccessTokens {
  /** Tokens this node has verified (`verified-tokens.ts`): the signature is checked once per token. */
  private readonly verified = new VerifiedTokens();

  constructor(
    private readonly keys: SigningKeys,
    private readonly issuer: string,
    private readonly idTokenAlg: IdTokenAlgResolver = async () => 'RS256',
  ) {}

  /**
   * `scope`: the grant's (a refresh may narrow it); carried as the `scope` claim on the standard
   * surface only (RFC 9068 §2.2.3), so userinfo and introspection answer for this token's grant.
   * Flex and legacy desktop tokens keep their SPEC claims unchanged.
   */
  async issueAccessToken(
    session: Session,
    user: User,
    account: AccountIdentity,
    expiresAt: number,
    scope: string | null = session.scope,
  ): Promise<string> {
    const { kid, key } = await this.keys.current();
    const about = {
      identity: user.identity,
      name_id: user.uniqueId,
      roles: user.roles,
      worker_sid: user.workerSid,
      full_name: user.fullName,
      email: user.email,
    };
    const claims = {
      sid: session.id,
      surface: session.surface,
      client_id: session.clientId,
      account_sid: account.sid,
      flex_instance_sid: account.instanceSid,
      // A standard-surface token is a JWT its client can read: it says about the user only what
      // the scope releases (OIDC Core §5.4), as the ID token and userinfo do. Desktop tokens
      // carry the whole Flex payload (SPEC "Tokens").
      ...(session.surface === 'oidc' ? { ...scopedUserClaims(about, scope ?? 'openid'), scope: scope ?? 'openid' } : about),
    } as Omit<AccessTokenClaims, 'iss' | 'sub' | 'aud' | 'exp' | 'iat' | 'jti'>;
    const now = Math.floor(Date.now() / 1000);
    return signEs256(
      { alg: SIGNING_ALG, kid, typ: 'at+jwt' },
      {
        ...claims,
        iss: this.issuer,
        sub: user.sid,
        aud: account.sid,
        iat: now,
        exp: Math.floor(expiresAt / 1000),
        jti: randomIdBytes(12).toString('base64url'),
      },
      key,
    );
  }

  /**
   * OIDC Core §2, §5.4: the user claims are those `scope` releases (`users/claims.ts`); `scope` is
   * the grant's, narrowed by a refresh when it asked for less.
   */
  async issueIdToken(session: Session, user: User, expiresAt: number, scope: string | null, accessTokenHash?: string): Promise<string> {
    const alg = await this.idTokenAlg(session.clientId);
    const { kid, key } = await this.keys.current(alg);
    return new SignJWT({
      ...(session.nonce ? { nonce: session.nonce } : {}),
      auth_time: Math.floor(session.authTime / 1000),
      sid: session.id,
      ...userClaims(user, scope),
      ...authenticationClaims(session),
      ...(accessTokenHash ? { at_hash: accessTokenHash } : {}),
    })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(user.sid)
      .setAudience(session.clientId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(key);
  }

  /**
   * Verifies signature, issuer, expiry and type (RFC 9068 §4). A token verified before on this
   * node skips the signature check while its key still verifies; expiry is checked every time.
   * Session and user state are checked by the caller.
   * @throws InvalidTokenError (HTTP 401), ExpiredTokenError when `exp` has passed
   */
  async verify(token: string): Promise<AccessTokenClaims> {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== SIGNING_ALG) throw new InvalidTokenError(`Only access tokens signed with ${SIGNING_ALG} are accepted.`);
      kid = header.kid;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      throw new InvalidTokenError('The token is not a well-formed JWT.');
    }
    const key = await this.keys.verificationKey(kid);
    if (!key) throw new InvalidTokenError('The token was signed with an unknown key.');
    const known = this.verified.get(token);
    if (known && known.kid === kid) {
      // RFC 7519 §4.1.4, as jose checks it (no clock tolerance): expired once `exp` is reached.
      if (known.claims.exp <= Math.floor(Date.now() / 1000)) {
        this.verified.forget(token);
        throw new ExpiredTokenError();
      }
      return known.claims;
    }
    try {
      const { payload } = await jwtVerify(token, key, { issuer: this.issuer, algorithms: [SIGNING_ALG], typ: 'at+jwt' });
      return this.verified.remember(token, kid!, payload as unknown as AccessTokenClaims);
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new ExpiredTokenError();
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new InvalidTokenError('The token signature is invalid.');
      // The token's own iss is not repeated (client input); ours is public (discovery).
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'iss') {
        throw new InvalidTokenError(
          `The token was issued by another issuer: this server's issuer is ${this.issuer} (its LANYARD_PUBLIC_URL, or http://LANYARD_HOST:LANYARD_PORT when unset).`,
        );
      }
      throw new InvalidTokenError(`The token is invalid: ${(error as Error).message}`);
    }
  }

  /**
   * Verifies an ID token we issued, ignoring expiry: RP-initiated logout accepts an expired
   * `id_token_hint` (OIDC RP-Initiated Logout §2), but never a forged one.
   */
  async verifyIdTokenHint(token: string): Promise<{ sub: string; aud: string; sid: string }> {
    try {
      const header = decodeProtectedHeader(token);
      // Access tokens share the keys; their `typ` tells them apart (RFC 9068 §2.1).
      if (header.typ !== 'JWT') throw new Error('not an ID token');
      const alg = ID_TOKEN_ALGS.find((a) => a === header.alg);
      const key = alg ? await this.keys.verificationKey(header.kid, alg) : undefined;
      if (!alg || !key) throw new Error('unknown key or algorithm');
      const { payload } = await compactVerify(token, key, { algorithms: [alg] });
      const claims = JSON.parse(new TextDecoder().decode(payload)) as { iss?: string; sub?: string; aud?: string; sid?: string };
      if (claims.iss !== this.issuer || !claims.sub || !claims.aud || !claims.sid) throw new Error('not an ID token of this issuer');
      return { sub: claims.sub, aud: claims.aud, sid: claims.sid };
    } catch {
      throw new InvalidTokenError('id_token_hint is not an ID token issued by this server.');
    }
  }
}

/** The Flex user fields of an access token that `scope` releases: profile, email, roles. */
function scopedUserClaims(about: Pick<AccessTokenClaims, 'identity' | 'name_id' | 'roles' | 'worker_sid' | 'full_name' | 'email'>, scope: string) {
  return {
    ...(hasScope(scope, 'profile')
      ? { identity: about.identity, name_id: about.name_id, worker_sid: about.worker_sid, full_name: about.full_name }
      : {}),
    ...(hasScope(scope, 'email') ? { email: about.email } : {}),
    ...(hasScope(scope, 'roles') ? { roles: about.roles } : {}),
  };
}
