import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** An unguessable opaque value (256 bits), URL-safe. */
export function randomToken(prefix = ''): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** Tokens and codes are stored only as their SHA-256, so a database leak does not leak them. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
