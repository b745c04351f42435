import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { randomBytes } from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { Storage } from '../storage/port.ts';

export const SIGNING_ALG = 'ES256';
const KIND = 'signing_key';
/** A row every rotation locks first, so rotations on several nodes (or the CLI) never interleave. */
const LOCK = { kind: 'signing_key_lock', id: 'rotation' };

interface SigningKeyRecord {
  kid: string;
  alg: typeof SIGNING_ALG;
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
    // Several nodes starting together on an empty database must end with one signing key.
    if (!this.keys.some((k) => k.record.retiredAt === null)) await this.rotate(Date.now(), { unlessActive: true });
  }

  /**
   * Adds a new signing key and retires the current ones (they keep verifying). With
   * `unlessActive`, does nothing when another node has created an active key meanwhile.
   */
  async rotate(now = Date.now(), options: { unlessActive?: boolean } = {}): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const kid = randomBytes(12).toString('base64url');
    const record: SigningKeyRecord = {
      kid,
      alg: SIGNING_ALG,
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' },
      sealedPrivateJwk: this.secrets.seal(JSON.stringify(await exportJWK(privateKey))),
      createdAt: now,
      retiredAt: null,
    };
    const signing = await this.storage.transaction(async (tx) => {
      // The upsert row-locks LOCK until commit; the list below then sees every earlier rotation.
      await tx.upsert({ ...LOCK, payload: { at: now } });
      const active = (await tx.list<SigningKeyRecord>(KIND)).filter((k) => k.payload.retiredAt === null);
      if (options.unlessActive && active.length > 0) return active[0]!.payload.kid;
      for (const old of active) {
        await tx.upsert({ kind: KIND, id: old.id, payload: { ...old.payload, retiredAt: now }, expiresAt: now + this.verifyOverlapMs });
      }
      await tx.insert({ kind: KIND, id: kid, payload: record });
      return kid;
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
      next.push({
        record: payload,
        privateKey: (await importJWK(privateJwk, SIGNING_ALG)) as CryptoKey,
        publicKey: (await importJWK(payload.publicJwk, SIGNING_ALG)) as CryptoKey,
      });
    }
    this.keys = next;
    this.loadedAt = Date.now();
  }

  /** The key that signs now (another node may have rotated: re-read at most every 30 s). */
  async current(): Promise<{ kid: string; key: CryptoKey }> {
    if (Date.now() - this.loadedAt > this.reloadEveryMs) {
      // A database hiccup must not fail a grant that has already committed: keep signing with
      // the key we hold and look again on the next call.
      await this.reload().catch((error: unknown) => {
        if (!this.keys.some((k) => k.record.retiredAt === null)) throw error;
      });
    }
    const active = this.keys.filter((k) => k.record.retiredAt === null).sort((a, b) => b.record.createdAt - a.record.createdAt)[0];
    if (!active) {
      await this.init();
      return this.current();
    }
    return { kid: active.record.kid, key: active.privateKey };
  }

  /** The verification key for a kid; reloads once for a kid created by another node. */
  async verificationKey(kid: string | undefined): Promise<CryptoKey | undefined> {
    const find = () => this.keys.find((k) => k.record.kid === kid)?.publicKey;
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
