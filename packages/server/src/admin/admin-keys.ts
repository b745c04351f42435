import { randomBytes } from 'node:crypto';
import { safeEqual, sha256 } from '../crypto/random.ts';
import { NotFoundError } from '../errors.ts';
import { newSid, requireSid } from '../ids.ts';
import type { InSameTransaction, Storage } from '../storage/port.ts';

const KIND = 'admin_key';
/** `lk_` + the key's SID + `_` + 256 random bits: the SID makes a leaked key easy to find and revoke. */
const SECRET_FORM = /^lk_(SK[0-9a-fA-F]{32})_[A-Za-z0-9_-]{43}$/;
/** Writing lastUsedAt on every request would make each admin call a database write. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface AdminKey {
  sid: string;
  name: string;
  createdAt: number;
  lastUsedAt?: number;
}

/**
 * API keys for the admin API. Only the SHA-256 of a secret is stored (the record's `lookup`),
 * so the secret is shown once, at creation, and a database leak does not leak working keys.
 */
export class AdminKeys {
  constructor(private readonly storage: Storage) {}

  /**
   * Creates a key; the returned secret is not stored anywhere and cannot be shown again.
   * `alongside` commits with it (InSameTransaction).
   */
  async create(name = 'admin key', now = Date.now(), alongside?: InSameTransaction<AdminKey>): Promise<{ key: AdminKey; secret: string }> {
    const key: AdminKey = { sid: newSid('adminKey'), name: name.trim().slice(0, 200) || 'admin key', createdAt: now };
    const secret = `lk_${key.sid}_${randomBytes(32).toString('base64url')}`;
    await this.storage.transaction(async (tx) => {
      await tx.insert({ kind: KIND, id: key.sid, lookup: sha256(secret), payload: key, createdAt: now });
      await alongside?.(tx, key);
    });
    return { key, secret };
  }

  /** The key a secret belongs to, or undefined for anything else (malformed, unknown, revoked). */
  async verify(secret: string, now = Date.now()): Promise<AdminKey | undefined> {
    const form = SECRET_FORM.exec(secret);
    if (!form) return undefined;
    const record = await this.storage.findByLookup<AdminKey>(KIND, sha256(secret));
    if (!record || !safeEqual(record.id, form[1]!)) return undefined;
    const key = record.payload;
    if (key.lastUsedAt === undefined || now - key.lastUsedAt >= LAST_USED_RESOLUTION_MS) {
      const used = { ...key, lastUsedAt: now };
      // Never an upsert: a key revoked since it was read would come back. Not written when another
      // request wrote the key first (it noted the use, or renamed the key): the key as it is now.
      if (await this.storage.replace({ kind: KIND, id: key.sid, lookup: record.lookup, payload: used }, { ifPayload: key })) return used;
      return this.find(key.sid);
    }
    return key;
  }

  /** A key by SID, undefined once revoked (console sessions end with their key). */
  async find(sid: string): Promise<AdminKey | undefined> {
    return (await this.storage.find<AdminKey>(KIND, sid))?.payload;
  }

  async list(): Promise<AdminKey[]> {
    return (await this.storage.list<AdminKey>(KIND)).map((r) => r.payload);
  }

  async revoke(sid: string): Promise<void> {
    requireSid('adminKey', sid, 'AdminKeySid');
    if (!(await this.storage.destroy(KIND, sid))) throw new NotFoundError(`Admin key ${sid} was not found.`);
  }
}
