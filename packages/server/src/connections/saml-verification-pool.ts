import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import type { SamlVerificationOutcome, SamlVerificationTask, VerifiedSamlMessage } from './saml-message-verification.ts';

/** Runs the CPU-bound half of a SAML Response check (saml-message-verification.ts). */
export interface SamlMessageVerifier {
  /** Resolves with the verified message; rejects with SamlResponseError (45010) as `verifySamlMessage` does. */
  verify(task: SamlVerificationTask): Promise<VerifiedSamlMessage>;
}

/** On the calling thread: tests, tools, and `LANYARD_SAML_WORKERS=0`. */
export const verifyOnThisThread: SamlMessageVerifier = {
  async verify(task) {
    const { verifySamlMessage } = await import('./saml-message-verification.ts');
    return verifySamlMessage(task);
  },
};

/**
 * SAML Responses verified on worker threads (piscina): an XML signature check is 5–15 ms of CPU
 * per sign-in, and on the event loop it held every other request behind it during a shift change
 * and left the node's other cores idle. Storage checks stay with the caller, on the main thread.
 *
 * `threads` workers start with `start()` (once the server is ready: not during start-up) or at
 * the first response. Whatever fails in the pool itself (a worker that cannot load, one that
 * dies) never fails a sign-in: that response is verified on the calling thread, the failure is
 * reported through `onWarning`, and a pool that never verified anything is not tried again.
 */
export class SamlVerificationPool implements SamlMessageVerifier {
  private pool: Piscina | undefined;
  private starting: Promise<Piscina> | undefined;
  private disabled: boolean;
  private closed = false;
  private readonly threads: number;
  private readonly onWarning: (message: string) => void;
  private readonly workerFilename: string;
  private readonly warned = new Set<string>();
  /** Responses verified so far, by where (for tests and the operator's curiosity). */
  readonly verified = { onWorkers: 0, onThisThread: 0 };

  /**
   * @param options.threads worker threads (0: every response on the calling thread)
   * @param options.onWarning told, once per kind of failure, when responses fall back to the calling thread
   * @param options.workerFilename the worker module (default: saml-verification-worker beside this file)
   */
  constructor(options: { threads: number; onWarning?: (message: string) => void; workerFilename?: string }) {
    this.threads = options.threads;
    this.onWarning = options.onWarning ?? (() => undefined);
    this.workerFilename = options.workerFilename ?? workerFile();
    this.disabled = options.threads === 0;
  }

  /** Starts the workers (each loads the XML modules); resolves when they are spawning. */
  async start(): Promise<void> {
    if (this.disabled || this.closed) return;
    try {
      await this.piscina();
    } catch (error) {
      this.fallBack('the SAML verification workers could not start', error, true);
    }
  }

  async verify(task: SamlVerificationTask): Promise<VerifiedSamlMessage> {
    if (this.disabled || this.closed) return this.onThisThread(task);
    let outcome: SamlVerificationOutcome;
    try {
      outcome = (await (await this.piscina()).run(task)) as SamlVerificationOutcome;
    } catch (error) {
      if (this.closed) return this.onThisThread(task);
      // Never completed a task: the workers cannot run here (a missing file, a loader), so stop
      // trying. Otherwise one worker died (its task is lost, piscina replaces it): this response only.
      this.fallBack('a SAML verification worker failed', error, this.verified.onWorkers === 0);
      return this.onThisThread(task);
    }
    this.verified.onWorkers++;
    const { messageOf } = await import('./saml-message-verification.ts');
    return messageOf(outcome);
  }

  private onThisThread(task: SamlVerificationTask): Promise<VerifiedSamlMessage> {
    this.verified.onThisThread++;
    return verifyOnThisThread.verify(task);
  }

  /** Stops the workers; later responses are verified on the calling thread. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool ?? (await this.starting?.catch(() => undefined));
    await pool?.close({ force: true }).catch(() => undefined);
  }

  private piscina(): Promise<Piscina> {
    this.starting ??= (async () => {
      const { Piscina } = await import('piscina');
      const filename = this.workerFilename;
      this.pool = new Piscina({
        filename,
        minThreads: this.threads,
        maxThreads: this.threads,
        idleTimeout: Infinity,
        // Workers inherit this process's flags (a loader such as tsx among them). Under a test
        // runner that transforms TypeScript itself (vitest), the .ts worker needs tsx.
        execArgv: filename.endsWith('.ts') && !process.execArgv.some((a) => a.includes('tsx')) ? ['--import', 'tsx'] : undefined,
      });
      // A worker that fails outside a task (it could not load its module): an 'error' event,
      // which unhandled would end the process.
      this.pool.on('error', (error: unknown) => this.fallBack('a SAML verification worker failed', error, this.verified.onWorkers === 0));
      return this.pool;
    })();
    return this.starting;
  }

  private fallBack(what: string, error: unknown, permanently: boolean): void {
    if (permanently) this.disabled = true;
    const message = `${what}: ${(error as Error)?.message ?? String(error)}; ${permanently ? 'SAML responses are verified on the main thread from now on' : 'this response was verified on the main thread'} (LANYARD_SAML_WORKERS)`;
    if (this.warned.has(what)) return;
    this.warned.add(what);
    this.onWarning(message);
  }
}

/** The worker module beside this one, with this module's own extension (.js built, .ts under a loader, .mjs in a bundle). */
function workerFile(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./saml-verification-worker${extname(self)}`, import.meta.url));
}
