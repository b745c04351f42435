import { stripAddressBar } from './address-bar.ts';
import { validateAppConfig, type ResolvedAppConfig } from './app-config.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ChannelLike, LockLike } from './cross-tab.ts';
import { enhancedStrategy } from './enhanced-strategy.ts';
import { ConfigError, SessionExpiredError, toLanyardError, type ConfigProblem } from './errors.ts';
import { Emitter, type LanyardEvents, type LanyardWarning } from './events.ts';
import { defaultFetch, REQUEST_TIMEOUT_MS, withTimeout, type FetchLike } from './lanyard-api.ts';
import { legacyStrategy } from './legacy-strategy.ts';
import { hasSignInResult, popupReport } from './popup-callback.ts';
import { PopupSignIns } from './popup-sign-ins.ts';
import { RefreshCoordinator, refreshAt, type SignOutReason } from './refresh-coordinator.ts';
import {
  createBrowserStore,
  createMemoryStore,
  toPublicSession as toPublic,
  type Session,
  type SessionStore,
  type StoredSession,
} from './session-store.ts';
import type { SignInStrategy } from './sign-in-strategy.ts';

export type { LanyardEvents, LanyardWarning } from './events.ts';

/** How a `LanyardClient` stores, times and shares the session; every option has a browser default. */
export interface LanyardClientOptions {
  /** `'local'` (default: shared by all tabs), `'memory'` (this page only) or your own store. */
  storage?: 'local' | 'memory' | SessionStore;
  /** Minutes before the end of the shift at which `sessionExpiring` fires. Default 10. */
  sessionExpiringMinutes?: number;
  /** Legacy SSO: accept a token on the URL that this tab did not ask for (IdP-initiated). Default false. */
  allowIdpInitiated?: boolean;
  /** The page's address. Default `location.href`. */
  pageUrl?: string;
  /** Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /**
   * Limit of one request to Lanyard (token exchange, refresh, sign-out, legacy `authenticate`),
   * whole answer included, in milliseconds: 1–600,000, default 8,000. Past it the request fails
   * with `NetworkError` and is retried as for any network trouble.
   */
  requestTimeoutMs?: number;
  /** Default `Date.now()` and the global timers. */
  clock?: Clock;
  /** The lock under which one tab refreshes for all. Default `navigator.locks`, else a lease in `localStorage`. */
  lock?: LockLike;
  /** How tabs tell each other about a new session. Default `BroadcastChannel('lanyard-<AC>')`; `null` for none. */
  channel?: ChannelLike | null;
}

/** Options of one `signIn` call. */
export interface SignInOptions {
  /** Overrides `sso.loginPopup` for this sign-in. */
  popup?: boolean;
}

/**
 * Signs an agent in to a self-hosted desktop from its `appConfig`, and keeps them signed in
 * through the shift: enhanced SSO when `appConfig.oauth` exists, legacy otherwise.
 *
 * @example
 * ```ts
 * const client = LanyardClient.fromAppConfig(window.appConfig);
 * client.on('tokenUpdated', (session) => flex.setToken(session.accessToken));
 * const session = await client.handleCallback(); // on every page load
 * if (!session) button.onclick = () => client.signIn();
 * ```
 */
export class LanyardClient {
  /** The validated `appConfig`, endpoints resolved. */
  readonly config: ResolvedAppConfig;
  /** Problems found in `appConfig` and the page, raised as `warning` events by `handleCallback`. */
  readonly warnings: LanyardWarning[];
  private readonly emitter = new Emitter<LanyardEvents>();
  private readonly store: SessionStore;
  private readonly strategy: SignInStrategy;
  private readonly coordinator: RefreshCoordinator;
  private readonly fetch: FetchLike;
  private readonly clock: Clock;
  private expiringTimer: unknown;
  private warnedFor: number | null = null;
  private started = false;
  private readonly popups: PopupSignIns<unknown>;
  private callback: Promise<Session | null> | null = null;

