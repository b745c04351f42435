import { hasNoReferrerMeta, stripAddressBar } from './address-bar.ts';
import { validateAppConfig, type EnhancedConfig, type LegacyConfig, type ResolvedAppConfig } from './app-config.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ChannelLike, LockLike } from './cross-tab.ts';
import { beginEnhanced, callbackError, exchangeCode, readCallback, refreshEnhanced, revokeEnhanced, type CallbackParams } from './enhanced-sso.ts';
import { ConfigError, SessionExpiredError, StateMismatchError, toLanyardError, type ConfigProblem } from './errors.ts';
import { Emitter, type LanyardEvents, type LanyardWarning } from './events.ts';
import { defaultFetch, type FetchLike } from './lanyard-api.ts';
import { acceptLegacyToken, authenticate, LEGACY_POPUP_MESSAGE, readLegacyCallback, refreshLegacy, type LegacyTokenPayload } from './legacy-sso.ts';
import { openPopup, popupOpener, reportToOpener, waitForPopupResult } from './popup.ts';
import { beginHandover, handoverFor } from './popup-handover.ts';
import { RefreshCoordinator, refreshAt, type SignOutReason } from './refresh-coordinator.ts';
import {
  createBrowserStore,
  createMemoryStore,
  toPublicSession as toPublic,
  type Session,
  type SessionStore,
  type StoredSession,
} from './session-store.ts';

export type { LanyardEvents, LanyardWarning } from './events.ts';

export interface LanyardClientOptions {
  /** `'local'` (default: shared by all tabs), `'memory'` (this page only) or your own store. */
  storage?: 'local' | 'memory' | SessionStore;
  /** Minutes before the end of the shift at which `sessionExpiring` fires. Default 10. */
  sessionExpiringMinutes?: number;
  /** Legacy SSO: accept a token on the URL that this tab did not ask for (IdP-initiated). Default false. */
  allowIdpInitiated?: boolean;
  /** The page's address. Default `location.href`. */
  pageUrl?: string;
  fetch?: FetchLike;
  clock?: Clock;
  lock?: LockLike;
  channel?: ChannelLike | null;
}

export interface SignInOptions {
  /** Overrides `sso.loginPopup` for this sign-in. */
  popup?: boolean;
}

type PopupMessage = { type: 'lanyard:callback'; params: CallbackParams };

/**
 * Signs an agent in to a self-hosted desktop from its `appConfig`, and keeps them signed in
 * through the shift: enhanced SSO when `appConfig.oauth` exists, legacy otherwise.
 *
 * @example
 * const client = LanyardClient.fromAppConfig(window.appConfig);
 * client.on('tokenUpdated', (session) => flex.setToken(session.accessToken));
 * const session = await client.handleCallback(); // on every page load
 * if (!session) button.onclick = () => client.signIn();
 */
