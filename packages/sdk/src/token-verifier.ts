/**
 * Backends (Node.js 20+, or any runtime with WebCrypto and `fetch`): verify a desktop access token
 * locally, against Lanyard's published keys, without a call to Lanyard per token.
 *
 * The checks are RFC 9068 §4's for a JWT access token: the `at+jwt` type, ES256 only, the
 * signature by a key of Lanyard's JWKS, `iss` equal to Lanyard's public URL, `aud` equal to the
 * account SID, `sub`, `exp` and `iat` present, `exp` not passed (`nbf`, when present, reached). Lanyard's own rule is checked too: the
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
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import { LanyardError } from './errors.ts';
import { JwksCache, KeySetError, type FetchedKeySet } from './jwks-cache.ts';

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
  /** Lanyard's public URL as its tokens' `iss` (its `LANYARD_PUBLIC_URL`; trailing slashes do not count), e.g. `https://sso.example.com`. */
  issuer: string;
  /** The account whose tokens are accepted (`aud`), `AC` + 32 hex digits. */
  accountSid: string;
  /** Where the keys are; default `${issuer}/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Leeway for `exp` and `nbf` against this machine's clock, in seconds: 0–300, default 5. */
  clockToleranceSeconds?: number;
  /**
   * How long fetched keys are used before they are fetched again, in seconds: at least 1, default
   * 300 (the JWKS answer's `Cache-Control: max-age`). A key Lanyard stopped publishing stops
   * verifying within this time.
   */
  keysMaxAgeSeconds?: number;
  /**
   * At most one fetch per this many seconds for a key the set lacks, and after a failed fetch:
   * at least 1, default 5. A token signed with a key rotated in since the last fetch waits at
   * most this long for the fetch that brings it.
   */
  refetchCooldownSeconds?: number;
  /** Timeout of one JWKS request, in milliseconds: 1–60,000, default 5000. */
  timeoutMs?: number;
}

