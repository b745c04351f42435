/**
 * Lanyard's JWKS as `@lanyard/sdk/token-verifier` keeps it: fetched on first use and after a
 * maximum age, fetched again for a `kid` the set lacks (RFC 7517 §4.5; a key rotation) at most
 * once per cooldown, one fetch at a time. jose selects and imports the keys
 * (`createLocalJWKSet`); what is ours is when to fetch, and what a failed fetch says. Times are
 * `performance.now()`: a step of the wall clock neither keeps a dropped key nor a failure.
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
    /** When the fetch that brought this set started, and when it answered (`performance.now()`, ms). */
    readonly requestedAt: number,
    readonly fetchedAt: number,
  ) {
    this.select = createLocalJWKSet(jwks as JSONWebKeySet);
    // Lanyard always publishes an ES256 key (its access tokens'): a set without one is not its.
    const keys = (jwks as JSONWebKeySet).keys;
    if (!keys.some((key) => key.alg === 'ES256' || (key.alg === undefined && key.kty === 'EC' && key.crv === 'P-256'))) {
      throw new KeySetError('the JWKS holds no ES256 key, so it is not the one Lanyard publishes');
    }
  }

  known(token: string): CryptoKey | undefined {
    return this.byHeader.get(headerSegment(token));
  }

  remember(token: string, key: CryptoKey): void {
    this.byHeader.set(headerSegment(token), key);
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

/** A compact JWS's protected header as sent: the text before its first dot. */
const headerSegment = (token: string): string => token.slice(0, token.indexOf('.'));

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
  /** The download in flight, and when it started. */
  private downloading: { startedAt: number; set: Promise<FetchedKeySet> } | undefined;
  /** A download scheduled for the end of the cooldown (a kid the set lacked). */
  private waiting: Promise<FetchedKeySet> | undefined;
  /** When the last download settled, and its failure if it failed. */
  private settledAt = -Infinity;
  private failure: KeySetError | undefined;
  constructor(
    private readonly url: URL,
    private readonly limits: KeySetLimits,
  ) {}

  /** The fetched set while it is fresh. */
  fresh(): FetchedKeySet | undefined {
    const set = this.current;
    return set && performance.now() - set.fetchedAt < this.limits.maxAgeMs ? set : undefined;
  }

  /**
   * The fresh set, or the one being fetched, or one fetched now; within the cooldown of a failed
   * fetch, that failure (every token would otherwise wait for an unreachable Lanyard). Never
   * waits for a cooldown. @throws KeySetError
   */
  async set(): Promise<FetchedKeySet> {
    const fresh = this.fresh();
    if (fresh) return fresh;
    if (this.downloading) return this.downloading.set;
    if (this.failure && performance.now() - this.settledAt < this.limits.cooldownMs) throw this.failure;
    return this.download();
  }

  /**
   * A set requested after `since` (when a lookup found no key for a token's kid: a key rotated in
   * since the set was fetched). Within the cooldown of the last download it waits for the
   * cooldown's end and shares that one download, so a rotated key is picked up within
   * `cooldownMs` and a flood of unknown kids costs one download a cooldown. @throws KeySetError
   */
  async newerThan(since: number): Promise<FetchedKeySet> {
    if (this.current && this.current.requestedAt > since && this.fresh()) return this.current;
    if (this.downloading && this.downloading.startedAt > since) return this.downloading.set;
    if (this.waiting) return this.waiting;
    const wait = this.limits.cooldownMs - (performance.now() - this.settledAt);
    if (wait <= 0 && !this.downloading) return this.download();
    const scheduledAt = performance.now();
    this.waiting = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, wait));
      // A caller that gives up does not keep its process alive for the cooldown.
      (timer as { unref?: () => void }).unref?.();
    })
      .then(async () => {
        // The download in flight may have started before the kid was looked up: wait it out.
        while (this.downloading && this.downloading.startedAt <= scheduledAt) await this.downloading.set.catch(() => undefined);
        return this.downloading ? this.downloading.set : this.download();
      })
      .finally(() => (this.waiting = undefined));
    return this.waiting;
  }

  private download(): Promise<FetchedKeySet> {
    const startedAt = performance.now();
    const set = this.read().then(
      (jwks) => {
        try {
          this.current = new FetchedKeySet(jwks, startedAt, performance.now());
        } catch (error) {
          throw error instanceof KeySetError
            ? new KeySetError(`${this.url.href}: ${error.message}; check the issuer option (Lanyard's LANYARD_PUBLIC_URL) or jwksUrl.`)
            : new KeySetError(`${this.url.href} did not answer a JSON Web Key Set (${describe(error)}): check the issuer option or jwksUrl.`, {
                cause: error,
              });
        }
        this.failure = undefined;
        return this.current;
      },
      (error: unknown) => {
        throw error instanceof KeySetError ? error : new KeySetError(String(error), { cause: error });
      },
    );
    this.downloading = { startedAt, set };
    void set
      .catch((error: KeySetError) => (this.failure = error))
      .finally(() => {
        this.settledAt = performance.now();
        if (this.downloading?.set === set) this.downloading = undefined;
      });
    return set;
  }

  private async read(): Promise<unknown> {
    const where = this.url.href;
    let response: Response;
    let text: string | undefined;
    try {
      const signal = AbortSignal.timeout(this.limits.timeoutMs);
      // Not redirected: a redirect would let whoever answers at its target choose the keys.
      response = await fetch(this.url, { headers: { accept: 'application/json' }, redirect: 'manual', signal });
      if (REDIRECTS.has(response.status)) {
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
      text = await readCapped(response, MAX_JWKS_BYTES);
    } catch (error) {
      if (error instanceof KeySetError) throw error;
      throw new KeySetError(unreachable(where, error, this.limits.timeoutMs), { cause: error });
    }
    if (text === undefined) throw new KeySetError(`${where} answered more than ${MAX_JWKS_BYTES} bytes: that is not Lanyard's JWKS; check jwksUrl.`);
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new KeySetError(
        `${where} did not answer JSON: that is not Lanyard's JWKS (a proxy's page?); check the issuer option (Lanyard's LANYARD_PUBLIC_URL) or jwksUrl.`,
        {
          cause: error,
        },
      );
    }
  }
}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Why a request or its body failed on the way: a timeout, an untrusted certificate, or the network. */
function unreachable(where: string, error: unknown, timeoutMs: number): string {
  if ((error as Error)?.name === 'TimeoutError') {
    return `${where} did not answer within ${timeoutMs} ms: check that this backend reaches Lanyard (or raise timeoutMs).`;
  }
  const code = describe(error);
  if (/CERT|SSL|TLS/.test(code)) {
    return `${where} presented a certificate this backend does not trust (${code}): add the CA that signed Lanyard's certificate (NODE_EXTRA_CA_CERTS) or fix the certificate.`;
  }
  return `${where} could not be reached (${code}): check that this backend reaches Lanyard at that address.`;
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
