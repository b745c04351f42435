import { ServerError } from './errors.ts';
import { systemClock, type Clock } from './clock.ts';
import { defaultChannel, defaultLock, type ChannelLike, type LockLike } from './cross-tab.ts';
import type { SessionStore, StoredSession } from './session-store.ts';

/**
 * Keeps one session fresh across every tab of the desktop. Refresh tokens rotate and a spent one
 * presented again (outside a few seconds' grace) revokes the whole session, so two tabs must
 * never refresh independently: exactly one tab refreshes, under a lock, and the others adopt what
 * it stored. Everything time-, lock- and channel-related is injected, so Node tests drive it
 * with fake timers.
 */

export type SignOutReason = 'user' | 'otherTab' | 'expired' | 'revoked';

/** Storage holds the truth (session, or why it ended); the message only says "look again". */
type ChannelMessage = { type: 'changed' };

export interface RefreshCoordinatorOptions {
  accountSid: string;
  store: SessionStore;
  /** Exchanges the session's refresh credential for a new session (one network request). */
  refresh(session: StoredSession): Promise<StoredSession>;
  onUpdate(session: StoredSession, source: 'refresh' | 'otherTab'): void;
  onSignedOut(reason: SignOutReason): void;
  onError(error: unknown): void;
  /** The server refused to extend the session (code 45210): it ends when the current token does. */
  onLifetimeReached?(session: StoredSession): void;
  clock?: Clock;
  lock?: LockLike;
  /** `null` turns broadcasting off (storage events still reach other tabs). */
  channel?: ChannelLike | null;
}

const MAX_LEAD_MS = 5 * 60_000;
const MAX_RETRY_MS = 60_000;
/** How long a "this token was refreshed" note stays up, and how long a tab waits for storage to catch up with it. */
const NOTE_MS = 30_000;
const CATCH_UP_MS = 5_000;

/** When to refresh: before expiry by five minutes, or by half the lifetime for short tokens. */
export function refreshAt(session: Pick<StoredSession, 'expiresAt' | 'receivedAt'>): number {
  return session.expiresAt - Math.min(MAX_LEAD_MS, (session.expiresAt - session.receivedAt) / 2);
}

export class RefreshCoordinator {
  private current: StoredSession | null = null;
  private timer: unknown = undefined;
  private inFlight: Promise<StoredSession | null> | null = null;
  private retries = 0;
  private lifetimeReached = false;
  private unsubscribe: (() => void) | null = null;
  private readonly clock: Clock;
  private readonly lock: LockLike;
  private readonly channel: ChannelLike | null;

  constructor(private readonly options: RefreshCoordinatorOptions) {
    this.clock = options.clock ?? systemClock;
    this.lock = options.lock ?? defaultLock(this.clock);
    this.channel = options.channel === undefined ? defaultChannel(options.accountSid) : options.channel;
  }

  /** Starts listening to other tabs and takes over the stored session, if any. */
  start(): StoredSession | null {
    if (!this.unsubscribe) {
      const unsubscribe = this.options.store.subscribe(() => this.sync());
      this.channel?.addEventListener('message', (event) => this.onMessage(event.data));
      // Timers of a sleeping laptop or a hidden tab run late: catch up when the page comes back.
      const wake = () => {
        if (this.current && this.clock.now() >= refreshAt(this.current)) void this.refreshNow();
      };
      const target = typeof window === 'undefined' ? undefined : window;
      target?.addEventListener('online', wake);
      target?.document?.addEventListener('visibilitychange', wake);
      this.unsubscribe = () => {
        unsubscribe();
        target?.removeEventListener('online', wake);
        target?.document?.removeEventListener('visibilitychange', wake);
      };
    }
    this.current = this.options.store.read();
    this.schedule();
    return this.current;
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.channel?.close();
    this.clock.clearTimeout(this.timer);
  }

  get session(): StoredSession | null {
    return this.current;
  }

  /** A new sign-in in this tab: store it, tell the other tabs, keep it fresh. */
  publish(session: StoredSession): void {
    this.current = session;
    this.lifetimeReached = false;
    this.retries = 0;
    this.options.store.write(session);
    this.post({ type: 'changed' });
    this.schedule();
  }

