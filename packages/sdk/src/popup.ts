import type { Clock } from './clock.ts';
import { PopupBlockedError, PopupClosedError } from './errors.ts';
import type { PopupHandover } from './popup-handover.ts';

/**
 * The sign-in pop-up. The opener opens it synchronously (inside the click, or browsers block it)
 * and keeps every secret (state, PKCE verifier) in memory; the pop-up only carries the answer
 * back. Messages are origin-checked both ways: the pop-up posts to its own origin only, and the
 * opener accepts only messages from that pop-up window on its own origin. When a
 * Cross-Origin-Opener-Policy cuts that link, the result comes over popup-handover.ts instead.
 */

/** The pop-up's window name: how the page in it knows to report to its opener. */
export const POPUP_NAME = 'lanyard-login';

const DEFAULT_FEATURES = 'width=520,height=680,menubar=no,toolbar=no,location=yes,status=no';
// Often enough to see the IdP's page in the pop-up before an agent can close it.
const POLL_MS = 50;
const CLOSED_GRACE_MS = 500;
// How long a page of another origin must have been seen in the pop-up before a handle that reads
// `closed` counts as closed by the agent: polls and wall time both, so a stalled page (few polls,
// much time) and a slow browsing-context-group swap (several polls) are not taken for an agent.
const SEEN_POLLS = 5;
const SEEN_MS = 1000;
const DETACHED_TIMEOUT_MS = 10 * 60_000;

/** Opens an empty pop-up now, to be sent on its way once the sign-in URL is known. */
export function openPopup(features: string | undefined): Window {
  const popup = window.open('', POPUP_NAME, features ?? DEFAULT_FEATURES);
  // Some blockers hand back a window that is already closed.
  if (!popup || popup.closed) throw new PopupBlockedError();
  return popup;
}

export interface PopupWaitOptions<T> {
  /** The payload of a message this sign-in expects (from the pop-up window, or the handover channel). */
  accept: (data: unknown) => T | undefined;
  /** The same-origin channel the callback page uses when its opener was cut off. */
  handover: PopupHandover;
  clock: Clock;
  /** Called once when the pop-up's handle reads closed while the pop-up may still be open (see below). */
  onOpenerCut?: () => void;
  /** How long to wait for the handover after the opener was cut. Default 10 minutes (a sign-in's lifetime). */
  detachedTimeoutMs?: number;
  /** Stops the wait: it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Waits for the pop-up's result, from `postMessage` (the opener link is intact) or from the
 * handover channel (a Cross-Origin-Opener-Policy cut it). Rejects with `PopupClosedError`.
 *
 * When the handle reads `closed`, the two cases are told apart by what the pop-up showed before:
 * a page of another origin, seen on at least 5 consecutive polls spanning at least a second,
 * means the agent had a page in front of them and closed the window (`reason: 'closed'`, at
 * once). Otherwise the first page carrying Cross-Origin-Opener-Policy cut the link: Chromium shows
 * that page as another origin's for a poll or more (several on a loaded machine) before the handle
 * reads `closed`, so the wait goes on over the channel, up to `detachedTimeoutMs`
 * (`reason: 'opener_cut'`). Limitations: an agent who closes the window within a second of its
 * first page (about 5 s in a background tab, whose timers the browser slows to one a second)
 * waits on the channel (the desktop shows the `onOpenerCut` warning; "Sign in" starts over), and
 * an IdP whose first page has no COOP but a later one has is taken as closed.
 */
export function waitForPopupResult<T>(popup: Window, options: PopupWaitOptions<T>): Promise<T> {
  const { accept, handover, clock } = options;
  return new Promise<T>((resolve, reject) => {
    let timer: unknown;
    // Consecutive polls that found a page of another origin in the pop-up, and when the first and
    // the last of them ran.
    let otherOriginPolls = 0;
    let otherOriginFirstAt = 0;
    let otherOriginLastAt = 0;
    const { signal } = options;
    if (signal?.aborted) return reject(signal.reason);
    const stopHandover = handover.listen((data) => deliver(data));
    const onAbort = () => {
      finish();
      reject(signal!.reason);
    };
    const finish = () => {
      window.removeEventListener('message', onMessage);
      signal?.removeEventListener('abort', onAbort);
      stopHandover();
      clock.clearTimeout(timer);
    };
    const deliver = (data: unknown) => {
      const payload = accept(data);
      if (payload === undefined) return;
      finish();
      resolve(payload);
    };
    const onMessage = (event: MessageEvent) => {
      if (event.source === popup && event.origin === window.location.origin) deliver(event.data);
    };
    const poll = () => {
      if (!popup.closed) {
        try {
          void popup.location.href;
          otherOriginPolls = 0;
        } catch {
          otherOriginLastAt = clock.now();
          if (otherOriginPolls++ === 0) otherOriginFirstAt = otherOriginLastAt;
        }
        timer = clock.setTimeout(poll, POLL_MS);
        return;
      }
      if (otherOriginPolls >= SEEN_POLLS && otherOriginLastAt - otherOriginFirstAt >= SEEN_MS) {
        // One more round: a message posted just before closing is still in the queue.
        timer = clock.setTimeout(() => {
          finish();
          reject(new PopupClosedError('closed'));
        }, CLOSED_GRACE_MS);
        return;
      }
      options.onOpenerCut?.();
      timer = clock.setTimeout(() => {
        finish();
        reject(new PopupClosedError('opener_cut'));
      }, options.detachedTimeoutMs ?? DETACHED_TIMEOUT_MS);
    };
    window.addEventListener('message', onMessage);
    signal?.addEventListener('abort', onAbort);
    poll();
  });
}

/** In the pop-up: the opener to report to, when this page was opened by the SDK on this origin. */
export function popupOpener(): Window | null {
  if (window.name !== POPUP_NAME || !window.opener) return null;
  try {
    // Reading another origin's location throws: the opener must be this desktop.
    return (window.opener as Window).location.origin === window.location.origin ? (window.opener as Window) : null;
  } catch {
    return null;
  }
}

/** Posts to the opener, on this origin only, and closes the pop-up. */
export function reportToOpener(opener: Window, message: unknown): void {
  opener.postMessage(message, window.location.origin);
  window.close();
}
