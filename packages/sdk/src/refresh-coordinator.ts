import { NetworkError, ServerError } from './errors.ts';
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
  /**
   * Revokes a refresh token at the server, best effort (enhanced SSO: RFC 7009, as the client's
   * sign-out does). Called with the token of a refresh that came back after the session was
   * signed out, so that it cannot outlive the sign-out. Errors go to `onError`.
   */
  revoke?(refreshToken: string): Promise<void>;
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

/** Why a refresh's result was thrown away instead of stored (see `refreshLocked`). */
type Superseded = { signedOut: true } | { signedOut: false; stored: StoredSession };

/** When to refresh: before expiry by five minutes, or by half the lifetime for short tokens. */
export function refreshAt(session: Pick<StoredSession, 'expiresAt' | 'receivedAt'>): number {
  return session.expiresAt - Math.min(MAX_LEAD_MS, (session.expiresAt - session.receivedAt) / 2);
}

export class RefreshCoordinator {
  private current: StoredSession | null = null;
  private timer: unknown = undefined;
  private inFlight: Promise<StoredSession | null> | null = null;
  private retries = 0;
  /** Counts this tab's sign-outs: a refresh that started before one must not store its result. */
  private endings = 0;
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
    const endings = this.endings;
    this.inFlight ??= this.lock
      .request(`lanyard-refresh-${this.options.accountSid}`, () => this.refreshLocked(force, seen, endings))
      .catch((error: unknown) => this.refreshFailed(error, seen, endings))
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
   * The note a tab leaves when it signs out the session of `accessToken`. Storage reaches other
   * processes late (see `LockLike`), so a tab whose refresh returns just after another tab's
   * sign-out may still read the session there; the note tells it the truth at once.
   */
  private signedOutNote(accessToken: string): string {
    return `lanyard-signed-out-${this.options.accountSid}-${accessToken.slice(-16)}`;
  }

