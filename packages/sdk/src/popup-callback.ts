import type { Clock } from './clock.ts';
import { ENHANCED_POPUP_MESSAGE, readCallback } from './enhanced-sso.ts';
import { LEGACY_POPUP_MESSAGE, readLegacyCallback } from './legacy-sso.ts';
import { popupOpener, reportToOpener } from './popup.ts';
import { handoverFor } from './popup-handover.ts';

/** The callback page's side of a sign-in: what came back on its address, in either SSO mode. */

/** True when the address carries a sign-in result (enhanced `code`/`error` + `state`, or a legacy `Token`). */
export function hasSignInResult(url: URL): boolean {
  return readCallback(url) !== null || readLegacyCallback(url) !== null;
}

/**
 * On a sign-in pop-up's callback page: the function that hands the result to the desktop that
 * opened it, by `postMessage` to `window.opener`, or over the same-origin handover channel when
 * a Cross-Origin-Opener-Policy cut the opener off. `null` on any other page.
 */
export function popupReport(url: URL, accountSid: string, clock: Clock): (() => void) | null {
  const enhanced = readCallback(url);
  const legacy = readLegacyCallback(url);
  if (!enhanced && !legacy) return null;
  const message = enhanced ? { type: ENHANCED_POPUP_MESSAGE, params: enhanced } : { messageId: LEGACY_POPUP_MESSAGE, tokenPayload: legacy };
  const opener = popupOpener();
  if (opener) return () => reportToOpener(opener, message);
  const handover = handoverFor(accountSid, enhanced ? { mode: 'enhanced', state: enhanced.state ?? undefined } : { mode: 'legacy' }, clock.now());
  if (!handover) return null;
  return () => {
    handover(message);
    window.close();
  };
}
