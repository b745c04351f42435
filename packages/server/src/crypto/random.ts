import { createHash, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;

/**
 * `size` random bytes (1–256) for identifiers that are not secrets — a token's `jti`, SIDs, audit
 * event ids, which tokens, URLs and logs show anyway — from the operating system's CSPRNG
 * (OpenSSL's, as `randomBytes`), handed out from a 4 KiB buffer refilled whole when it runs out,
 * as Node's own `randomUUID` does. Each call into the generator costs about 5 µs on the bench's
 * virtual machines whatever its size, and one per request showed in the refresh profile. Bytes
 * given out are copied and zeroed in the pool, so no two callers share a byte. Secrets (tokens,
 * codes, keys, nonces) are drawn with `randomBytes` itself: the pool holds bytes not yet handed
 * out, which a heap snapshot or core dump would show.
 * @throws RangeError when `size` is not an integer from 1 to 256
 */
export function randomIdBytes(size: number): Buffer {
  if (!Number.isInteger(size) || size < 1 || size > 256) throw new RangeError(`randomIdBytes: size must be an integer from 1 to 256, not ${size}`);
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
