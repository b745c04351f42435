import type { AccessTokenClaims } from './model.ts';

/** How many verified access tokens a node remembers (about 1 KB each: at most ~10 MB). */
const DEFAULT_CAPACITY = 10_000;

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

  remember(token: string, kid: string, claims: AccessTokenClaims): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { kid, claims: Object.freeze({ ...claims }) });
  }

  forget(token: string): void {
    this.entries.delete(token);
  }
}
