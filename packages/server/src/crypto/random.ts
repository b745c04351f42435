import { createHash, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;

/**
 * `size` bytes from the operating system's CSPRNG (OpenSSL's, as `randomBytes`), handed out from
 * a 4 KiB buffer refilled whole when it runs out, as Node's own `randomUUID` does: each call into
 * the generator costs about 5 µs on the bench's virtual machines whatever its size, so per-request
 * identifiers (token IDs, codes, nonces) drawn one call each showed in the profiles. Bytes given
 * out are copied and zeroed in the pool: no two callers ever share a byte. Sizes over 256 bytes
 * go to the generator directly.
 */
export function randomBytesPooled(size: number): Buffer {
  if (size > 256) return randomBytes(size);
  if (poolOffset + size > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = Buffer.from(pool.subarray(poolOffset, poolOffset + size));
  pool.fill(0, poolOffset, poolOffset + size);
  poolOffset += size;
  return bytes;
}

/** An unguessable opaque value (256 bits), URL-safe. */
export function randomToken(prefix = ''): string {
  return prefix + randomBytesPooled(32).toString('base64url');
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