  /** Validates `appConfig` (throws `ConfigError` listing every problem) and creates the client. */
  static fromAppConfig(appConfig: unknown = (globalThis as { appConfig?: unknown }).appConfig, options: LanyardClientOptions = {}): LanyardClient {
    const result = validateAppConfig(appConfig, { pageUrl: options.pageUrl ?? window.location.href });
    if (!result.ok) throw new ConfigError(result.problems);
    return new LanyardClient(result.config, options, result.warnings);
  }

  constructor(
    config: ResolvedAppConfig,
    private readonly options: LanyardClientOptions = {},
    configWarnings: ConfigProblem[] = [],
  ) {
    this.config = config;
    const timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    if (!(timeoutMs >= 1 && timeoutMs <= 600_000)) throw new RangeError(`requestTimeoutMs must be 1–600,000 milliseconds; got ${timeoutMs}`);
    this.fetch = withTimeout(options.fetch ?? defaultFetch, timeoutMs);
    this.clock = options.clock ?? systemClock;
    const storage = options.storage ?? 'local';
    this.store = storage === 'local' ? createBrowserStore(config.accountSid) : storage === 'memory' ? createMemoryStore() : storage;
    this.strategy =
      config.mode === 'enhanced'
        ? enhancedStrategy(config, this.fetch, this.clock)
        : legacyStrategy(config, this.fetch, this.clock, options.allowIdpInitiated);
    this.warnings = [
      ...configWarnings.map((w): LanyardWarning => ({ code: 'config', message: w.message, field: w.field })),
      ...this.strategy.warnings,
    ];
    this.popups = new PopupSignIns(config.accountSid, this.clock, this.strategy, {
      signedIn: (session) => this.signedIn(session),
      onOpenerCut: () =>
        this.warn({
          code: 'popup_opener_cut',
          message:
            'Waiting for the sign-in window: finish there, or press "Sign in" again if you closed it. (It lost its link to this page: Cross-Origin-Opener-Policy, or closed at once.)',
        }),
    });
    this.coordinator = new RefreshCoordinator({
      accountSid: config.accountSid,
      store: this.store,
      clock: this.clock,
      lock: options.lock,
      channel: options.channel,
      refresh: (session) => this.strategy.refresh(session),
      // A refresh that returns after a sign-out is revoked the way sign-out revokes (legacy: a no-op).
      revoke: (refreshToken) => this.strategy.revoke(refreshToken),
      onUpdate: (session, source) => this.updated(session, source),
      onSignedOut: (reason) => this.signedOut(reason),
      onError: (error) => this.emitter.emit('error', toLanyardError(error)),
      onLifetimeReached: (session) => this.warnExpiring(session, 'lifetimeReached'),
    });
  }

  /** `enhanced` when `appConfig.oauth` exists, `legacy` otherwise (as the Flex UI decides). */
  get mode(): 'enhanced' | 'legacy' {
    return this.strategy.mode;
  }

