import type { LanyardWarning } from './events.ts';
import type { PendingLogin, StoredSession } from './session-store.ts';

/**
 * One way of signing an agent in (SPEC): enhanced SSO (authorization code + PKCE S256, RFC 7636)
 * or legacy SSO (the token comes back on the page's address). `LanyardClient` picks one from
 * `appConfig` when it is created and drives it the same way by redirect or in a pop-up; `R` is
 * what a sign-in comes back with (the callback's parameters, or the legacy token payload).
 */
export interface SignInStrategy<R = unknown> {
  readonly mode: 'enhanced' | 'legacy';
  /** Problems with the page this mode depends on (legacy: a Referer header would leak the token). */
  readonly warnings: LanyardWarning[];
  /**
   * Starts a sign-in: hands `remember` what the result must match (state, nonce, PKCE verifier),
   * then resolves to the address to send the page or pop-up to. Rejects with `ServerError` or
   * `NetworkError` when Lanyard cannot be asked for it.
   */
  begin(remember: (pending: PendingLogin) => void): Promise<string>;
  /** This mode's sign-in result on a callback page's address, or `null`. */
  readCallback(url: URL): R | null;
  /** This mode's sign-in result in a message from the sign-in pop-up, or `undefined`. */
  readPopupMessage(data: unknown): R | undefined;
  /** The `state` a result carries (enhanced SSO; RFC 6749 §4.1.2), `undefined` in legacy SSO. */
  stateOf(result: R): string | undefined;
  /**
   * Checks `result` against the sign-in this tab started (`pending`; `null` when none) and turns
   * it into a session. Rejects with `StateMismatchError` (a result this tab did not ask for),
   * `ServerError` (refused, or the exchange failed) or `SessionExpiredError` (an old legacy link).
   */
  complete(result: R, pending: PendingLogin | null): Promise<StoredSession>;
  /** The session that follows `session` (enhanced: a `RefreshToken` grant; legacy: `…/Tokens/refresh`). */
  refresh(session: StoredSession): Promise<StoredSession>;
  /** Ends the session at the server too, best effort (enhanced: RFC 7009; legacy has no such endpoint). */
  revoke(refreshToken: string): Promise<void>;
}
