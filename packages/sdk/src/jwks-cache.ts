/**
 * Lanyard's JWKS as `@lanyard/sdk/token-verifier` keeps it: fetched on first use and after a
 * maximum age, fetched again for a `kid` the set lacks (RFC 7517 §4.5; a key rotation) at most
 * once per cooldown, one fetch at a time. jose selects and imports the keys
 * (`createLocalJWKSet`); what is ours is when to fetch, and what a failed fetch says.
 */
import { createLocalJWKSet, errors as joseErrors, type CryptoKey, type JSONWebKeySet, type ProtectedHeaderParameters } from 'jose';

/** Why the key set could not be used: `message` names the cause and the fix. */
export class KeySetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeySetError';
  }
}

/** A JWKS answer larger than this is refused unread (Lanyard's holds a few keys: ~1 KB). */
const MAX_JWKS_BYTES = 1024 * 1024;

/** One fetched JWKS; the keys of tokens it verified are remembered by their header text. */
export class FetchedKeySet {
  private readonly select: ReturnType<typeof createLocalJWKSet>;
  /**
   * Keys by the token's protected-header segment (the base64url text before the first dot: the
   * same for every token one key signs), so a known token's key is one Map lookup, and
   * `jwtVerify` gets the key itself (with jose's key set it gets a function, and selects on
   * every call: 0.88–0.95× the key in hand, profiled). Filled only after a signature verified:
   * every entry is a header Lanyard signed, so outside input cannot grow it.
   */
  private readonly byHeader = new Map<string, CryptoKey>();
  constructor(
    jwks: unknown,
    readonly fetchedAt: number,
  ) {
    this.select = createLocalJWKSet(jwks as JSONWebKeySet);
  }

  known(token: string): CryptoKey | undefined {
    return this.byHeader.get(token.slice(0, token.indexOf('.')));
  }

  remember(token: string, key: CryptoKey): void {
    this.byHeader.set(token.slice(0, token.indexOf('.')), key);
  }

  /**
   * The key that fits `header` (its `kid` and `alg`). Throws jose's JWKSNoMatchingKey when none
   * does, KeySetError when the set is at fault (two keys for one `kid`, a key that does not import).
   */
  async keyFor(header: ProtectedHeaderParameters): Promise<CryptoKey> {
    try {
      return (await this.select(header)) as CryptoKey;
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JOSENotSupported) throw error;
      const which = `kid ${JSON.stringify(header.kid)}`;
      if (error instanceof joseErrors.JWKSMultipleMatchingKeys) {
        throw new KeySetError(`the JWKS holds more than one key for ${which} (Lanyard publishes one): check what answers at jwksUrl.`, {
          cause: error,
        });
      }
      throw new KeySetError(`the JWKS's key for ${which} cannot be used (${(error as Error)?.message}): check what answers at jwksUrl.`, {
        cause: error,
      });
    }
  }
}

export interface KeySetLimits {
  /** Keys are used this long after their fetch, in ms. */
  maxAgeMs: number;
  /** At most one fetch per this many ms for an unknown `kid`, and after a failed fetch. */
  cooldownMs: number;
  /** One fetch's timeout, in ms. */
  timeoutMs: number;
}

export class JwksCache {
  private current: FetchedKeySet | undefined;
  private pending: Promise<FetchedKeySet> | undefined;
  private lastFetchAt = -Infinity;
  private lastFailure: KeySetError | undefined;
  constructor(
    private readonly url: URL,
    private readonly limits: KeySetLimits,
  ) {}

  /** The fetched set while it is fresh. */
  fresh(): FetchedKeySet | undefined {
    const set = this.current;
    return set && Date.now() - set.fetchedAt < this.limits.maxAgeMs ? set : undefined;
  }

  /** The fresh set, or one fetched now. @throws KeySetError */
  async set(): Promise<FetchedKeySet> {
    return this.fresh() ?? this.fetch({ wait: false });
  }

  /**
   * A set fetched after `older` was: for a `kid` it lacks (a key rotated in since). Within the
   * cooldown of the last fetch it waits for the cooldown's end and shares that one fetch, so a
   * rotated key is picked up within `cooldownMs` and a flood of unknown kids costs one fetch a
   * cooldown. @throws KeySetError
   */
  async newerThan(older: FetchedKeySet): Promise<FetchedKeySet> {
    if (this.current && this.current !== older && this.fresh()) return this.current;
    return this.fetch({ wait: true });
  }

  private fetch({ wait }: { wait: boolean }): Promise<FetchedKeySet> {
    if (this.pending) return this.pending;
    const sinceLast = Date.now() - this.lastFetchAt;
    if (sinceLast < this.limits.cooldownMs) {
      // A failed fetch is not retried within the cooldown: every token would wait for Lanyard.
      if (this.lastFailure && !wait) return Promise.reject(this.lastFailure);
      if (wait) {
        this.pending = new Promise<void>((resolve) => setTimeout(resolve, this.limits.cooldownMs - sinceLast))
          .then(() => this.download())
          .finally(() => (this.pending = undefined));
        return this.pending;
      }
    }
    this.pending = this.download().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async download(): Promise<FetchedKeySet> {
    this.lastFetchAt = Date.now();
    try {
      const set = new FetchedKeySet(await this.read(), Date.now());
      this.current = set;
      this.lastFailure = undefined;
      return set;
    } catch (error) {
      this.lastFailure =
        error instanceof KeySetError
          ? error
          : new KeySetError(`${this.url.href} did not answer a JSON Web Key Set (${describe(error)}): check jwksUrl.`, { cause: error });
      throw this.lastFailure;
    }
  }

  private async read(): Promise<unknown> {
    const where = this.url.href;
    let response: Response;
    try {
      // Not redirected: a redirect would let whoever answers at its target choose the keys.
      response = await fetch(this.url, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.limits.timeoutMs),
      });
    } catch (error) {
      const timedOut = (error as Error)?.name === 'TimeoutError';
      throw new KeySetError(
        timedOut
          ? `${where} did not answer within ${this.limits.timeoutMs} ms: check that this backend reaches Lanyard (or raise timeoutMs).`
          : `${where} could not be reached (${describe(error)}): check that this backend reaches Lanyard at that address.`,
        { cause: error },
      );
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new KeySetError(
        `${where} redirected to ${response.headers.get('location') ?? 'nowhere'}: keys are not fetched through a redirect; set jwksUrl (or issuer) to the address Lanyard answers at.`,
      );
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new KeySetError(
        `${where} answered HTTP ${response.status}: that is not Lanyard's JWKS; check the issuer option (Lanyard's LANYARD_PUBLIC_URL, whose /.well-known/jwks.json holds the keys) or jwksUrl.`,
      );
    }
    const text = await readCapped(response, MAX_JWKS_BYTES);
    if (text === undefined) throw new KeySetError(`${where} answered more than ${MAX_JWKS_BYTES} bytes: that is not Lanyard's JWKS; check jwksUrl.`);
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new KeySetError(`${where} did not answer JSON: that is not Lanyard's JWKS (a proxy's page?); check jwksUrl.`, { cause: error });
    }
  }
}

/** The body as text, or undefined once it passes `limit` bytes (the rest is not read). */
async function readCapped(response: Response, limit: number): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > limit) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

const describe = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
};