  private async signedOutElsewhere(session: StoredSession): Promise<boolean> {
    return (await this.lock.hasNote?.(this.signedOutNote(session.accessToken))) === true;
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

  private async refreshLocked(force: boolean, seenToken: string | undefined, endings: number): Promise<StoredSession | null> {
    // This tab signed out (and perhaps in again) while it waited: that refresh is not wanted.
    if (this.endings !== endings) return this.current;
    const stored = await this.readLatest(seenToken);
    if (!stored) {
      this.end('otherTab', false);
      return null;
    }
    if (await this.signedOutElsewhere(stored)) {
      // Signed out in another tab whose write has not reached this tab's copy of storage yet.
      this.end('otherTab', true);
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
    const superseded = await this.superseded(stored, endings);
    if (superseded) return this.discard(next, superseded);
    this.retries = 0;
    this.current = next;
    this.options.store.write(next);
    await this.lock.leaveNote?.(this.refreshedNote(stored.accessToken), NOTE_MS);
    this.post({ type: 'changed' });
    this.schedule();
    this.options.onUpdate(next, 'refresh');
    return next;
  }

  /**
   * Whether the session refreshed from `refreshed` ended, or was replaced, while the request was
   * in flight: signed out in this tab (`endings` moved on) or another (storage, or its note), or
   * a new sign-in stored over it. Sign-out does not wait for the refresh lock, so this is checked
   * after every request, before anything is stored.
   */
  private async superseded(refreshed: StoredSession, endings: number): Promise<Superseded | null> {
    const endedHere = () => this.endings !== endings;
    // `endedHere` again after the await: this tab may have signed out meanwhile.
    if (!endedHere() && !(await this.signedOutElsewhere(refreshed)) && !endedHere()) {
      if (this.options.store.read()?.accessToken === refreshed.accessToken) return null;
    }
    const stored = this.options.store.read();
    return stored && stored.accessToken !== refreshed.accessToken ? { signedOut: false, stored } : { signedOut: true };
  }

  /**
   * Throws away a refresh that came back too late (see `superseded`): nothing stores or reports
   * it, and its refresh token is revoked so it cannot outlive the sign-out. A legacy token has no
   * revocation endpoint; it is only forgotten, and expires on its own.
   */
  private discard(next: StoredSession, superseded: Superseded): StoredSession | null {
    if (next.refreshToken && this.options.revoke) {
      this.options.revoke(next.refreshToken).catch((error: unknown) => this.options.onError(error));
    }
    if (!superseded.signedOut) {
      if (superseded.stored.accessToken !== this.current?.accessToken) this.take(superseded.stored, 'otherTab');
      return superseded.stored;
    }
    if (this.current) {
      // Another tab signed out; make sure storage says so too, even if its write has not arrived.
      const stored = this.options.store.read();
      this.end(this.endReason(), stored !== null);
    }
    return null;
  }

  /** What a sign-out stored by another tab means here. */
  private endReason(): SignOutReason {
    const reason = this.options.store.signOutReason();
    // The agent signed out over there; an expiry or a revocation is the same news here.
    return reason === 'expired' || reason === 'revoked' ? reason : 'otherTab';
  }

  /**
   * A refresh of the session whose access token was `seenToken` failed. When that session has
   * ended meanwhile (signed out here: `endings` moved on; or replaced by a new sign-in or
   * another tab's refresh), the failure is that old session's and changes nothing now.
   */
  private async refreshFailed(error: unknown, seenToken: string | undefined, endings: number): Promise<StoredSession | null> {
    const session = this.current;
    this.options.onError(error);
    if (!session || this.endings !== endings || session.accessToken !== seenToken) return session;
    if (error instanceof ServerError && error.server.code === 45210) {
      this.lifetimeReached = true;
      this.options.onLifetimeReached?.(session);
      this.schedule();
      return session;
    }
    if (error instanceof ServerError && error.status >= 400 && error.status < 500 && error.status !== 429) {
      // The grant is gone (revoked by an administrator, reuse detected, user disabled), or the
      // agent signed out in another tab meanwhile (storage or its note says so): then that
      // sign-out's reason stands, not "revoked".
      this.sync();
      if (!this.current) return null;
      if (this.current.accessToken !== seenToken) return this.current;
      if (await this.signedOutElsewhere(session)) this.end('otherTab', this.options.store.read() !== null);
      else this.end('revoked', true);
      return null;
    }
    // Network trouble, a busy or failing server: retry with backoff while the session can be saved.
    const now = this.clock.now();
    const deadline = session.mode === 'legacy' ? session.expiresAt : (session.sessionExpiresAt ?? session.expiresAt);
    if (now >= deadline) {
      this.end('expired', true);
      return null;
    }
    // 5 s, 10 s, 20 s… but 1 s the first time the network failed: a refresh whose answer was
    // lost after the server rotated must come back within its grace window (REQUEST_TIMEOUT_MS).
    // A server that answered (503, 429) is given the full 5 s.
    const quick = this.retries === 0 && error instanceof NetworkError;
    const delay = Math.min(MAX_RETRY_MS, quick ? 1_000 : 5_000 * 2 ** this.retries, Math.max(1_000, (deadline - now) / 2));
    this.retries++;
    this.setTimer(delay, () => void this.refreshNow(true));
    return session;
  }

  /** Signs out in this tab and tells the others. */
  signOut(reason: SignOutReason): void {
    this.end(reason, true);
  }

  private end(reason: SignOutReason, everywhere: boolean): void {
    const ended = this.current;
    this.endings++;
    this.current = null;
    this.lifetimeReached = false;
    this.clock.clearTimeout(this.timer);
    if (everywhere) {
      const stored = this.options.store.read();
      this.options.store.clear(reason);
      this.post({ type: 'changed' });
      // A refresh in flight in another tab checks for this note before it stores its result.
      for (const token of new Set([ended?.accessToken, stored?.accessToken])) {
        if (token) void this.lock.leaveNote?.(this.signedOutNote(token), NOTE_MS).catch(() => undefined);
      }
    }
    if (ended) this.options.onSignedOut(reason);
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
      if (this.current) this.end(this.endReason(), false);
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
