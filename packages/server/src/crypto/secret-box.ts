import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.ts';

/**
 * Encrypts secrets at rest (signing keys, upstream client secrets) with AES-256-GCM under a key
 * derived from LANYARD_SECRET_KEY. Derived sub-keys keep one purpose per key.
 */
export class SecretBox {
  private readonly encryptionKey: Buffer;
  private readonly rootKey: Buffer;

  constructor(rootKey: Buffer) {
    if (rootKey.length !== 32) throw new Error('The secret key must be 32 bytes');
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
        'A secret stored in the database cannot be decrypted: LANYARD_SECRET_KEY is not the key this database was set up with (or the stored value was altered). Start with the original key.',
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
