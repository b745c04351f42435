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
  private keys: LoadedKey[] = [];
  private loadedAt = 0;
  /** How often `current()` re-reads storage for a rotation made elsewhere. */
  reloadEveryMs = 30_000;

  constructor(
    private readonly storage: Storage,
    private readonly secrets: SecretBox,
    /** How long a retired key keeps verifying: the longest token lifetime. */
    private readonly verifyOverlapMs: number,
  ) {}

  async init(): Promise<void> {
    await this.reload();
    // Several nodes starting together on an empty database must end with one key per algorithm.
    if (ALGS.some((alg) => !this.keys.some((k) => k.record.alg === alg && k.record.retiredAt === null)))
      await this.rotate(Date.now(), { unlessActive: true });
  }

  /**
   * Adds a new signing key per algorithm and retires the current ones (they keep verifying).
   * With `unlessActive`, keeps each algorithm that another node has given an active key
   * meanwhile. Returns the kid of the new ES256 key (the one access tokens use).
   */
  async rotate(now = Date.now(), options: { unlessActive?: boolean } = {}): Promise<string> {
    const fresh = await Promise.all(ALGS.map((alg) => newRecord(alg, now, this.secrets)));
    const signing = await this.storage.transaction(async (tx) => {
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
      return kids.get(SIGNING_ALG)!;
    });
    await this.reload();
    return signing;
  }

  async reload(): Promise<void> {
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
    const active = this.keys
      .filter((k) => k.record.retiredAt === null && k.record.alg === alg)
      .sort((a, b) => b.record.createdAt - a.record.createdAt)[0];
    if (!active) {
      await this.init();
      return this.current(alg);
    }
    return { kid: active.record.kid, key: active.privateKey };
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

  jwks(): { keys: JWK[] } {
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
