import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import { SamlVerificationUnavailableError } from '../errors.ts';
import { messageFromOutcome, type SamlVerificationOutcome, type VerifiedSamlMessage } from './saml-verified-message.ts';
import type { SamlVerificationTask } from './saml-verification-task.ts';

/** Runs the CPU-bound half of a SAML Response check (saml-message-verification.ts). */
export interface SamlMessageVerifier {
  /**
   * Resolves with the verified message; rejects with SamlResponseError (45010) as
   * `verifySamlMessage` does, or SamlVerificationUnavailableError (20530, 503) when the message
   * could not be verified now (see SamlVerificationPool).
   */
  verify(task: SamlVerificationTask): Promise<VerifiedSamlMessage>;
}

/** On the calling thread: tests, tools, and `LANYARD_SAML_WORKERS=0`. */
export const verifyOnThisThread: SamlMessageVerifier = {
  async verify(task) {
    const { verifySamlMessage } = await import('./saml-message-verification.ts');
    return verifySamlMessage(task);
  },
};

/** Loads what `verifyOnThisThread` needs (the XML stack), for a node whose workers cannot run (operations/warm-up.ts). */
export async function preloadVerificationOnThisThread(): Promise<void> {
  await import('./saml-message-verification.ts');
}

/** Longest a response may take to verify (ms): a legitimate one takes 5–15 ms, the largest accepted well under a second. */
const VERIFY_TIMEOUT_MS = 10_000;
/** Responses that may wait for a worker, per worker, before the next is refused with a 503. */
const QUEUE_PER_THREAD = 64;
/** Longest the workers' start-up check may take (ms): past it they are given up and responses are verified on the main thread. */
export const WORKER_START_TIMEOUT_MS = 30_000;
/** A message every worker refuses (not a SAML Response): the start-up check that workers load and answer. */
const PROBE: SamlVerificationTask = { xml: '<probe/>', certificates: ['-'], allowRsa15KeyTransport: false };

/**
 * SAML Responses verified on worker threads (piscina): an XML signature check is 5–15 ms of CPU
 * per sign-in, and on the event loop it held every other request behind it during a shift change
 * and left the node's other cores idle. Storage checks stay with the caller, on the main thread.
 *
 * The workers start with `start()` (once the server is ready: not during start-up) or with the
 * first response, and are checked with one probe message, which they must answer within 30 s of
 * starting. Then:
 * - workers that cannot start or answer here (a missing file, a loader) are given up at once:
 *   every response is verified on the calling thread, and `onWarning` says so;
 * - a response whose verification fails in the pool (its worker stopped; it was not verified
 *   within 10 s of arriving, waiting for a worker included; 64 responses per worker were
 *   already waiting) is refused with SamlVerificationUnavailableError (20530, 503), never
 *   verified again on the calling thread: a message that stops a worker must not reach the
 *   event loop. The pool replaces stopped workers; `onWarning` hears of each kind of failure at
 *   most once a minute;
 * - after `close()` (shutdown; it cuts the workers at once, started or starting), responses are
 *   refused the same way.
 */
export class SamlVerificationPool implements SamlMessageVerifier {
  /** The workers, once they answered the probe. */
  private pool: Piscina | undefined;
  /** The workers while the probe runs (close() destroys them at once). */
  private probing: Piscina | undefined;
  private starting: Promise<boolean> | undefined;
  private closed = false;
  /** Responses handed to the pool and not yet answered (running or waiting). */
  private inFlight = 0;
  private readonly threads: number;
  private readonly onWarning: (message: string) => void;
  private readonly workerFilename: string;
  private readonly timeoutMs: number;
  private readonly maxQueue: number;
  private readonly startTimeoutMs: number;
  private readonly lastWarned = new Map<string, number>();
  /** Responses verified so far, by where (for tests and the operator's curiosity). */
  readonly verified = { onWorkers: 0, onThisThread: 0 };

  /** True once the workers have answered their start-up check (and until `close()`). */
  get workersAnswering(): boolean {
    return this.pool !== undefined;
  }

  /**
   * @param options.threads worker threads (0: every response on the calling thread)
   * @param options.onWarning told when workers cannot start, and of failures in the pool (each kind at most once a minute)
   * @param options.workerFilename the worker module (default: saml-verification-worker beside this file)
   * @param options.timeoutMs longest verification (default 10 s); options.maxQueue responses that may wait (default 64 per thread)
   * @param options.startTimeoutMs longest the workers may take to answer their start-up check (default 30 s, WORKER_START_TIMEOUT_MS)
   */
  constructor(options: {
    threads: number;
    onWarning?: (message: string) => void;
    workerFilename?: string;
    timeoutMs?: number;
    maxQueue?: number;
    startTimeoutMs?: number;
  }) {
    this.threads = options.threads;
    this.onWarning = options.onWarning ?? (() => undefined);
    this.workerFilename = options.workerFilename ?? workerFile();
    this.timeoutMs = options.timeoutMs ?? VERIFY_TIMEOUT_MS;
    this.maxQueue = options.maxQueue ?? options.threads * QUEUE_PER_THREAD;
    this.startTimeoutMs = options.startTimeoutMs ?? WORKER_START_TIMEOUT_MS;
  }

