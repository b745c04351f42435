import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { randomBytes } from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { Storage } from '../storage/port.ts';

/** Access tokens (and the Flex surface) are ES256. */
export const SIGNING_ALG = 'ES256';
/**
 * ID tokens may be signed with either (OpenID Connect Core §15.1 makes RS256 the algorithm every
 * relying party supports); a client picks with `id_token_signed_response_alg`.
 */
export const ID_TOKEN_ALGS = ['RS256', 'ES256'] as const;
export type SigningAlg = (typeof ID_TOKEN_ALGS)[number];
/** One active key per algorithm: every rotation replaces both. */
const ALGS: readonly SigningAlg[] = ['ES256', 'RS256'];
const KIND = 'signing_key';
/** A row every rotation locks first, so rotations on several nodes (or the CLI) never interleave. */
const LOCK = { kind: 'signing_key_lock', id: 'rotation' };

interface SigningKeyRecord {
  kid: string;
  /** Records older than RS256 support carry ES256. */
  alg: SigningAlg;
  publicJwk: JWK;
  /** The private JWK, sealed with the secret key (never stored in clear). */
  sealedPrivateJwk: string;
  createdAt: number;
  /** After this, the key no longer signs; it still verifies until its tokens have expired. */
  retiredAt: number | null;
}

interface LoadedKey {
  record: SigningKeyRecord;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/**
 * Token signing keys: generated on first start, kept sealed in storage, published as JWKS.
 * The newest unretired key signs; every key not yet expired verifies, so rotation has overlap.
 */
export class SigningKeys {
  /** Whether `storage` holds any signing key (each sealed with the secret key it was set up with). */
  static async anyStored(storage: Storage): Promise<boolean> {
    return (await storage.list(KIND, { limit: 1 })).length > 0;
  }

  private keys: LoadedKey[] = [];
  private loadedAt = 0;
  /** Numbers the reloads in the order they read storage: `appliedRead` is the one `keys` holds. */
  private reads = 0;
  private appliedRead = 0;
  /** Keys of these algorithms being created by this process (one creation per algorithm at a time). */
  private readonly creating = new Map<SigningAlg, Promise<void>>();
  /** How often `current()` re-reads storage for a rotation made elsewhere. */
  reloadEveryMs = 30_000;

  constructor(
    private readonly storage: Storage,
    private readonly secrets: SecretBox,
    /** How long a retired key keeps verifying: the longest token lifetime. */
    private readonly verifyOverlapMs: number,
  ) {}

  /**
   * Loads the keys and creates the missing ones (an empty database: one per algorithm).
   *
   * `deferred` algorithms are created in the background instead: `init` resolves without waiting
   * for them, and every use of such a key (`current`, `jwks`, `ready`) waits for its creation. A
   * server's start passes RS256: RSA-2048 generation takes 50–500 ms (libuv pool), and nothing
   * before the first ID-token or JWKS request needs that key. A failed background creation goes
   * to `onDeferredError` and is retried by the next use.
   */
  async init(options: { deferred?: readonly SigningAlg[]; onDeferredError?: (error: Error) => void } = {}): Promise<void> {
    await this.reload();
    const deferred = ALGS.filter((alg) => options.deferred?.includes(alg));
    if (deferred.length > 0) {
      this.ensure(deferred).catch((error: unknown) => options.onDeferredError?.(error as Error));
    }
    await this.ensure(ALGS.filter((alg) => !deferred.includes(alg)));
  }

  /** Resolves once there is an active key of every algorithm (creating any that is missing). */
  ready(): Promise<void> {
    return this.ensure(ALGS);
  }

  /** Resolves once no key creation of this process is in flight (before storage closes); never rejects. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.creating.values()]);
  }

  /**
   * Adds a new signing key per algorithm and retires the current ones (they keep verifying).
   * Returns the kid of the new ES256 key (the one access tokens use).
   */
  async rotate(now = Date.now()): Promise<string> {
    return (await this.add(ALGS, now, { unlessActive: false })).get(SIGNING_ALG)!;
  }

  /**
   * Creates an active key of each of `algs` that has none, once per process: a caller that
   * finds a creation in flight waits for it. Race-safe across nodes (`add` with `unlessActive`).
   */
  private ensure(algs: readonly SigningAlg[]): Promise<void> {
    const missing = algs.filter((alg) => !this.activeKey(alg) && !this.creating.has(alg));
    if (missing.length > 0) {
      const creation = this.add(missing, Date.now(), { unlessActive: true }).then(
        () => missing.forEach((alg) => this.creating.delete(alg)),
        (error: unknown) => {
          // Forgotten, so that the next use tries again.
          missing.forEach((alg) => this.creating.delete(alg));
          throw error;
        },
      );
      for (const alg of missing) this.creating.set(alg, creation);
    }
    return Promise.all(algs.map((alg) => this.creating.get(alg))).then(() => undefined);
  }

