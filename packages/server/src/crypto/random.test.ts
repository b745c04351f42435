import { describe, expect, it } from 'vitest';
import { randomAlphanumeric } from './random.ts';

describe('randomAlphanumeric', () => {
  it('gives exactly the length asked, letters and digits only (never a leading "-" a CLI reads as an option)', () => {
    const drawn = Array.from({ length: 2000 }, () => randomAlphanumeric(32));
    for (const id of drawn) expect(id).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(new Set(drawn).size).toBe(drawn.length);
  });
});
