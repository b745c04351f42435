import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** SQLite's own default for `wal_autocheckpoint` (pages): what the connection returns to on a fall-back. */
export const SQLITE_DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export interface WalCheckpointerOptions {
  /** Milliseconds between the worker's passive checkpoints. */
  intervalMs: number;
  /**
   * The main connection's `wal_autocheckpoint` (pages) while the worker runs: the WAL's bound.
   * Under unbroken writes a checkpoint from another connection never reaches the WAL's end (new
   * frames arrive while it copies), and only one that does lets the next writer start the WAL
   * file over (https://sqlite.org/wal.html, "Avoiding Excessively Large WAL Files"). Past this
   * size the writer checkpoints once itself, copying only what the worker has not yet copied,
   * and the WAL file is cut back to this size (`journal_size_limit`). 10,000 pages is 40 MB at
   * SQLite's 4 KiB page; sustained writes of several hundred transactions a second reach it.
   * Refresh grants at saturation ran 4 % faster with it than with 4,000 pages (16 MB).
   */
  mainThreadCapPages: number;
}

const DEFAULTS: WalCheckpointerOptions = { intervalMs: 100, mainThreadCapPages: 10_000 };

/**
 * The worker's program, run with `eval` so that it works unchanged under the tsx loader, from
 * tsc's `dist/` and from a single-file bundle: it loads better-sqlite3 by the absolute path the
 * main thread resolved. PASSIVE never waits for anyone: it copies what the WAL holds when it
 * starts, syncs the database file, and leaves writers alone.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.filename, { fileMustExist: true });
let timer;
function checkpoint() {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // A failure that repeats (disk full, I/O error) would repeat every round: report it once and
    // end, and the main connection checkpoints on its own again.
    parentPort.postMessage({ error: String((error && error.message) || error) });
    db.close();
    parentPort.close();
    return;
  }
  timer = setTimeout(checkpoint, workerData.intervalMs);
}
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
timer = setTimeout(checkpoint, workerData.intervalMs);
`;

/**
 * Runs SQLite's WAL checkpoints on a worker thread with a connection of its own, so that copying
 * the WAL back into the database and the fsync that follows never block the event loop. Without
 * it, every ~1,000 written pages a committing request pays both (measured: refresh grants on
 * SQLite ran 1.19–1.29× as fast with it; docs/benchmarks.md "Sixth round").
 *
 * While the worker runs, the main connection checkpoints only past `mainThreadCapPages`, which a
 * few hundred writes a second never reach (a passive checkpoint from the worker lets the WAL
 * start over whenever no commit lands while it copies); past that pace, the writer checkpoints
 * once per cap, copying what the worker has not. If the worker cannot start, fails or stops, the
 * connection goes back to SQLite's default (1,000 pages), so the WAL never grows without a
 * checkpointer. In-memory databases have no WAL and get no worker.
 */
export class WalCheckpointer {
  private worker: Worker | undefined;
  private stopping = false;

  private constructor(private readonly db: Database.Database) {}

  /**
   * Starts the worker for `filename` (already opened by `db` in WAL mode).
   * Never throws itself: a worker that cannot start leaves SQLite's own checkpoints in place.
   * @param onError told, once each, of a checkpoint that failed, of a worker that could not
   *   start, and of the worker's end (then the main connection checkpoints again on its own)
   */
  static start(
    db: Database.Database,
    filename: string,
    onError: (message: string) => void = () => undefined,
    options: Partial<WalCheckpointerOptions> = {},
  ): WalCheckpointer {
    const checkpointer = new WalCheckpointer(db);
    const settings = { ...DEFAULTS, ...options };
    let worker: Worker;
    try {
      const driver = createRequire(import.meta.url).resolve('better-sqlite3');
      worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, filename, intervalMs: settings.intervalMs } });
    } catch (error) {
      onError(`the WAL checkpoint worker could not start (${(error as Error).message}); checkpoints run on the main thread`);
      return checkpointer;
    }
    worker.on('message', (message: { error?: string }) => {
      if (message.error) onError(`WAL checkpoint failed: ${message.error}`);
    });
    const fallBack = (why: string) => {
      if (checkpointer.worker !== worker) return;
      checkpointer.worker = undefined;
      if (checkpointer.stopping || !db.open) return;
      db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT_PAGES}`);
      onError(`the WAL checkpoint worker ended (${why}); checkpoints run on the main thread again`);
    };
    worker.on('error', (error) => fallBack(error.message));
    worker.on('exit', (code) => fallBack(`exit code ${code}`));
    // After the listeners: adding a 'message' listener refs the worker again. A process that
    // never closes its storage (a CLI command failing on its configuration) must still exit.
    worker.unref();
    checkpointer.worker = worker;
    db.pragma(`wal_autocheckpoint = ${settings.mainThreadCapPages}`);
    db.pragma(`journal_size_limit = ${settings.mainThreadCapPages * 4096}`);
    return checkpointer;
  }

  /** True while the worker does the checkpoints. */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Stops the worker and gives the checkpoints back to the main connection, before it closes
   * (its close then checkpoints what is left). Resolves once the worker has closed its connection.
   */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    // A worker in the middle of a checkpoint (its fsync on a slow disk) still ends promptly.
    const timeout = setTimeout(() => void worker.terminate(), 1000);
    await exited;
    clearTimeout(timeout);
    this.worker = undefined;
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT_PAGES}`);
  }
}
