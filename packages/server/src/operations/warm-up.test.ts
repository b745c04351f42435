import { describe, expect, it } from 'vitest';
import { warmUp } from './warm-up.ts';

describe('warmUp', () => {
  it('is warm once every step has settled, a failed step included', async () => {
    let finishLast!: () => void;
    const last = new Promise<void>((resolve) => (finishLast = resolve));
    let outcome: string | undefined;
    const warming = warmUp([Promise.resolve(1), Promise.reject(new Error('reported by its caller')), last], 5_000).then((o) => (outcome = o));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(outcome).toBeUndefined();
    finishLast();
    await warming;
    expect(outcome).toBe('warm');
  });

  it('stops waiting at the limit when a step never settles', async () => {
    const started = performance.now();
    expect(await warmUp([new Promise(() => undefined)], 50)).toBe('timed-out');
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });
});
