import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.ts';

/** Where a SecretBox's root key came from, for the messages that blame it. */
export interface SecretKeySource {
  /** The key as an operator knows it: "LANYARD_SECRET_KEY", or the development key's file. */
  name: string;
  /** The database it opens, as `databaseLabel` prints it; "the database" when not known. */
  database?: string;
  /** What to do when the database was set up with another key. */
  fix: string;
}

/** LANYARD_SECRET_KEY as the source, opening `database` (a `databaseLabel`). */
export function environmentKey(database?: string): SecretKeySource {
  return { name: 'LANYARD_SECRET_KEY', database, fix: 'Start with the key it was set up with (if that is the key, a stored value was altered).' };
}

/**
 * Encrypts secrets at rest (signing keys, upstream client secrets) with AES-256-GCM under a key
 * derived from LANYARD_SECRET_KEY. Derived sub-keys keep one purpose per key.
 * Throws ConfigError (10001) for a root key that is not 32 bytes, naming `source`.
 */
export class SecretBox {
  private readonly encryptionKey: Buffer;
  private readonly rootKey: Buffer;

  constructor(
    rootKey: Buffer,
    private readonly source: SecretKeySource = environmentKey(),
  ) {
    if (rootKey.length !== 32)
      throw new ConfigError(`${source.name} must be 32 random bytes, base64 (openssl rand -base64 32); it holds ${rootKey.length}`);
    this.rootKey = rootKey;
    this.encryptionKey = this.deriveKey('lanyard/secret-box/v1');
  }

  /** A 32-byte key for one purpose (HKDF-SHA256). */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.rootKey, Buffer.alloc(0), purpose, 32));
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(sealed: string): string {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== 'v1' || !iv || !body || !tag) throw new Error('Not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      // GCM's own words ("unable to authenticate data") would not tell an operator what to fix.
      throw new ConfigError(
        `A secret stored in ${this.source.database ?? 'the database'} cannot be decrypted with ${this.source.name}: the database was set up with another key. ${this.source.fix}`,
      );
    }
  }

  /** Derived once per purpose: the refresh grant computes an HMAC on every request. */
  private readonly hmacKeys = new Map<string, Buffer>();

  hmac(purpose: string, value: string): string {
    let key = this.hmacKeys.get(purpose);
    if (!key) this.hmacKeys.set(purpose, (key = this.deriveKey(purpose)));
    return createHmac('sha256', key).update(value).digest('base64url');
  }
}
