/**
 * Typed errors of the SDK. Each carries a stable string `code` an application can switch on, and
 * a `message` written for the person who has to act on it (agent or administrator).
 */

/** One mistake in `appConfig`, named by its field (`sso.accountSid`, `oauth.redirectUrl`…). */
export interface ConfigProblem {
  /** The field's path in `appConfig`, e.g. `oauth.redirectUrl`. */
  field: string;
  /** What is wrong and what to change. */
  message: string;
}

/** The error body Lanyard answers with (SPEC "Error shape"). */
export interface ServerErrorBody {
  code: number;
  message: string;
  status: number;
  more_info?: string;
}

/** Base class: `instanceof LanyardError` catches every error the SDK raises. */
export class LanyardError extends Error {
  /** Stable and machine-readable: `config_invalid`, `popup_blocked`, `popup_closed`, `state_mismatch`, `server_error`, `session_expired`, `network_error` or `unexpected`; from `@lanyard/sdk/token-verifier`: `token_expired`, `token_invalid` or `keys_unavailable`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Wraps anything thrown in the background (a listener, a bug) so `error` listeners get a `LanyardError`. */
export function toLanyardError(error: unknown): LanyardError {
  return error instanceof LanyardError
    ? error
    : new LanyardError('unexpected', error instanceof Error ? error.message : String(error), { cause: error });
}

/** `appConfig` cannot be used; `problems` lists every mistake found, not only the first. */
export class ConfigError extends LanyardError {
  /** Every problem found, in `appConfig` order. */
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super('config_invalid', problems.map((p) => p.message).join('\n'));
    this.problems = problems;
  }
}

/** The browser refused to open the sign-in window. */
export class PopupBlockedError extends LanyardError {
  constructor() {
    super('popup_blocked', 'The sign-in window was blocked by the browser. Allow pop-ups for this site, or sign in without a pop-up.');
  }
}

/**
 * The sign-in window ended without a result. `reason` tells the two cases apart: `closed` (the
 * agent closed it) or `opener_cut` (a page in it sent Cross-Origin-Opener-Policy, so it lost its
 * link to the desktop, and it did not report back over the same-origin channel in time).
 */
export class PopupClosedError extends LanyardError {
  /** `closed` (the agent closed the window) or `opener_cut` (Cross-Origin-Opener-Policy, no result in time). */
  readonly reason: 'closed' | 'opener_cut';
  constructor(reason: 'closed' | 'opener_cut' = 'closed') {
    super(
      'popup_closed',
      reason === 'closed'
        ? 'The sign-in window was closed before sign-in finished. Press "Sign in" to try again.'
        : 'The sign-in window lost its link to this page (Cross-Origin-Opener-Policy) and did not finish signing in. Press "Sign in" to try again.',
    );
    this.reason = reason;
  }
}

/**
 * A sign-in result arrived that this page did not ask for (wrong or missing `state`): possibly a
 * forged link (login CSRF), or an old tab. Nothing was exchanged.
 */
export class StateMismatchError extends LanyardError {
  constructor(detail = 'The sign-in response does not match a sign-in started on this page (state mismatch).') {
    super('state_mismatch', `${detail} Nothing was signed in; start the sign-in again from this page.`);
  }
}

/** Lanyard answered with an error; `server` holds its `{code, message, status}`. */
export class ServerError extends LanyardError {
  /** Lanyard's error body as it answered it: its numeric `code` (SPEC error codes), `message` and HTTP `status`. */
  readonly server: ServerErrorBody;
  /** The HTTP status (`server.status`). */
  readonly status: number;
  constructor(server: ServerErrorBody) {
    super('server_error', `${server.message} (code ${server.code})`);
    this.server = server;
    this.status = server.status;
  }
}

/** The session has ended (end of shift, revoked, or its token ran out): sign in again. */
export class SessionExpiredError extends LanyardError {
  constructor(message = 'Your session has ended. Sign in again to continue.') {
    super('session_expired', message);
  }
}

/** Lanyard could not be reached (offline, DNS, CORS refused, TLS). */
export class NetworkError extends LanyardError {
  constructor(url: string, cause: unknown) {
    const server = `the sign-in server at ${new URL(url).origin}`;
    super(
      'network_error',
      (cause as Error)?.name === 'TimeoutError'
        ? `No answer from ${server} in time (requestTimeoutMs). Check the network connection and the proxies on the way; the SDK retries by itself.`
        : `Could not reach ${server}. Check the network connection; the SDK retries by itself.`,
      { cause },
    );
  }
}