  /**
   * Refreshes now (or adopts what another tab just refreshed). Without `force`, nothing is sent
   * unless the token is due. Concurrent calls in one tab share one request.
   */
  refreshNow(force = false): Promise<StoredSession | null> {
    const seen = this.current?.accessToken;
    this.inFlight ??= this.lock
      .request(`lanyard-refresh-${this.options.accountSid}`, () => this.refreshLocked(force, seen))
      .catch((error: unknown) => this.refreshFailed(error))
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  /** The note a tab leaves once it has refreshed past `accessToken` (see `LockLike`). */
  private refreshedNote(accessToken: string): string {
    return `lanyard-refreshed-${this.options.accountSid}-${accessToken.slice(-16)}`;
  }

  /**
   * Inside the lock, storage is the truth: another tab may have refreshed while this one waited.
   * This tab's copy of storage can lag behind that tab's write, though; a note left with the lock
   * manager says so, and then this tab waits for the write to arrive instead of refreshing again.
   */
  private async readLatest(seenToken: string | undefined): Promise<StoredSession | null> {
    let stored = this.options.store.read();
    if (!stored || stored.accessToken !== seenToken || !(await this.lock.hasNote?.(this.refreshedNote(stored.accessToken)))) return stored;
    const giveUpAt = this.clock.now() + CATCH_UP_MS;
    while (stored?.accessToken === seenToken && this.clock.now() < giveUpAt) {
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 25));
      stored = this.options.store.read();
    }
    return stored;
  }

  private async refreshLocked(force: boolean, seenToken: string | undefined): Promise<StoredSession | null> {
    const stored = await this.readLatest(seenToken);
    if (!stored) {
      this.end('otherTab', false);
      return null;
    }
    if (stored.accessToken !== seenToken) {
      // A broadcast may already have brought it here while this tab waited for the lock.
      if (stored.accessToken !== this.current?.accessToken) this.take(stored, 'otherTab');
      return stored;
    }
    const now = this.clock.now();
    if ((!force && now < refreshAt(stored)) || stored.sessionCapped || this.lifetimeReached) return stored;
    // A legacy token is its own refresh credential: once expired, nothing can renew it.
    if ((stored.mode === 'legacy' && now >= stored.expiresAt) || now >= (stored.sessionExpiresAt ?? Infinity)) {
      this.end('expired', true);
      return null;
    }
    const next = await this.options.refresh(stored);
    this.retries = 0;
    this.current = next;
    this.options.store.write(next);
    await this.lock.leaveNote?.(this.refreshedNote(stored.accessToken), NOTE_MS);
    this.post({ type: 'changed' });
    this.schedule();
    this.options.onUpdate(next, 'refresh');
    return next;
  }

  private refreshFailed(error: unknown): StoredSession | null {
    const session = this.current;
    this.options.onError(error);
    if (!session) return null;
    if (error instanceof ServerError && error.server.code === 45210) {
      this.lifetimeReached = true;
      this.options.onLifetimeReached?.(session);
      this.schedule();
      return session;
    }
    if (error instanceof ServerError && error.status >= 400 && error.status < 500 && error.status !== 429) {
      // The grant is gone (revoked by an administrator, reuse detected, user disabled).
      this.end('revoked', true);
      return null;
    }
    // Network trouble, a busy or failing server: retry with backoff while the session can be saved.
    const now = this.clock.now();
    const deadline = session.mode === 'legacy' ? session.expiresAt : (session.sessionExpiresAt ?? session.expiresAt);
    if (now >= deadline) {
      this.end('expired', true);
      return null;
    }
    const delay = Math.min(MAX_RETRY_MS, 5_000 * 2 ** this.retries++, Math.max(1_000, (deadline - now) / 2));
    this.setTimer(delay, () => void this.refreshNow(true));
    return session;
  }

  /** Signs out in this tab and tells the others. */
  signOut(reason: SignOutReason): void {
    this.end(reason, true);
  }

  private end(reason: SignOutReason, everywhere: boolean): void {
    const wasSignedIn = this.current !== null;
    this.current = null;
    this.lifetimeReached = false;
    this.clock.clearTimeout(this.timer);
    if (everywhere) {
      this.options.store.clear(reason);
      this.post({ type: 'changed' });
    }
    if (wasSignedIn) this.options.onSignedOut(reason);
  }

  private take(session: StoredSession, source: 'refresh' | 'otherTab'): void {
    this.current = session;
    this.lifetimeReached = false;
    this.retries = 0;
    this.schedule();
    this.options.onUpdate(session, source);
  }

  /** Storage changed under us (a `storage` event or a channel message): follow it. */
  private sync(): void {
    const stored = this.options.store.read();
    if (!stored) {
      if (!this.current) return;
      const reason = this.options.store.signOutReason();
      // The agent signed out over there; an expiry or a revocation is the same news here.
      this.end(reason === 'expired' || reason === 'revoked' ? reason : 'otherTab', false);
      return;
    }
    if (stored.accessToken !== this.current?.accessToken) this.take(stored, 'otherTab');
  }

  private onMessage(data: unknown): void {
    if ((data as ChannelMessage | null)?.type === 'changed') this.sync();
  }

  private schedule(): void {
    this.clock.clearTimeout(this.timer);
    const session = this.current;
    if (!session) return;
    const now = this.clock.now();
    if (session.sessionCapped || this.lifetimeReached) {
      // Nothing can extend it: the session ends when this token does.
      this.setTimer(session.expiresAt - now, () => this.end('expired', true));
      return;
    }
    this.setTimer(refreshAt(session) - now, () => void this.refreshNow());
  }

  private setTimer(ms: number, callback: () => void): void {
    this.clock.clearTimeout(this.timer);
    // Browsers run a longer delay at once (32-bit overflow); re-check in steps instead.
    const step = Math.min(Math.max(0, ms), 0x7fffffff);
    this.timer = this.clock.setTimeout(step < ms ? () => this.schedule() : callback, step);
  }

  private post(message: ChannelMessage): void {
    try {
      this.channel?.postMessage(message);
    } catch {
      // A closed channel: storage events still carry the change.
    }
  }
}
