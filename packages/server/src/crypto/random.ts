import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** An unguessable opaque value (256 bits), URL-safe. */
export function randomToken(prefix = ''): string {
  return prefix + randomBytes(32).toString('base64url');
}

/**
 * `length` random letters and digits (about 5.95 bits each): for identifiers people pass on a
 * command line, where a leading `-` would read as an option.
 */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) out += randomBytes(length).toString('base64url').replace(/[-_]/g, '');
  return out.slice(0, length);
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
