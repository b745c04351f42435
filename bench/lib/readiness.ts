/**
 * Polls a Lanyard node's /readyz, as a load balancer does, until it answers 200 (warm: its SAML
 * workers and modules loaded). Returns how long that took from the call (ms). Throws when it
 * answers anything but 200 or 503, or is still 503 after `limitMs`.
 */
export async function untilReady(url: string, options: { intervalMs: number; limitMs: number }): Promise<number> {
  const started = performance.now();
  for (;;) {
    const answer = await fetch(`${url}/readyz`);
    await answer.arrayBuffer();
    if (answer.status === 200) return performance.now() - started;
    if (answer.status !== 503) throw new Error(`${url}/readyz answered ${answer.status}`);
    if (performance.now() - started > options.limitMs) throw new Error(`${url}/readyz still 503 after ${options.limitMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}
