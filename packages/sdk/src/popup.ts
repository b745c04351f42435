import type { Clock } from './clock.ts';
import { PopupBlockedError, PopupClosedError } from './errors.ts';

/**
 * The sign-in pop-up. The opener opens it synchronously (inside the click, or browsers block it)
 * and keeps every secret (state, PKCE verifier) in memory; the pop-up only carries the answer
 * back. Messages are origin-checked both ways: the pop-up posts to its own origin only, and the
 * opener accepts only messages from that pop-up window on its own origin.
 */

/** The pop-up's window name: how the page in it knows to report to its opener. */
export const POPUP_NAME = 'lanyard-login';

const DEFAULT_FEATURES = 'width=520,height=680,menubar=no,toolbar=no,location=yes,status=no';
const CLOSED_POLL_MS = 500;

/** Opens an empty pop-up now, to be sent on its way once the sign-in URL is known. */
export function openPopup(features: string | undefined): Window {
  const popup = window.open('', POPUP_NAME, features ?? DEFAULT_FEATURES);
  // Some blockers hand back a window that is already closed.
  if (!popup || popup.closed) throw new PopupBlockedError();
  return popup;
}

/**
 * Waits for the pop-up's message. `accept` returns the payload for a message it recognises.
 * Rejects with `PopupClosedError` when the agent closes the pop-up first.
 */
export function waitForPopupMessage<T>(popup: Window, accept: (data: unknown) => T | undefined, clock: Clock): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: unknown;
    const finish = () => {
      window.removeEventListener('message', onMessage);
      clock.clearTimeout(timer);
    };
    const onMessage = (event: MessageEvent) => {
      if (event.source !== popup || event.origin !== window.location.origin) return;
      const payload = accept(event.data);
      if (payload === undefined) return;
      finish();
      resolve(payload);
    };
    const poll = (closedOnce: boolean) => {
      if (popup.closed) {
        // One more round: a message posted just before closing is still in the queue.
        if (closedOnce) {
          finish();
          reject(new PopupClosedError());
          return;
        }
        timer = clock.setTimeout(() => poll(true), CLOSED_POLL_MS);
        return;
      }
      timer = clock.setTimeout(() => poll(false), CLOSED_POLL_MS);
    };
    window.addEventListener('message', onMessage);
    poll(false);
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
