/**
 * Backends (Node.js 20+, or any runtime with WebCrypto and `fetch`): verify a desktop access token
 * locally, against Lanyard's published keys, without a call to Lanyard per token.
 *
 * The checks are RFC 9068 §4's for a JWT access token: the `at+jwt` type, ES256 only, the
 * signature by a key of Lanyard's JWKS, `iss` equal to Lanyard's public URL, `aud` equal to the
 * account SID, `exp`/`iat` present and `exp` not passed. Lanyard's own rule is checked too: the
 * token was issued for a desktop surface (`flex` or `legacy`); tokens of the standard OIDC surface
 * (issued to OIDC relying parties) are refused.
 *
 * It does not know whether the session was revoked since the token was issued: a backend that
 * must see a sign-out at once calls `POST /v1/Accounts/{AC}/Tokens/validate` instead.
 *
 * @example
 * import { createDesktopTokenVerifier } from '@lanyard/sdk/token-verifier';
 * const verify = createDesktopTokenVerifier({ issuer: 'https://sso.example.com', accountSid: 'AC…' });
 * const claims = await verify(token); // throws TokenVerificationError
 */
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type CryptoKey, type JSONWebKeySet, type JWTPayload } from 'jose';
import { LanyardError } from './errors.ts';

/** The claims of a desktop access token (SPEC "Tokens"). */
export interface DesktopTokenClaims extends JWTPayload {
  /** Lanyard's public URL. */
  iss: string;
  /** The user's SID (`FU…`). */
  sub: string;
  /** The account SID (`AC…`). */
  aud: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** `flex` (enhanced SSO) or `legacy` (legacy SSO). */
  surface: 'flex' | 'legacy';
  /** The session's id: every token of one sign-in carries the same. */
  sid?: string;
  account_sid?: string;
  flex_instance_sid?: string;
  client_id?: string;
  identity?: string;
  name_id?: string;
  worker_sid?: string;
  full_name?: string;
  email?: string;
  roles?: string[];
}

export interface DesktopTokenVerifierOptions {
  /** Lanyard's public URL, exactly as its tokens' `iss` (its `LANYARD_PUBLIC_URL`), e.g. `https://sso.example.com`. */
  issuer: string;
  /** The account whose tokens are accepted (`aud`), `AC` + 32 hex digits. */
  accountSid: string;
  /** Where the keys are; default `${issuer}/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Leeway for `exp`, `iat` and `nbf` against this machine's clock, in seconds; default 5. */
  clockToleranceSeconds?: number;
  /**
   * How long fetched keys are used before they are fetched again, in seconds; default 300 (the
   * JWKS answer's `Cache-Control: max-age`). A key Lanyard stopped publishing stops verifying
   * within this time.
   */
  keysMaxAgeSeconds?: number;
  /** A token naming a key not in the set fetches the set again, at most once per this many seconds; default 30. */
  refetchCooldownSeconds?: number;
  /** Timeout of one JWKS request, in milliseconds; default 5000. */
  timeoutMs?: number;
}

/** Why a token was refused; `code` is `token_expired`, `token_invalid` or `keys_unavailable`. */
export class TokenVerificationError extends LanyardError {
  constructor(code: 'token_expired' | 'token_invalid' | 'keys_unavailable', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

const ACCOUNT_SID = /^AC[0-9a-f]{32}$/;

type DurationOption = 'keysMaxAgeSeconds' | 'refetchCooldownSeconds' | 'timeoutMs' | 'clockToleranceSeconds';
/** A duration option, or its default; a negative or non-finite one would fetch the keys on every token. */
function duration(options: DesktopTokenVerifierOptions, name: DurationOption, fallback: number): number {
  const value = options[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a number of 0 or more`);
  return value;
}
const DESKTOP_SURFACES: ReadonlySet<unknown> = new Set(['flex', 'legacy']);

/**
 * Returns `verify(token)`: the token's claims when every check above passes.
 * The JWKS is fetched on first use, again after `keysMaxAgeSeconds`, and when a token names a key
 * the set does not hold (key rotation, RFC 7517 §4.5 `kid`); concurrent verifications share one fetch.
 * @throws TypeError when `issuer`, `accountSid`, `jwksUrl` or a duration is malformed (at creation)
 * @throws TokenVerificationError from `verify`: `token_expired`; `token_invalid` (malformed, wrong
 *   type, algorithm, signature, issuer, audience or surface; the message names which);
 *   `keys_unavailable` (the JWKS could not be fetched or read)
 */
export function createDesktopTokenVerifier(options: DesktopTokenVerifierOptions): (token: string) => Promise<DesktopTokenClaims> {
  const issuer = new URL(options.issuer).href.replace(/\/$/, '');
  if (issuer !== options.issuer.replace(/\/$/, '')) throw new TypeError(`issuer must be a URL as Lanyard writes it in "iss", e.g. ${issuer}`);
  if (!ACCOUNT_SID.test(options.accountSid)) throw new TypeError('accountSid must be an account SID: AC followed by 32 hex digits');
  const keys = new KeySet(new URL(options.jwksUrl ?? `${issuer}/.well-known/jwks.json`), {
    maxAgeMs: duration(options, 'keysMaxAgeSeconds', 300) * 1000,
    cooldownMs: duration(options, 'refetchCooldownSeconds', 30) * 1000,
    timeoutMs: duration(options, 'timeoutMs', 5000),
  });
  const checks = {
    issuer,
    audience: options.accountSid,
    algorithms: ['ES256'],
    typ: 'at+jwt',
    requiredClaims: ['sub', 'exp', 'iat'],
    clockTolerance: duration(options, 'clockToleranceSeconds', 5),
  };
  return async (token) => {
    if (typeof token !== 'string' || token.length === 0)
      throw new TokenVerificationError('token_invalid', 'No token: pass the access token as a string.');
    let payload: JWTPayload;
    try {
      const known = keys.knownKey(token);
      if (known) ({ payload } = await jwtVerify(token, known, checks));
      else {
        const { set, key } = await keys.keyFor(token);
        ({ payload } = await jwtVerify(token, key, checks));
        set.remember(token, key);
      }
    } catch (error) {
      throw refusal(error, issuer, options.accountSid);
    }
    if (!DESKTOP_SURFACES.has(payload.surface)) {
      throw new TokenVerificationError(
        'token_invalid',
        `The token was not issued to a desktop (surface ${JSON.stringify(payload.surface ?? null)}): tokens of Lanyard's OIDC endpoints are for their own client and are refused here.`,
      );
    }
    return payload as DesktopTokenClaims;
  };
}

