/**
 * The process's serving state: how many requests are in flight, whether it is still warming up
 * (operations/warm-up.ts: `/readyz` answers 503 until the SAML workers and modules are loaded;
 * requests are served meanwhile), and whether it is draining (SIGTERM received: `/readyz`
 * answers 503 so the load balancer stops sending, in-flight requests finish, kept-alive
 * connections are told to close).
 */
export class Lifecycle {
  private active = 0;
  private warming = false;
  private draining = false;
  private waiters: Array<() => void> = [];

  get isDraining(): boolean {
    return this.draining;
  }

  /** True between `startWarmUp` and `finishWarmUp`: serving, not yet ready for a balancer's traffic. */
  get isWarmingUp(): boolean {
    return this.warming;
  }

  startWarmUp(): void {
    this.warming = true;
  }

  finishWarmUp(): void {
    this.warming = false;
  }

  get inFlight(): number {
    return this.active;
  }

  requestStarted(): void {
    this.active++;
  }

  requestFinished(): void {
    this.active--;
    if (this.active === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  startDraining(): void {
    this.draining = true;
  }

  /** Resolves true once no request is in flight, false if `timeoutMs` passes first. */
  async idle(timeoutMs: number): Promise<boolean> {
    if (this.active === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }
}