  /** True when this page is the sign-in pop-up coming back: it reports to its opener and closes. */
  get isPopupCallback(): boolean {
    return popupReport(new URL(window.location.href), this.config.accountSid, this.clock) !== null;
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof LanyardEvents>(event: K, listener: LanyardEvents[K]): () => void {
    return this.emitter.on(event, listener);
  }

  /**
   * Call on every page load. Finishes a sign-in coming back on the URL (checking `state` and
   * removing `code`, `state` and tokens from the address bar), or picks up the session the tabs
   * share. Resolves to the session, or `null` when signed out. Rejects with
   * `StateMismatchError` for a result this tab did not ask for, `ServerError` when sign-in failed.
   */
  handleCallback(): Promise<Session | null> {
    this.callback ??= this.finishCallback();
    return this.callback;
  }

  private async finishCallback(): Promise<Session | null> {
    for (const warning of this.warnings) this.warn(warning);
    const url = new URL(window.location.href);
    const result = this.strategy.readCallback(url);
    const report = popupReport(url, this.config.accountSid, this.clock);
    if (hasSignInResult(url)) stripAddressBar(url);
    if (report) {
      report();
      return null;
    }
    this.start();
    const pending = this.store.readPending();
    if (result === null) return this.getSession();
    this.store.clearPending();
    return this.signedIn(await this.strategy.complete(result, pending));
  }

  /**
   * Starts a sign-in. Redirect mode leaves the page (resolves `null`; `handleCallback` finishes
   * it on return). Pop-up mode must be called from a click: it resolves to the session, or
   * rejects with `PopupBlockedError`, `PopupClosedError`, `StateMismatchError`, `ServerError` or
   * `NetworkError`.
   * A pop-up sign-in started while another waits takes it over: the earlier promise settles with
   * this one's outcome.
   */
  async signIn(options: SignInOptions = {}): Promise<Session | null> {
    if (options.popup ?? this.config.loginPopup) return this.signInWithPopup();
    this.start();
    window.location.assign(await this.strategy.begin((pending) => this.store.writePending(pending)));
    return null;
  }

  private signInWithPopup(): Promise<Session> {
    // Synchronously, still inside the click: after an `await` the browser would block it.
    const outcome = this.popups.start(this.config.loginPopupFeatures);
    this.start();
    return outcome;
  }

  /** The current session (without its refresh token), or `null`. */
  getSession(): Session | null {
    this.start();
    const session = this.coordinator.session;
    return session && this.clock.now() < session.expiresAt ? toPublic(session) : null;
  }

  /** A valid access token, refreshed first when it is due; `null` when signed out. */
  async getAccessToken(): Promise<string | null> {
    this.start();
    const session = this.coordinator.session;
    if (!session) return null;
    if (this.clock.now() >= refreshAt(session)) await this.coordinator.refreshNow();
    return this.getSession()?.accessToken ?? null;
  }

  /**
   * Refreshes now ("Refresh now"), for all tabs. Resolves to the new session; rejects with
   * `SessionExpiredError` when there is no session left to refresh.
   */
  async refresh(): Promise<Session> {
    this.start();
    const session = this.coordinator.session ? await this.coordinator.refreshNow(true) : null;
    if (!session) throw new SessionExpiredError();
    return toPublic(session);
  }

  /** Signs out in every tab; with enhanced SSO also revokes the session at the server (best effort). */
  async signOut(): Promise<void> {
    this.start();
    const session = this.coordinator.session ?? this.store.read();
    this.coordinator.signOut('user');
    if (session?.refreshToken) {
      await this.strategy.revoke(session.refreshToken).catch((error: unknown) => this.emitter.emit('error', toLanyardError(error)));
    }
  }

  /** Stops timers and cross-tab listeners (for single-page apps that unmount the desktop). */
  destroy(): void {
    this.coordinator.stop();
    this.clock.clearTimeout(this.expiringTimer);
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    const session = this.coordinator.start();
    if (session) this.scheduleExpiring(session);
  }

  private signedIn(session: StoredSession): Session {
    this.coordinator.publish(session);
    this.updated(session, 'signIn');
    return toPublic(session);
  }

  private updated(session: StoredSession, source: 'signIn' | 'refresh' | 'otherTab'): void {
    this.scheduleExpiring(session);
    this.emitter.emit('tokenUpdated', toPublic(session), { source });
  }

  private signedOut(reason: SignOutReason): void {
    this.clock.clearTimeout(this.expiringTimer);
    this.warnedFor = null;
    this.emitter.emit('signedOut', { reason });
  }

  private scheduleExpiring(session: StoredSession): void {
    this.clock.clearTimeout(this.expiringTimer);
    const end = session.sessionExpiresAt;
    if (end === null || this.warnedFor === end) return;
    const at = end - (this.options.sessionExpiringMinutes ?? 10) * 60_000;
    this.expiringTimer = this.clock.setTimeout(
      () => this.warnExpiring(session, 'shiftEnding'),
      Math.min(Math.max(0, at - this.clock.now()), 0x7fffffff),
    );
  }

  private warnExpiring(session: StoredSession, reason: 'shiftEnding' | 'lifetimeReached'): void {
    const end = session.sessionExpiresAt ?? session.expiresAt;
    if (this.warnedFor === end) return;
    this.warnedFor = end;
    this.emitter.emit('sessionExpiring', { sessionExpiresAt: end, reason });
  }

  private warn(warning: LanyardWarning): void {
    console.warn(`Lanyard: ${warning.message}`);
    this.emitter.emit('warning', warning);
  }
}
