import { WORKER_START_TIMEOUT_MS } from '../connections/saml-verification-pool.ts';

/**
 * A node's warm-up: what it loads once it serves, before a load balancer should send it sign-ins.
 *
 * `lanyard serve` answers requests as soon as its database is open (start-up stays short), then
 * starts the SAML verification workers and loads the SAML modules on its main thread. Until both
 * are done, `/readyz` answers 503 `{"status":"warming"}` (Lifecycle): every request is still
 * served, but a node that took a shift change's sign-ins while it loaded them answered the first
 * ones in 1–3 s instead of 0.1–0.4 s (docs/benchmarks.md, fifteenth round).
 */

/**
 * Longest a node stays "warming" (ms): the workers' own start-up limit, past which they are given
 * up and responses are verified on the main thread. Waiting less would send sign-ins to a node
 * whose every SAML verification still waits for its workers.
 */
export const WARM_UP_LIMIT_MS = WORKER_START_TIMEOUT_MS;

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