/** Why a token was refused; `code` is `token_expired`, `token_invalid` or `keys_unavailable`. */
export class TokenVerificationError extends LanyardError {
  constructor(code: 'token_expired' | 'token_invalid' | 'keys_unavailable', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

const ACCOUNT_SID = /^AC[0-9a-f]{32}$/;
const DESKTOP_SURFACES: ReadonlySet<unknown> = new Set(['flex', 'legacy']);

/** The bounds of each numeric option: outside them the verifier would fetch on every token, never fetch, or accept old tokens. */
const BOUNDS = {
  keysMaxAgeSeconds: { min: 1, max: 86_400, fallback: 300 },
  refetchCooldownSeconds: { min: 1, max: 60, fallback: 5 },
  timeoutMs: { min: 1, max: 60_000, fallback: 5_000 },
  clockToleranceSeconds: { min: 0, max: 300, fallback: 5 },
} as const;

function bounded(options: DesktopTokenVerifierOptions, name: keyof typeof BOUNDS): number {
  const { min, max, fallback } = BOUNDS[name];
  const value = options[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new TypeError(`${name} must be a number from ${min} to ${max}; the default is ${fallback}`);
  }
  return value;
}

/** An absolute http(s) URL without query or fragment, or a TypeError naming the option. */
function httpUrl(value: string, name: string, what: string): URL {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new TypeError(`${name} must be ${what}; got ${JSON.stringify(String(value).slice(0, 200))}`);
  }
  return url;
}

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
  // As the server writes `iss`: LANYARD_PUBLIC_URL without its trailing slashes (config.ts).
  const issuer = String(options.issuer).replace(/\/+$/, '');
  httpUrl(issuer, 'issuer', "Lanyard's public URL (its LANYARD_PUBLIC_URL), e.g. https://sso.example.com");
  if (!ACCOUNT_SID.test(options.accountSid)) throw new TypeError('accountSid must be an account SID: AC followed by 32 hex digits');
  const jwksUrl = httpUrl(
    options.jwksUrl ?? `${issuer}/.well-known/jwks.json`,
    'jwksUrl',
    "an absolute http(s) URL of Lanyard's /.well-known/jwks.json",
  );
  const maxAgeSeconds = bounded(options, 'keysMaxAgeSeconds');
  const cooldownSeconds = bounded(options, 'refetchCooldownSeconds');
  if (maxAgeSeconds < cooldownSeconds) throw new TypeError('keysMaxAgeSeconds must be at least refetchCooldownSeconds');
  const keys = new JwksCache(jwksUrl, {
    maxAgeMs: maxAgeSeconds * 1000,
    cooldownMs: cooldownSeconds * 1000,
    timeoutMs: bounded(options, 'timeoutMs'),
  });
  const checks = {
    issuer,
    audience: options.accountSid,
    algorithms: ['ES256'],
    typ: 'at+jwt',
    requiredClaims: ['sub', 'exp', 'iat'],
    clockTolerance: bounded(options, 'clockToleranceSeconds'),
  };
  return async (token) => {
    if (typeof token !== 'string' || token.length === 0) {
      throw new TokenVerificationError('token_invalid', 'No token: pass the access token as a string.');
    }
    if (/^bearer\s/i.test(token)) {
      throw new TokenVerificationError('token_invalid', 'Pass the token without its "Bearer " prefix (the Authorization header\'s value after it).');
    }
    let payload: JWTPayload;
    try {
      const known = keys.fresh()?.known(token);
      if (known) ({ payload } = await jwtVerify(token, known, checks));
      else {
        const { set, key } = await keyOf(token, keys);
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

/** The key the token's header names, from the fresh set, or from a newer one when the set lacks it (a rotation). */
async function keyOf(token: string, keys: JwksCache): Promise<{ set: FetchedKeySet; key: CryptoKey }> {
  const header = decodeProtectedHeader(token);
  // Refused before any key is looked up (or fetched for): no other algorithm is Lanyard's.
  if (header.alg !== 'ES256') throw new joseErrors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  // Lanyard names its key in every token; without a kid, two published keys would both fit.
  if (typeof header.kid !== 'string')
    throw new TokenVerificationError('token_invalid', 'The token names no key (kid): it is not a Lanyard access token.');
  const set = await keys.set();
  const lookedUpAt = performance.now();
  try {
    return { set, key: await set.keyFor(header) };
  } catch (error) {
    if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
    const newer = await keys.newerThan(lookedUpAt);
    try {
      return { set: newer, key: await newer.keyFor(header) };
    } catch (again) {
      if (!(again instanceof joseErrors.JWKSNoMatchingKey)) throw again;
      throw new TokenVerificationError(
        'token_invalid',
        `The token names a key (kid ${JSON.stringify(header.kid.slice(0, 64))}) that Lanyard's JWKS does not hold, fetched again for it: a token of another Lanyard (check issuer and jwksUrl), of a key deleted since, or of a key rotated in so recently that the node that answered does not publish it yet (every node does within LANYARD_SIGNING_KEY_RELOAD seconds of a rotation).`,
        { cause: again },
      );
    }
  }
}

function refusal(error: unknown, issuer: string, accountSid: string): TokenVerificationError {
  if (error instanceof TokenVerificationError) return error;
  if (error instanceof KeySetError) {
    return new TokenVerificationError('keys_unavailable', `Lanyard's keys could not be used: ${error.message}`, { cause: error });
  }
  const invalid = (message: string) => new TokenVerificationError('token_invalid', message, { cause: error });
  if (error instanceof joseErrors.JWTExpired) {
    return new TokenVerificationError('token_expired', 'The token has expired: the desktop refreshes it; send the new one.', { cause: error });
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') {
      return invalid(
        `The token was issued by ${JSON.stringify(String(error.payload.iss).slice(0, 200))}; this verifier accepts ${issuer} (set the issuer option to Lanyard's LANYARD_PUBLIC_URL).`,
      );
    }
    if (error.claim === 'aud') return invalid(`The token was issued for another account; this verifier accepts ${accountSid}.`);
    if (error.claim === 'typ') return invalid('The token is not an access token (its typ is not at+jwt): an ID token or another JWT was sent.');
    return invalid(`The token's "${error.claim}" claim is missing or unacceptable (${error.reason}).`);
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed || (error instanceof joseErrors.JOSENotSupported && /"alg"/.test(error.message))) {
    return invalid('The token is not a Lanyard access token: those are signed with ES256 (an ID token, RS256 by default, was sent?).');
  }
  if (error instanceof joseErrors.JOSENotSupported) return invalid(`The token is not a Lanyard access token: ${error.message}.`);
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('The token signature is invalid.');
  return invalid('The token is not a well-formed JWT.');
}
