/** How far calls are coalesced (StatementBatches). */
export interface BatchLimits {
  /**
   * Batches in flight that hold back the next one: with 1, every call that arrives while one is
   * out joins the next batch.
   */
  maxInFlight: number;
  /** Batches out at once at most, stalled ones included (`stalledAfterMs`): bounds the connections a stall can take. */
  maxOutstanding: number;
  /** Calls in one batch at most; the rest wait for the next. */
  maxBatch: number;
  /**
   * After this many ms a batch still in flight stops holding back the next one (it still
   * answers its own calls when it returns): a stalled connection or a statement stuck behind a
   * lock delays the calls in its batch, not every call after it.
   */
  stalledAfterMs: number;
}

/**
 * Coalesces concurrent calls of one storage step into one statement ("natural" batching: no call
 * waits for a timer to be sent). A call made while fewer than `maxInFlight` batches are in flight
 * (and fewer than `maxOutstanding` out) is sent at once; calls made meanwhile queue, and go
 * together as the next batch when one returns (or stalls, `stalledAfterMs`), in the order they
 * were made. With no concurrency nothing changes (every batch holds one call); under load each
 * round trip carries the calls that arrived during the one before, so the database's cost per
 * statement (the protocol round trip, executor start-up) is paid once per batch instead of once
 * per call.
 *
 * `runBatch` settles every call of a batch, in order (a call it rejects rejects alone); when it
 * throws, every call of that batch rejects with its error. Later batches run either way.
 */
export class StatementBatches<Input, Output> {
  private readonly queue: Array<{ input: Input; resolve: (output: Output) => void; reject: (error: unknown) => void }> = [];
  /** Batches in flight that still hold back the next one (not yet returned, not stalled). */
  private holding = 0;
  /** Batches sent and not yet returned, stalled ones included. */
  private outstanding = 0;

  constructor(
    private readonly runBatch: (inputs: Input[]) => Promise<Array<PromiseSettledResult<Output>>>,
    private readonly limits: BatchLimits,
  ) {}

  run(input: Input): Promise<Output> {
    return new Promise<Output>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.sendBatches();
    });
  }

  private sendBatches(): void {
    while (this.holding < this.limits.maxInFlight && this.outstanding < this.limits.maxOutstanding && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.limits.maxBatch);
      this.holding++;
      this.outstanding++;
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        clearTimeout(stall);
        this.holding--;
        this.sendBatches();
      };
      const returned = () => {
        this.outstanding--;
        if (held) release();
        else this.sendBatches();
      };
      const stall = setTimeout(release, this.limits.stalledAfterMs);
      stall.unref();
      // A synchronous throw in runBatch rejects the batch like an asynchronous one.
      Promise.resolve()
        .then(() => this.runBatch(batch.map((call) => call.input)))
        .then((outputs) => {
          if (outputs.length !== batch.length) throw new Error(`a batch of ${batch.length} calls answered ${outputs.length}`);
          batch.forEach((call, i) => {
            const output = outputs[i]!;
            if (output.status === 'fulfilled') call.resolve(output.value);
            else call.reject(output.reason);
          });
        })
        .catch((error: unknown) => batch.forEach((call) => call.reject(error)))
        .finally(returned);
    }
  }
}