  /**
   * Stores a new key for each of `algs`, retiring the active ones. With `unlessActive`, keeps
   * each algorithm that another node (or this one) has given an active key meanwhile: several
   * nodes starting together on an empty database end with one key per algorithm.
   */
  private async add(algs: readonly SigningAlg[], now: number, options: { unlessActive: boolean }): Promise<Map<SigningAlg, string>> {
    const fresh = await Promise.all(algs.map((alg) => newRecord(alg, now, this.secrets)));
    const kids = await this.storage.transaction(async (tx) => {
      // The upsert row-locks LOCK until commit; the list below then sees every earlier rotation.
      await tx.upsert({ ...LOCK, payload: { at: now } });
      const active = (await tx.list<SigningKeyRecord>(KIND)).filter((k) => k.payload.retiredAt === null);
      const kids = new Map<SigningAlg, string>();
      for (const record of fresh) {
        const mine = active.filter((k) => (k.payload.alg ?? SIGNING_ALG) === record.alg);
        if (options.unlessActive && mine.length > 0) {
          kids.set(record.alg, mine[0]!.payload.kid);
          continue;
        }
        for (const old of mine) {
          await tx.upsert({ kind: KIND, id: old.id, payload: { ...old.payload, retiredAt: now }, expiresAt: now + this.verifyOverlapMs });
        }
        await tx.insert({ kind: KIND, id: record.kid, payload: record });
        kids.set(record.alg, record.kid);
      }
      return kids;
    });
    await this.reload();
    return kids;
  }

  async reload(): Promise<void> {
    // Reloads may overlap (a key created in the background, a rotation, the periodic re-read):
    // one that read storage earlier must not replace what a later one loaded.
    const read = ++this.reads;
    const records = await this.storage.list<SigningKeyRecord>(KIND);
    const known = new Map(this.keys.map((k) => [k.record.kid, k]));
    const next: LoadedKey[] = [];
    for (const { payload } of records) {
      const cached = known.get(payload.kid);
      if (cached && cached.record.retiredAt === payload.retiredAt) {
        next.push(cached);
        continue;
      }
      const privateJwk = JSON.parse(this.secrets.open(payload.sealedPrivateJwk)) as JWK;
      const record = { ...payload, alg: payload.alg ?? SIGNING_ALG };
      next.push({
        record,
        privateKey: (await importJWK(privateJwk, record.alg)) as CryptoKey,
        publicKey: (await importJWK(payload.publicJwk, record.alg)) as CryptoKey,
      });
    }
    if (read < this.appliedRead) return;
    this.appliedRead = read;
    this.keys = next;
    this.loadedAt = Date.now();
  }

  /** The key that signs now with `alg` (another node may have rotated: re-read at most every 30 s). */
  async current(alg: SigningAlg = SIGNING_ALG): Promise<{ kid: string; key: CryptoKey }> {
    if (Date.now() - this.loadedAt > this.reloadEveryMs) {
      // A database hiccup must not fail a grant that has already committed: keep signing with
      // the key we hold and look again on the next call.
      await this.reload().catch((error: unknown) => {
        if (!this.keys.some((k) => k.record.retiredAt === null)) throw error;
      });
    }
    const active = this.activeKey(alg);
    if (!active) {
      // Being created in the background since start-up, or never created here: wait for it.
      await this.ensure([alg]);
      return this.current(alg);
    }
    return { kid: active.record.kid, key: active.privateKey };
  }

  /** The newest unretired key of `alg` this process has loaded. */
  private activeKey(alg: SigningAlg): LoadedKey | undefined {
    return this.keys.filter((k) => k.record.retiredAt === null && k.record.alg === alg).sort((a, b) => b.record.createdAt - a.record.createdAt)[0];
  }

  /**
   * The verification key for a kid, only when it is a key of `alg` (a token's header names both;
   * a key must never verify under another algorithm). Reloads once for a kid created elsewhere.
   */
  async verificationKey(kid: string | undefined, alg: string = SIGNING_ALG): Promise<CryptoKey | undefined> {
    const find = () => this.keys.find((k) => k.record.kid === kid && k.record.alg === alg)?.publicKey;
    if (!kid) return undefined;
    const found = find();
    if (found) return found;
    if (Date.now() - this.loadedAt > 1_000) await this.reload();
    return find();
  }

  /**
   * RFC 7517 §5 JWK Set of every key that verifies; waits for a key still being created (start-up).
   * Re-read when older than LANYARD_SIGNING_KEY_RELOAD seconds, as signing does: every node
   * publishes a key rotated in elsewhere within that time, whether or not it has signed since (a
   * storage hiccup keeps the keys already loaded).
   */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.ready();
    if (Date.now() - this.loadedAt > this.reloadEveryMs) await this.reload().catch(() => undefined);
    return { keys: this.keys.map((k) => k.record.publicJwk) };
  }

  list(): Array<Pick<SigningKeyRecord, 'kid' | 'alg' | 'createdAt' | 'retiredAt'>> {
    return this.keys.map(({ record: { kid, alg, createdAt, retiredAt } }) => ({ kid, alg, createdAt, retiredAt }));
  }
}

async function newRecord(alg: SigningAlg, now: number, secrets: SecretBox): Promise<SigningKeyRecord> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const kid = randomBytes(12).toString('base64url');
  return {
    kid,
    alg,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
    sealedPrivateJwk: secrets.seal(JSON.stringify(await exportJWK(privateKey))),
    createdAt: now,
    retiredAt: null,
  };
}
