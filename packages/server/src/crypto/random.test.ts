import { describe, expect, it } from 'vitest';
import { randomBytesPooled, randomToken } from './random.ts';

describe('randomBytesPooled', () => {
  it('gives the size asked, never the same bytes twice, across many pool refills', () => {
    const seen = new Set<string>();
    // 4 KiB pool, 12 bytes a draw: about 12 refills, each crossing a pool boundary.
    for (let i = 0; i < 4000; i++) {
      const bytes = randomBytesPooled(12);
      expect(bytes).toHaveLength(12);
      seen.add(bytes.toString('hex'));
    }
    expect(seen.size).toBe(4000);
  });

  it('hands out copies: changing one draw does not change the next', () => {
    const first = randomBytesPooled(32);
    const second = randomBytesPooled(32);
    const secondBefore = second.toString('hex');
    first.fill(0xff);
    expect(second.toString('hex')).toBe(secondBefore);
    expect(randomBytesPooled(32).equals(Buffer.alloc(32, 0xff))).toBe(false);
  });

  it('is not biased towards zero bytes (the pool zeroes what it gave out)', () => {
    let zeros = 0;
    const draws = 2000;
    for (let i = 0; i < draws; i++) for (const byte of randomBytesPooled(16)) if (byte === 0) zeros++;
    // Expected 16 * 2000 / 256 = 125 zero bytes; a pool handing out zeroed bytes would give thousands.
    expect(zeros).toBeLessThan(250);
  });

  it('draws sizes over 256 bytes straight from the generator', () => {
    const big = randomBytesPooled(1024);
    expect(big).toHaveLength(1024);
    expect(new Set(big).size).toBeGreaterThan(200);
  });

  it('makes 256-bit tokens with their prefix', () => {
    const token = randomToken('lrt_');
    expect(token).toMatch(/^lrt_[A-Za-z0-9_-]{43}$/);
    expect(randomToken('lrt_')).not.toBe(token);
  });
});
