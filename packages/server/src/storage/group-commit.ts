/**
 * Synchronous writes asked for in the same turn of the event loop, committed together (a group
 * commit): `commit` runs the batch — every write, in the order asked — inside one transaction, and
 * each caller is answered once that transaction has committed: with its own write's result or
 * error, or, when the transaction did not commit, with why.
 *
 * A write that throws must have undone what it did itself (a savepoint: better-sqlite3's
 * transaction functions are one when called inside a transaction), so one write's failure undoes
 * no other. A failure that ended the whole transaction (SQLite rolls it back on some errors, a full
 * disk among them; `transactionActive` then says false) fails the writes of the batch with that
 * write's error, and those after it are not run: outside the transaction they would commit alone.
 *
 * Why: on SQLite a commit (BEGIN IMMEDIATE … COMMIT and the WAL frames of every page it changed)
 * was about a third of a refresh grant's time on the event loop; a batch pays for it once
 * (docs/benchmarks.md, twentieth round). A write waits for the rest of the current turn of the
 * event loop (`setImmediate`) and for whatever `commit` waits for (SqliteStorage: a transaction
 * open at the time), never for a timer.
 */
export class GroupCommit {
  private pending: PendingWrite[] = [];
  /** Batches asked for and not yet answered. */
  private readonly flushes = new Set<Promise<void>>();

  /**
   * @param commit runs `batch` inside one transaction and resolves once it committed; rejects when
   *   the transaction could not begin or commit (every write of the batch then rejects with that
   *   error), or when `batch` threw.
   * @param transactionActive whether the transaction `commit` opened is still open.
   */
  constructor(
    private readonly commit: (batch: () => void) => Promise<void>,
    private readonly transactionActive: () => boolean,
  ) {}

  /** `write`'s result once the batch it ran in has committed; its error, or the transaction's. */
  add<R>(write: () => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length > 1) return;
      const flush = new Promise<void>((next) => setImmediate(next)).then(() => this.flush());
      this.flushes.add(flush);
      void flush.finally(() => this.flushes.delete(flush));
    });
  }

  /** Settles once every write asked for so far has been answered. */
  async settled(): Promise<void> {
    while (this.flushes.size > 0) await Promise.all(this.flushes);
  }

  /** Never rejects: every outcome goes to its caller. */
  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const outcomes: Outcome[] = [];
    let ended: { error: unknown } | undefined;
    try {
      await this.commit(() => {
        for (const { write } of batch) {
          try {
            outcomes.push({ ok: true, value: write() });
          } catch (error) {
            outcomes.push({ ok: false, error });
            if (!this.transactionActive()) {
              ended = { error };
              break;
            }
          }
        }
        if (ended) throw ended.error;
      });
    } catch (error) {
      for (const pending of batch) pending.reject(ended ? ended.error : error);
      return;
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i];
      if (!outcome) pending.reject(new Error('GroupCommit: the transaction committed without running its batch'));
      else if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface PendingWrite {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}