export class LanyardClient {
  readonly config: ResolvedAppConfig;
  readonly warnings: LanyardWarning[];
  private readonly emitter = new Emitter<LanyardEvents>();
  private readonly store: SessionStore;
  private readonly coordinator: RefreshCoordinator;
  private readonly fetch: FetchLike;
  private readonly clock: Clock;
  private expiringTimer: unknown;
  private warnedFor: number | null = null;
  private started = false;
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
    this.fetch = options.fetch ?? defaultFetch;
    this.clock = options.clock ?? systemClock;
    const storage = options.storage ?? 'local';
    this.store = storage === 'local' ? createBrowserStore(config.accountSid) : storage === 'memory' ? createMemoryStore() : storage;
    this.warnings = configWarnings.map((w) => ({ code: 'config', message: w.message, field: w.field }));
    if (config.mode === 'legacy' && !hasNoReferrerMeta()) {
      this.warnings.push({
        code: 'no_referrer_policy',
        message:
          'Legacy SSO puts the token on this page\'s address: add <meta name="referrer" content="no-referrer"> so it cannot leak to other sites through the Referer header.',
      });
    }
    this.coordinator = new RefreshCoordinator({
      accountSid: config.accountSid,
      store: this.store,
      clock: this.clock,
      lock: options.lock,
      channel: options.channel,
      refresh: (session) => this.refreshWith(session),
      onUpdate: (session, source) => this.updated(session, source),
      onSignedOut: (reason) => this.signedOut(reason),
      onError: (error) => this.emitter.emit('error', toLanyardError(error)),
      onLifetimeReached: (session) => this.warnExpiring(session, 'lifetimeReached'),
    });
  }

  get mode(): 'enhanced' | 'legacy' {
    return this.config.mode;
  }

  /** True when this page is the sign-in pop-up coming back: it reports to its opener and closes. */
  get isPopupCallback(): boolean {
    return this.popupReport(new URL(window.location.href)) !== null;
  }

  /**
   * On a sign-in pop-up's callback page: the function that hands the result to the desktop that
   * opened it, by `postMessage` to `window.opener`, or over the same-origin handover channel when
   * a Cross-Origin-Opener-Policy cut the opener off. `null` on any other page.
   */
  private popupReport(url: URL): (() => void) | null {
    const enhanced = readCallback(url);
    const legacy = readLegacyCallback(url);
    if (!enhanced && !legacy) return null;
    const message = enhanced
      ? ({ type: 'lanyard:callback', params: enhanced } satisfies PopupMessage)
      : { messageId: LEGACY_POPUP_MESSAGE, tokenPayload: legacy };
    const opener = popupOpener();
    if (opener) return () => reportToOpener(opener, message);
    const handover = handoverFor(
      this.config.accountSid,
      enhanced ? { mode: 'enhanced', state: enhanced.state ?? undefined } : { mode: 'legacy' },
      this.clock.now(),
    );
    if (!handover) return null;
    return () => {
      handover(message);
      window.close();
    };
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
    const enhanced = readCallback(url);
    const legacy = readLegacyCallback(url);
    const report = this.popupReport(url);
    if (enhanced || legacy) stripAddressBar(url);
    if (report) {
      report();
      return null;
    }
    this.start();
    const pending = this.store.readPending();
    if (enhanced && this.config.mode === 'enhanced') {
      this.store.clearPending();
      if (!pending || pending.mode !== 'enhanced' || pending.state !== enhanced.state) throw new StateMismatchError();
      const refused = callbackError(enhanced);
      if (refused) throw refused;
      return this.signedIn(await exchangeCode(this.config, this.fetch, this.clock, pending, enhanced.code!));
    }
    if (legacy && this.config.mode === 'legacy') {
      this.store.clearPending();
      if (pending?.mode !== 'legacy' && !this.options.allowIdpInitiated) {
        throw new StateMismatchError(
          'A sign-in token arrived on the address bar, but this tab did not start a sign-in (IdP-initiated sign-in is off in this desktop).',
        );
      }
      return this.signedIn(acceptLegacyToken(legacy, this.config.accountSid, this.clock.now()));
    }
    return this.getSession();
  }

  /**
   * Starts a sign-in. Redirect mode leaves the page (resolves `null`; `handleCallback` finishes
   * it on return). Pop-up mode must be called from a click: it resolves to the session, or
   * rejects with `PopupBlockedError`, `PopupClosedError`, `StateMismatchError` or `ServerError`.
   */
  async signIn(options: SignInOptions = {}): Promise<Session | null> {
    if (options.popup ?? this.config.loginPopup) return this.signInWithPopup();
    this.start();
    if (this.config.mode === 'enhanced') {
      const { url, pending } = await beginEnhanced(this.config, this.clock);
      this.store.writePending(pending);
      window.location.assign(url);
    } else {
      this.store.writePending({ mode: 'legacy', state: '', nonce: '', verifier: '', startedAt: this.clock.now() });
      window.location.assign(this.config.idpUrl ?? (await authenticate(this.config, this.fetch)));
    }
    return null;
  }

  private async signInWithPopup(): Promise<Session> {
    // Synchronously, still inside the click: after an `await` the browser would block it.
    const popup = openPopup(this.config.loginPopupFeatures);
    this.start();
    try {
      if (this.config.mode === 'enhanced') return await this.enhancedPopup(this.config, popup);
      return await this.legacyPopup(this.config, popup);
    } finally {
      if (!popup.closed) popup.close();
    }
  }

  private async enhancedPopup(config: EnhancedConfig, popup: Window): Promise<Session> {
    const { url, pending } = await beginEnhanced(config, this.clock);
    const params = await this.waitForPopup(popup, url, { mode: 'enhanced', state: pending.state }, (data) =>
      (data as PopupMessage | null)?.type === 'lanyard:callback' ? (data as PopupMessage).params : undefined,
    );
    if (params.state !== pending.state) throw new StateMismatchError();
    const refused = callbackError(params);
    if (refused) throw refused;
    return this.signedIn(await exchangeCode(config, this.fetch, this.clock, pending, params.code!));
  }

  private async legacyPopup(config: LegacyConfig, popup: Window): Promise<Session> {
    const url = config.idpUrl ?? (await authenticate(config, this.fetch));
    const accept = (data: unknown) => {
      const message = data as { messageId?: unknown; tokenPayload?: LegacyTokenPayload } | null;
      return message?.messageId === LEGACY_POPUP_MESSAGE && typeof message.tokenPayload?.token === 'string' ? message.tokenPayload : undefined;
    };
    const payload = await this.waitForPopup(popup, url, { mode: 'legacy' }, accept);
    return this.signedIn(acceptLegacyToken(payload, config.accountSid, this.clock.now()));
  }

  /** Sends the pop-up to `url` and waits for its result (postMessage, or the handover channel). */
  private async waitForPopup<T>(
    popup: Window,
    url: string,
    pending: { mode: 'enhanced' | 'legacy'; state?: string },
    accept: (data: unknown) => T | undefined,
  ): Promise<T> {
    const handover = beginHandover(this.config.accountSid, pending, this.clock);
    try {
      popup.location.replace(url);
      return await waitForPopupResult(popup, {
        accept,
        handover,
        clock: this.clock,
        onOpenerCut: () =>
          this.warn({
            code: 'popup_opener_cut',
            message:
              'The sign-in window lost its link to this page (a page in it sends Cross-Origin-Opener-Policy): waiting for its result over a same-origin channel. Finish signing in in that window.',
          }),
      });
    } finally {
      handover.end();
    }
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
    if (this.config.mode === 'enhanced' && session?.refreshToken) {
      await revokeEnhanced(this.config, this.fetch, session.refreshToken).catch((error: unknown) =>
        this.emitter.emit('error', toLanyardError(error)),
      );
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

  private refreshWith(session: StoredSession): Promise<StoredSession> {
    return this.config.mode === 'enhanced'
      ? refreshEnhanced(this.config, this.fetch, this.clock, session)
      : refreshLegacy(this.config, this.fetch, this.clock, session);
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
