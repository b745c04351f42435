import { KeyObject, sign } from 'node:crypto';
import type { CryptoKey } from 'jose';

/** KeyObjects of the signing keys (one conversion per key, not per token). */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/**
 * Signs a compact JWS with ES256 (RFC 7515 §7.1, RFC 7518 §3.4: the signature is R || S, 64
 * bytes) through node:crypto's synchronous `sign`. jose signs through WebCrypto, whose every call
 * is an asynchronous job on the thread pool: on a refresh grant that dispatch cost more than the
 * signature. Verification stays with jose (every check it makes is what a relying party makes).
 */
export function signEs256(header: Record<string, unknown>, claims: Record<string, unknown>, key: CryptoKey): string {
  let keyObject = keyObjects.get(key);
  if (!keyObject) keyObjects.set(key, (keyObject = KeyObject.from(key as unknown as Parameters<typeof KeyObject.from>[0])));
  const input = `${base64url(header)}.${base64url(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: keyObject, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

const base64url = (value: Record<string, unknown>) => Buffer.from(JSON.stringify(value)).toString('base64url');
