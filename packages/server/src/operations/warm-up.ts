import { preloadVerificationOnThisThread, WORKER_START_TIMEOUT_MS, type SamlVerificationPool } from '../connections/saml-verification-pool.ts';
import type { Logger } from '../http/logger.ts';
import type { Lifecycle } from './lifecycle.ts';

/**
 * A node's warm-up: what it loads once it serves, before a load balancer should send it sign-ins.
 *
 * `lanyard serve` answers requests as soon as its database is open (start-up stays short), then
 * starts the SAML verification workers, which load the XML modules. Until they answer,
 * `/readyz` answers 503 `{"status":"warming"}` (Lifecycle): every request is still
 * served, but a node that took a shift change's sign-ins while it loaded them answered the first
 * ones in 1–3 s instead of 0.1–0.4 s (docs/benchmarks.md, fifteenth round).
 */

/**
 * Longest a node stays "warming" (ms): the workers' own start-up limit, past which they are given
 * up and responses are verified on the main thread, and 10 s more for the main thread to load the
 * verification modules then. Waiting less would send sign-ins to a node whose every SAML
 * verification still waits for its workers, or for those modules.
 */
export const WARM_UP_LIMIT_MS = WORKER_START_TIMEOUT_MS + 10_000;

/** How a warm-up ended: its steps all settled, or the limit passed first. */
export type WarmUpOutcome = 'warm' | 'timed-out';

/**
 * Runs the warm-up steps at once and resolves when every one has settled (a step that fails
 * counts as settled: its own caller reports it) or `limitMs` has passed, whichever is first.
 * Never rejects.
 */
export async function warmUp(steps: ReadonlyArray<Promise<unknown>>, limitMs = WARM_UP_LIMIT_MS): Promise<WarmUpOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<WarmUpOutcome>((resolve) => {
    timer = setTimeout(() => resolve('timed-out'), limitMs);
    timer.unref();
  });
  try {
    return await Promise.race([Promise.allSettled(steps).then((): WarmUpOutcome => 'warm'), limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A node's warm-up, once it serves (`startLanyard` marks it warming first): starts the SAML
 * verification workers and waits for their start-up check; where they cannot run
 * (`LANYARD_SAML_WORKERS=0`, or they failed), loads the verification modules on this thread
 * instead. Nothing else SAML is loaded here: the main thread builds AuthnRequests without an XML
 * library (connections/saml-authn-request.ts) and reads verified responses as plain data
 * (connections/saml-verified-message.ts). Then ends the warming state (`/readyz` 200) and logs
 * it with `warm_up_ms` (from serving) and `since_process_start_ms` (from the process's start,
 * performance.now()), or warns, naming what was still loading, when `WARM_UP_LIMIT_MS` passed
 * first. Nothing is logged as ready once the node is draining. Never rejects.
 */
export async function warmUpNode(services: { samlVerification: SamlVerificationPool; lifecycle: Lifecycle; logger: Logger }): Promise<void> {
  const { samlVerification, lifecycle, logger } = services;
  const warmingSince = performance.now();
  let verifiedWhere: string | undefined;
  const verification = samlVerification.start().then(async (where) => {
    verifiedWhere = where;
    if (lifecycle.isDraining) return;
    logger.info(`SAML responses are verified ${where}`);
    if (samlVerification.workersAnswering) return;
    await preloadVerificationOnThisThread().catch((error: Error) =>
      logger.warn('loading the SAML verification modules failed', { error: error.message }),
    );
  });
  const outcome = await warmUp([verification]);
  lifecycle.finishWarmUp();
  // Shutting down meanwhile: the node will not be ready, whatever finished.
  if (lifecycle.isDraining) return;
  const ms = Math.round(performance.now() - warmingSince);
  if (outcome === 'warm') {
    logger.info(`ready (/readyz 200): SAML responses verified ${verifiedWhere}`, {
      warm_up_ms: ms,
      since_process_start_ms: Math.round(performance.now()),
    });
    return;
  }
  const pending = verifiedWhere === undefined ? 'the SAML verification workers' : 'the SAML verification modules';
  logger.warn(`still loading ${pending} after ${ms} ms; ready anyway (/readyz 200), SAML sign-ins may be slow until then`);
}
