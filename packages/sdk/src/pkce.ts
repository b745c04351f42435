/**
 * PKCE (RFC 7636) with the S256 method only, and the random values for `state` and `nonce`.
 * Web Crypto only: no dependency, and the same code runs in browsers and in Node 20.
 */

type RandomSource = (bytes: Uint8Array) => Uint8Array;

const defaultRandom: RandomSource = (bytes) => globalThis.crypto.getRandomValues(bytes);

/** base64url without padding (RFC 7636 Appendix A). */
export function base64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A random URL-safe string carrying `byteLength` bytes of entropy (32 → 43 characters). */
export function randomString(byteLength = 32, random: RandomSource = defaultRandom): string {
  return base64Url(random(new Uint8Array(byteLength)));
}

/** `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2). */
export async function codeChallengeS256(verifier: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

export interface PkcePair {
  verifier: string;
  challenge: string;
}

/** A fresh verifier (32 random bytes, 43 characters) and its S256 challenge. */
export async function createPkcePair(random: RandomSource = defaultRandom): Promise<PkcePair> {
  const verifier = randomString(32, random);
  return { verifier, challenge: await codeChallengeS256(verifier) };
}
