import type { AccessTokenClaims } from './model.ts';

/** How many verified access tokens a node remembers (about 1 KB each: at most ~10 MB). */
const DEFAULT_CAPACITY = 10_000;

/**
 * An ES256 JWS in the compact serialization as this server writes it (RFC 7515 §7.1, §2:
 * base64url without padding, line breaks or whitespace; a 64-byte signature is 86 characters).
 * jose's decoding forgives whitespace and '=' in the signature segment, so one token verifies in
 * endlessly many spellings, each up to a request body long: only this one is remembered, which
 * keeps an entry to the size of what we signed.
 */
const COMPACT_ES256_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/;

interface Verified {
  claims: Readonly<AccessTokenClaims>;
  /** The key that verified the signature: a hit counts only while that key still verifies. */
  kid: string;
}

/**
 * Access tokens whose signature, issuer and type this node has already verified, keyed by the
 * whole compact JWS (RFC 7515 §7.1), signature included: a token that differs in any byte is a
 * miss and goes through full verification. A desktop's backend presents the same token on every
 * call for its lifetime (`Tokens/validate`), and the ES256 verification is most of that call's
 * cost. Expiry is checked on every hit; the session and the user are still read per request by
 * the caller, so a revocation or a disabled user takes effect at once. Least recently stored
 * entries go first once `capacity` is reached.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, Verified>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  /** The claims of a token verified before with key `kid`, or undefined. */
  get(token: string): Verified | undefined {
    return this.entries.get(token);
  }

  /**
   * Remembers a verified token (in its compact spelling only, `COMPACT_ES256_JWS`) and returns its
   * claims frozen, arrays included: the caller gets the object later hits return, and nobody can
   * change what the next request is given.
   */
  remember(token: string, kid: string, claims: AccessTokenClaims): Readonly<AccessTokenClaims> {
    const frozen = deepFreeze(claims);
    if (!COMPACT_ES256_JWS.test(token)) return frozen;
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { kid, claims: frozen });
    return frozen;
  }

  forget(token: string): void {
    this.entries.delete(token);
  }
}

/** Freezes a JSON value and everything in it (a verified JWT payload: objects, arrays, scalars). */
function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
