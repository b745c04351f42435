import { describe, expect, it } from 'vitest';
import { randomAlphanumeric, randomIdBytes, randomToken } from './random.ts';

describe('randomAlphanumeric', () => {
  it('gives exactly the length asked, letters and digits only (never a leading "-" a CLI reads as an option)', () => {
    const drawn = Array.from({ length: 2000 }, () => randomAlphanumeric(32));
    for (const id of drawn) expect(id).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(new Set(drawn).size).toBe(drawn.length);
  });
});

describe('randomIdBytes', () => {
  it('gives the size asked, never the same bytes twice, across many pool refills', () => {
    const seen = new Set<string>();
    // 4 KiB pool, 12 bytes a draw: about 12 refills, each crossing a pool boundary.
    for (let i = 0; i < 4000; i++) {
      const bytes = randomIdBytes(12);
      expect(bytes).toHaveLength(12);
      seen.add(bytes.toString('hex'));
    }
    expect(seen.size).toBe(4000);
  });

  it('hands out copies: changing one draw does not change the next', () => {
    const first = randomIdBytes(32);
    const second = randomIdBytes(32);
    const secondBefore = second.toString('hex');
    first.fill(0xff);
    expect(second.toString('hex')).toBe(secondBefore);
    expect(randomIdBytes(32).equals(Buffer.alloc(32, 0xff))).toBe(false);
  });

  it('is not biased towards zero bytes (the pool zeroes what it gave out)', () => {
    let zeros = 0;
    const draws = 2000;
    for (let i = 0; i < draws; i++) for (const byte of randomIdBytes(16)) if (byte === 0) zeros++;
    // Expected 16 * 2000 / 256 = 125 zero bytes; a pool handing out zeroed bytes would give thousands.
    expect(zeros).toBeLessThan(250);
  });

  it('refuses a size that is not an integer from 1 to 256 (a fractional one would make draws overlap)', () => {
    for (const size of [0, -1, 1.5, 257, Number.NaN]) expect(() => randomIdBytes(size)).toThrow(RangeError);
  });

  it('makes 256-bit tokens with their prefix', () => {
    const token = randomToken('lrt_');
    expect(token).toMatch(/^lrt_[A-Za-z0-9_-]{43}$/);
    expect(randomToken('lrt_')).not.toBe(token);
  });
});