/** One fetched JWKS: jose selects and imports its keys; the keys of tokens it verified are remembered. */
class FetchedSet {
  readonly select: ReturnType<typeof createLocalJWKSet>;
  /**
   * Keys by the token's protected-header segment (the base64url text before the first dot: the
   * same for every token one key signs), so a known token's key is one Map lookup without
   * decoding (jose's set selects and imports on every call: about 10 % of a verification).
   * Filled only after a signature verified: every entry is a header Lanyard signed.
   */
  readonly byHeader = new Map<string, CryptoKey>();
  constructor(
    jwks: unknown,
    readonly fetchedAt: number,
  ) {
    this.select = createLocalJWKSet(jwks as JSONWebKeySet);
  }
  remember(token: string, key: CryptoKey): void {
    this.byHeader.set(token.slice(0, token.indexOf('.')), key);
  }
}

/** Lanyard's JWKS: fetched on first use, after `maxAgeMs`, and for an unknown `kid` at most once per `cooldownMs`. */
class KeySet {
  private current: FetchedSet | undefined;
  private pending: Promise<FetchedSet> | undefined;
  private lastFetchAt = -Infinity;
  constructor(
    private readonly url: URL,
    private readonly limits: { maxAgeMs: number; cooldownMs: number; timeoutMs: number },
  ) {}

  /** The key of a token of a header this set verified before, while the set is fresh. */
  knownKey(token: string): CryptoKey | undefined {
    const set = this.fresh();
    return set?.byHeader.get(token.slice(0, token.indexOf('.')));
  }

  /** The key the token's header names (`kid`, `alg`), fetching the set when it is stale or lacks it. */
  async keyFor(token: string): Promise<{ set: FetchedSet; key: CryptoKey }> {
    const header = decodeProtectedHeader(token);
    let set = this.fresh() ?? (await this.fetch());
    try {
      return { set, key: (await set.select(header)) as CryptoKey };
    } catch (error) {
      // A rotated key: the set may have gained it since it was fetched.
      if (!(error instanceof joseErrors.JWKSNoMatchingKey) || Date.now() - this.lastFetchAt < this.limits.cooldownMs) throw error;
      set = await this.fetch();
      return { set, key: (await set.select(header)) as CryptoKey };
    }
  }

  private fresh(): FetchedSet | undefined {
    const set = this.current;
    return set && Date.now() - set.fetchedAt < this.limits.maxAgeMs ? set : undefined;
  }

  /** One fetch at a time; concurrent callers share it. */
  private fetch(): Promise<FetchedSet> {
    this.pending ??= this.download().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async download(): Promise<FetchedSet> {
    this.lastFetchAt = Date.now();
    try {
      const response = await fetch(this.url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.limits.timeoutMs) });
      if (response.status !== 200) throw new Error(`it answered HTTP ${response.status}`);
      this.current = new FetchedSet(await response.json(), Date.now());
      return this.current;
    } catch (error) {
      throw new TokenVerificationError(
        'keys_unavailable',
        `Lanyard's keys could not be fetched from ${this.url.href}: ${(error as Error)?.message ?? String(error)}. Check that this backend reaches it.`,
        { cause: error },
      );
    }
  }
}

function refusal(error: unknown, issuer: string, accountSid: string): TokenVerificationError {
  if (error instanceof TokenVerificationError) return error;
  const invalid = (message: string) => new TokenVerificationError('token_invalid', message, { cause: error });
  if (error instanceof joseErrors.JWTExpired) {
    return new TokenVerificationError('token_expired', 'The token has expired: the desktop refreshes it; send the new one.', { cause: error });
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') {
      return invalid(
        `The token was issued by another issuer; this verifier accepts ${issuer} (compare the issuer option with Lanyard's LANYARD_PUBLIC_URL).`,
      );
    }
    if (error.claim === 'aud') return invalid(`The token was issued for another account; this verifier accepts ${accountSid}.`);
    if (error.claim === 'typ') return invalid('The token is not an access token (its typ is not at+jwt): an ID token or another JWT was sent.');
    return invalid(`The token's "${error.claim}" claim is missing or unacceptable (${error.reason}).`);
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) {
    return invalid('The token is not a Lanyard access token: those are signed with ES256 (an ID token, RS256 by default, was sent?).');
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('The token signature is invalid.');
  if (error instanceof joseErrors.JWKSNoMatchingKey) return invalid("The token was signed with a key that is not in Lanyard's JWKS.");
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return new TokenVerificationError(
      'keys_unavailable',
      "Lanyard's JWKS holds more than one key that fits this token's header (the same kid twice): the set is not Lanyard's as published; check what answers at the verifier's jwksUrl.",
      { cause: error },
    );
  }
  return invalid('The token is not a well-formed JWT.');
}
