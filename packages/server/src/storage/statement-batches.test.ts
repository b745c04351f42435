import { describe, expect, it } from 'vitest';
import { StatementBatches } from './statement-batches.ts';

/** A batch runner whose batches finish only when the test says so; it records what each batch held. */
function heldRunner<T>(answer: (input: T) => unknown = (input) => `answer ${String(input)}`) {
  const batches: T[][] = [];
  const pending: Array<{ finish: () => void; fail: (error: Error) => void }> = [];
  const runBatch = (inputs: T[]) =>
    new Promise<Array<PromiseSettledResult<unknown>>>((resolve, reject) => {
      batches.push(inputs);
      pending.push({ finish: () => resolve(inputs.map((input) => ({ status: 'fulfilled', value: answer(input) }))), fail: reject });
    });
  return { batches, pending, runBatch };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('StatementBatches', () => {
  it('sends a call at once when nothing is in flight, and the calls made meanwhile together next, in order', async () => {
    const runner = heldRunner<number>();
    const batches = new StatementBatches(runner.runBatch, { maxInFlight: 1, maxOutstanding: 8, maxBatch: 64, stalledAfterMs: 60_000 });
    const first = batches.run(1);
    const rest = [2, 3, 4].map((n) => batches.run(n));
    await settle();
    expect(runner.batches).toEqual([[1]]);
    runner.pending[0]!.finish();
    expect(await first).toBe('answer 1');
    await settle();
    expect(runner.batches).toEqual([[1], [2, 3, 4]]);
    runner.pending[1]!.finish();
    expect(await Promise.all(rest)).toEqual(['answer 2', 'answer 3', 'answer 4']);
  });

  it('keeps up to maxInFlight batches in flight and at most maxBatch calls in one', async () => {
    const runner = heldRunner<number>();
    const batches = new StatementBatches(runner.runBatch, { maxInFlight: 2, maxOutstanding: 8, maxBatch: 3, stalledAfterMs: 60_000 });
    const results = Array.from({ length: 9 }, (_, i) => batches.run(i));
    await settle();
    // Two in flight, each sent the moment a slot was free: the first two calls alone.
    expect(runner.batches).toEqual([[0], [1]]);
    runner.pending[1]!.finish();
    await settle();
    expect(runner.batches).toEqual([[0], [1], [2, 3, 4]]);
    runner.pending[0]!.finish();
    await settle();
    expect(runner.batches).toEqual([[0], [1], [2, 3, 4], [5, 6, 7]]);
    runner.pending[2]!.finish();
    await settle();
    expect(runner.batches.at(-1)).toEqual([8]);
    runner.pending[3]!.finish();
    runner.pending[4]!.finish();
    expect(await Promise.all(results)).toEqual(Array.from({ length: 9 }, (_, i) => `answer ${i}`));
  });

  it('stops holding back the next batch once one has been out for stalledAfterMs, and still answers its calls', async () => {
    const runner = heldRunner<number>();
    const batches = new StatementBatches(runner.runBatch, { maxInFlight: 1, maxOutstanding: 8, maxBatch: 64, stalledAfterMs: 50 });
    const stalled = batches.run(1);
    const next = [2, 3].map((n) => batches.run(n));
    await settle();
    expect(runner.batches).toEqual([[1]]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    // The first is still out: the waiting calls went without it.
    expect(runner.batches).toEqual([[1], [2, 3]]);
    runner.pending[1]!.finish();
    expect(await Promise.all(next)).toEqual(['answer 2', 'answer 3']);
    runner.pending[0]!.finish();
    expect(await stalled).toBe('answer 1');
    // Released once, not twice: one batch in flight still holds back the next.
    const fourth = batches.run(4);
    const fifth = batches.run(5);
    await settle();
    expect(runner.batches).toEqual([[1], [2, 3], [4]]);
    runner.pending[2]!.finish();
    await fourth;
    await settle();
    expect(runner.batches.at(-1)).toEqual([5]);
    runner.pending[3]!.finish();
    await fifth;
  });

  it('keeps at most maxOutstanding batches out when they stall, and sends more as they return', async () => {
    const runner = heldRunner<number>();
    const batches = new StatementBatches(runner.runBatch, { maxInFlight: 1, maxOutstanding: 2, maxBatch: 64, stalledAfterMs: 20 });
    const first = [1, 2, 3].map((n) => batches.run(n));
    await new Promise((resolve) => setTimeout(resolve, 40));
    // The first stalled and let the second go.
    expect(runner.batches).toEqual([[1], [2, 3]]);
    const more = [4, 5].map((n) => batches.run(n));
    await new Promise((resolve) => setTimeout(resolve, 60));
    // Both stalled, nothing holds the next back, but two are out: 4 and 5 wait.
    expect(runner.batches).toHaveLength(2);
    runner.pending[0]!.finish();
    await settle();
    expect(runner.batches).toEqual([[1], [2, 3], [4, 5]]);
    runner.pending[1]!.finish();
    runner.pending[2]!.finish();
    expect(await Promise.all([...first, ...more])).toEqual(['answer 1', 'answer 2', 'answer 3', 'answer 4', 'answer 5']);
  });

  it('rejects every call of a failed batch with its error, and still runs the next batch', async () => {
    const runner = heldRunner<number>();
    const batches = new StatementBatches(runner.runBatch, { maxInFlight: 1, maxOutstanding: 8, maxBatch: 64, stalledAfterMs: 60_000 });
    const first = batches.run(1);
    const failed = [batches.run(2), batches.run(3)];
    await settle();
    runner.pending[0]!.finish();
    await first;
    const later = batches.run(4);
    await settle();
    expect(runner.batches).toEqual([[1], [2, 3, 4]]);
    const error = new Error('database gone');
    runner.pending[1]!.fail(error);
    await expect(Promise.all(failed)).rejects.toBe(error);
    await expect(later).rejects.toBe(error);
    const after = batches.run(5);
    await settle();
    runner.pending[2]!.finish();
    expect(await after).toBe('answer 5');
  });

  it('rejects only the calls the runner rejects', async () => {
    const batches = new StatementBatches<number, number>(
      async (inputs) =>
        inputs.map((n) => (n % 2 ? { status: 'rejected', reason: new Error(`refused ${n}`) } : { status: 'fulfilled', value: n * 10 })),
      { maxInFlight: 1, maxOutstanding: 8, maxBatch: 64, stalledAfterMs: 60_000 },
    );
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => batches.run(n)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['refused 1', 20, 'refused 3', 40]);
  });

  it('rejects the batch when its runner throws at once or answers the wrong number of calls', async () => {
    const throwing = new StatementBatches<number, string>(
      () => {
        throw new Error('bad statement');
      },
      { maxInFlight: 1, maxOutstanding: 8, maxBatch: 64, stalledAfterMs: 60_000 },
    );
    await expect(throwing.run(1)).rejects.toThrow('bad statement');
    await expect(throwing.run(2)).rejects.toThrow('bad statement');
    const short = new StatementBatches<number, string>(async (inputs) => inputs.slice(1).map((n) => ({ status: 'fulfilled', value: String(n) })), {
      maxInFlight: 1,
      maxOutstanding: 8,
      maxBatch: 64,
      stalledAfterMs: 60_000,
    });
    await expect(short.run(1)).rejects.toThrow('a batch of 1 calls answered 0');
  });
});
