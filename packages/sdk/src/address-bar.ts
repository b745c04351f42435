import { CALLBACK_PARAMS } from './enhanced-sso.ts';
import { LEGACY_PARAMS } from './legacy-sso.ts';

/**
 * The page's own address after a sign-in comes back on it. A code, a state or (legacy SSO) a
 * token left there ends up in the history, in bookmarks and, through the Referer header, on
 * every site the page loads something from.
 */

/** Removes sign-in parameters from the address bar without reloading, keeping everything else. */
export function stripAddressBar(url: URL): void {
  for (const name of [...CALLBACK_PARAMS, ...LEGACY_PARAMS]) url.searchParams.delete(name);
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
}

/** True when the page declares `<meta name="referrer" content="no-referrer">`. */
export function hasNoReferrerMeta(): boolean {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="referrer" i]');
  return meta?.content.trim().toLowerCase() === 'no-referrer';
}