  /**
   * Starts the workers and checks that they answer; resolves either way (see the class comment)
   * with where responses are verified, for the start-up log: "on 2 worker threads", "on the main thread (…)".
   */
  async start(): Promise<string> {
    if (await this.usable()) return `on ${this.threads} worker thread${this.threads === 1 ? '' : 's'} (LANYARD_SAML_WORKERS)`;
    if (this.closed) return 'nowhere: the node is shutting down';
    return this.threads === 0 ? 'on the main thread (LANYARD_SAML_WORKERS=0)' : 'on the main thread: the workers could not start';
  }

  async verify(task: SamlVerificationTask): Promise<VerifiedSamlMessage> {
    if (this.closed) throw shuttingDown();
    // From arrival: a response that waited for the workers to start counts that wait too.
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const usable = await this.usable();
    // Closed while the workers started: refused, not verified on this thread instead.
    if (this.closed) throw shuttingDown();
    if (!usable) {
      this.verified.onThisThread++;
      return verifyOnThisThread.verify(task);
    }
    const pool = this.pool!;
    // Counted here: piscina does not apply its own maxQueue to tasks that carry an AbortSignal.
    if (this.inFlight >= this.threads + this.maxQueue) {
      this.warn(
        'queue',
        `${this.maxQueue} SAML responses were already waiting for a verification worker; more were refused with 503 (LANYARD_SAML_WORKERS)`,
      );
      throw new SamlVerificationUnavailableError('this node is verifying too many sign-ins at once');
    }
    let outcome: SamlVerificationOutcome;
    this.inFlight++;
    try {
      outcome = (await pool.run(task, { signal: deadline })) as SamlVerificationOutcome;
    } catch (error) {
      throw this.unavailable(error);
    } finally {
      this.inFlight--;
    }
    this.verified.onWorkers++;
    return messageFromOutcome(outcome);
  }

  /** Stops the workers at once, started or starting (running verifications are cut); later responses are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool ?? this.probing;
    this.pool = undefined;
    await pool?.destroy().catch(() => undefined);
  }

  /** True when the workers answer; false when there are none, they cannot run here, or the pool is closed. */
  private usable(): Promise<boolean> {
    if (this.threads === 0 || this.closed) return Promise.resolve(false);
    this.starting ??= this.open();
    return this.starting;
  }

  private async open(): Promise<boolean> {
    let pool: Piscina | undefined;
    try {
      const { Piscina } = await import('piscina');
      // Closed while piscina loaded: start nothing (close() found nothing to stop).
      if (this.closed) return false;
      const filename = this.workerFilename;
      pool = new Piscina({
        filename,
        minThreads: this.threads,
        maxThreads: this.threads,
        idleTimeout: Infinity,
        // Workers inherit this process's flags (a loader such as tsx among them). Under a test
        // runner that transforms TypeScript itself (vitest), the .ts worker needs tsx.
        execArgv: filename.endsWith('.ts') && !process.execArgv.some((a) => a.includes('tsx')) ? ['--import', 'tsx'] : undefined,
      });
      this.probing = pool;
      // A worker that fails outside a task (it could not load its module, or died between tasks):
      // an 'error' event, which unhandled would end the process. Piscina starts another. Until
      // the probe has answered, the probe's own failure says it (once).
      pool.on('error', (error: unknown) => {
        if (this.pool === pool) this.warn('worker', `a SAML verification worker failed: ${describeError(error)}`);
      });
      const probe = (await pool.run(PROBE, { signal: AbortSignal.timeout(this.startTimeoutMs) })) as SamlVerificationOutcome;
      if (probe.ok || probe.refusal !== 'response')
        throw new Error(`a worker answered the start-up check with ${JSON.stringify(probe).slice(0, 200)}`);
      if (this.closed) throw new Error('closed while starting');
      this.pool = pool;
      return true;
    } catch (error) {
      await pool?.destroy().catch(() => undefined);
      if (!this.closed) {
        const why =
          (error as Error)?.name === 'AbortError'
            ? `they did not answer within ${this.startTimeoutMs / 1000} s of starting (a machine too busy to load them?)`
            : describeError(error);
        this.warn(
          'start',
          `the SAML verification workers could not start: ${why}; SAML responses are verified on the main thread (LANYARD_SAML_WORKERS)`,
        );
      }
      return false;
    } finally {
      this.probing = undefined;
    }
  }

  /** What a failure in the pool (not a verdict on the message) tells the browser, and the operator. */
  private unavailable(error: unknown): SamlVerificationUnavailableError {
    if (this.closed) return shuttingDown();
    const message = describeError(error);
    if ((error as Error)?.name === 'AbortError') {
      this.warn(
        'timeout',
        `a SAML response was not verified within ${this.timeoutMs} ms of arriving, waiting for a worker included (workers busy or stuck); a worker still running it was stopped and replaced`,
      );
      return new SamlVerificationUnavailableError("verifying the identity provider's response took too long");
    }
    this.warn('task', `a SAML verification worker stopped while verifying a response: ${message}; it was replaced`);
    return new SamlVerificationUnavailableError("the identity provider's response could not be verified on this node");
  }

  private warn(kind: string, message: string): void {
    const now = Date.now();
    if (now - (this.lastWarned.get(kind) ?? -Infinity) < 60_000) return;
    this.lastWarned.set(kind, now);
    this.onWarning(message);
  }
}

const shuttingDown = () => new SamlVerificationUnavailableError('this node is shutting down');
const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The worker module beside this one, with this module's own extension (.js built, .ts under a loader, .mjs in a bundle). */
function workerFile(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./saml-verification-worker${extname(self)}`, import.meta.url));
}
